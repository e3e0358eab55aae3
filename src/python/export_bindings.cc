// Export mode and the exporters (model_export's export_context and
// saved_model_exporters): the native half of recship.model_export. The
// Python classes there hold the documented signatures; these functions run
// an export with the GIL released, calling back into Python only for a
// Python model_fn, serving_input_receiver_fn or progress callback, and
// checking for Ctrl-C at each progress step.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/export/distributed_exporter.h"
#include "recship/export/standalone_exporter.h"
#include "recship/format/embedding_dtype.h"
#include "recship/model/export_context.h"
#include "src/python/bindings.h"
#include "src/python/callbacks.h"

namespace recship::python {
namespace {

using namespace nb::literals;

// Holds export mode until exit() (the `with` block of enter_export_mode).
struct ExportModeHandle {
  std::optional<ExportModeScope> scope;
  nb::object context;  // Keeps the ExportContext alive while in use.
  void Exit() {
    scope.reset();
    context = nb::none();
  }
};

nb::dict ProgressDict(const ExportProgress& p) {
  static const char* kEvents[] = {"started", "bytes", "finished", "rewriting_tables"};
  nb::dict d;
  d["event"] = kEvents[static_cast<int>(p.event)];
  d["sub_model"] = p.sub_model.name();
  d["sub_model_index"] = p.sub_model_index;
  d["num_sub_models"] = p.num_sub_models;
  d["sub_model_bytes"] = p.sub_model_bytes;
  d["sub_model_total_bytes"] = p.sub_model_total_bytes;
  d["bytes"] = p.bytes;
  d["total_bytes"] = p.total_bytes;
  return d;
}

// Calls the Python progress callback, if any, and stops the export on a
// pending signal (Ctrl-C raises KeyboardInterrupt there, as in Python code).
ExportProgressCallback ProgressHook(nb::handle progress, std::shared_ptr<PythonErrorSlot> slot) {
  std::shared_ptr<nb::object> callback;
  if (!progress.is_none()) callback = SharedObject(progress);
  return [callback, slot](const ExportProgress& p) -> absl::Status {
    nb::gil_scoped_acquire gil;
    try {
      if (callback) (*callback)(ProgressDict(p));
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
    } catch (nb::python_error& e) {
      return slot->Keep(e, "export");
    }
    return absl::OkStatus();
  };
}

void SetCommonOptions(const nb::dict& o, ExportOptions& out) {
  out.shared_embedding = Option<bool>(o, "shared_embedding").value_or(false);
  out.warmup_file = Option<std::string>(o, "warmup_file").value_or("");
  out.min_frequency = Option<int64_t>(o, "min_frequency");
  if (auto age = Option<double>(o, "max_age_seconds")) out.max_age = absl::Seconds(*age);
  if (auto dtype = Option<std::string>(o, "embedding_dtype")) {
    out.embedding_dtype = ValueOrThrow(ParseEmbeddingDtype(*dtype));
  }
}

DistributedExportOptions DistributedOptions(const nb::dict& o) {
  DistributedExportOptions out;
  SetCommonOptions(o, out);
  out.model_name = Option<std::string>(o, "model_name").value_or("");
  out.dense_only = Option<bool>(o, "dense_only").value_or(false);
  out.allow_gpu = Option<bool>(o, "allow_gpu").value_or(false);
  out.with_remote_gpu = Option<bool>(o, "with_remote_gpu").value_or(false);
  out.clear_entry_devices = Option<bool>(o, "clear_entry_devices").value_or(false);
  out.global_step_as_timestamp = Option<bool>(o, "global_step_as_timestamp").value_or(false);
  out.pin_versions = Option<bool>(o, "pin_versions").value_or(false);
  out.num_ps = Option<int>(o, "num_ps").value_or(0);
  for (const std::string& name :
       Option<std::vector<std::string>>(o, "include_graphs").value_or(std::vector<std::string>{})) {
    std::optional<SubModel> sub = SubModel::Parse(name);
    if (!sub || sub->is_standalone()) {
      ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
          "include_graphs: '", name, "' is no sub-model name (entry, ps_<i>, dense_<i>)")));
    }
    out.include_graphs.push_back(*sub);
  }
  return out;
}

nb::dict SummaryDict(const ExportSummary& summary) {
  nb::list paths;
  nb::list sub_models;
  for (const auto& sub : summary.sub_models) {
    paths.append(sub.path);
    nb::dict d;
    d["name"] = sub.sub_model.name();
    d["path"] = sub.path;
    d["tensor_bytes"] = sub.variables.tensor_bytes;
    d["copied_bytes"] = sub.variables.copied_bytes;
    d["seconds"] = sub.seconds;
    sub_models.append(d);
  }
  nb::dict d;
  d["paths"] = paths;
  d["sub_models"] = sub_models;
  d["checkpoint"] = summary.checkpoint;
  d["version"] = summary.version;
  d["seconds"] = summary.seconds;
  d["resharded_tables"] = nb::cast(summary.resharded_tables);
  d["embedding_dtype"] = std::string(EmbeddingDtypeName(summary.embedding_dtype));
  return d;
}

// Runs one exporter's ExportSavedModel with the GIL released; raises what a
// callback raised, else the export's error.
template <typename Exporter, typename Options>
nb::dict RunExport(nb::handle model_fn, const std::string& model_dir,
                   const std::string& export_dir_base, nb::handle receiver_fn,
                   std::optional<std::string> checkpoint_path, std::optional<int64_t> global_step,
                   Options options, nb::handle progress) {
  auto slot = std::make_shared<PythonErrorSlot>();
  options.progress = ProgressHook(progress, slot);
  ServingInputReceiverFn receiver = ToReceiverFn(receiver_fn, slot);
  absl::Status status;
  ExportSummary summary;
  {
    Exporter exporter(ToModelFn(model_fn, slot), model_dir, export_dir_base, std::move(options));
    nb::gil_scoped_release release;
    status =
        exporter.ExportSavedModel(receiver, checkpoint_path.value_or(""), global_step).status();
    summary = exporter.last_summary();
  }
  slot->RaiseIfAny();
  CheckOk(status);
  return SummaryDict(summary);
}

void BindExportMode(nb::module_& m) {
  nb::enum_<ExportMode>(m, "ExportMode", "How a model is being exported.")
      .value("STANDALONE", ExportMode::kStandalone, "One SavedModel for one machine.")
      .value("DISTRIBUTED", ExportMode::kDistributed,
             "An entry model plus one model per parameter-server shard.");
  nb::class_<ExportContext>(m, "ExportContext",
                            "The state of one export: the sub-graphs beside the main graph "
                            "(ps_0, ..., dense_0) and their signatures.")
      .def(nb::init<bool>(), "with_remote_gpu"_a = false)
      .def_prop_ro("with_remote_gpu", &ExportContext::with_remote_gpu)
      .def("sub_graph_names", &ExportContext::sub_graph_names,
           "The sub-graphs built so far: ps_0, ..., dense_0.");
  nb::class_<ExportModeHandle>(m, "_ExportModeHandle").def("exit", &ExportModeHandle::Exit);
  m.def(
      "_enter_export_mode",
      [](ExportMode mode, nb::handle ctx) {
        ExportContext* context = ctx.is_none() ? nullptr : nb::cast<ExportContext*>(ctx);
        ExportModeHandle handle;
        handle.scope.emplace(ValueOrThrow(EnterExportMode(mode, context)));
        handle.context = nb::borrow(ctx);
        return handle;
      },
      "mode"_a, "export_ctx"_a.none());
  m.def("is_exporting", &IsExporting, "Whether an export is in progress on this thread.");
  m.def("is_exporting_standalone", &IsExportingStandalone,
        "Whether a standalone model is being exported on this thread.");
  m.def("is_exporting_distributed", &IsExportingDistributed,
        "Whether a distributed model is being exported on this thread.");
  m.def("get_current_export_ctx", &GetCurrentExportContext, nb::rv_policy::reference,
        "The context of the export in progress on this thread, or None. Valid until that "
        "export ends.");
}

}  // namespace

void BindExport(nb::module_& m) {
  BindExportMode(m);
  m.def(
      "_export_standalone",
      [](nb::handle model_fn, const std::string& model_dir, const std::string& export_dir_base,
         nb::handle receiver_fn, std::optional<std::string> checkpoint_path,
         std::optional<int64_t> global_step, nb::dict options, nb::handle progress) {
        ExportOptions standalone;
        SetCommonOptions(options, standalone);
        return RunExport<StandaloneExporter>(model_fn, model_dir, export_dir_base, receiver_fn,
                                             checkpoint_path, global_step, std::move(standalone),
                                             progress);
      },
      "model_fn"_a, "model_dir"_a, "export_dir_base"_a, "serving_input_receiver_fn"_a,
      "checkpoint_path"_a.none(), "global_step"_a.none(), "options"_a, "progress"_a.none());
  m.def(
      "_export_distributed",
      [](nb::handle model_fn, const std::string& model_dir, const std::string& export_dir_base,
         nb::handle receiver_fn, std::optional<std::string> checkpoint_path,
         std::optional<int64_t> global_step, nb::dict options, nb::handle progress) {
        return RunExport<DistributedExporter>(model_fn, model_dir, export_dir_base, receiver_fn,
                                              checkpoint_path, global_step,
                                              DistributedOptions(options), progress);
      },
      "model_fn"_a, "model_dir"_a, "export_dir_base"_a, "serving_input_receiver_fn"_a,
      "checkpoint_path"_a.none(), "global_step"_a.none(), "options"_a, "progress"_a.none());
  BindDelta(m);
  BindZoo(m);
}

}  // namespace recship::python
