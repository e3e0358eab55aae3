#include "recship/export/standalone_exporter.h"

#include <chrono>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/export/serving_graph.h"
#include "recship/format/checkpoint_state.h"
#include "recship/format/saved_model.h"
#include "recship/format/warmup.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"

namespace recship::exporter {
namespace {

// serving_default from the predictions unless an export output replaces it.
std::vector<model::SignatureSpec> Signatures(const model::ServingInputReceiver& receiver,
                                             const model::EstimatorSpec& spec) {
  std::vector<model::SignatureSpec> signatures;
  if (!spec.export_outputs.contains(kDefaultServingSignatureKey)) {
    signatures.push_back(
        {kDefaultServingSignatureKey, receiver.receiver_tensors, spec.predictions});
  }
  for (const auto& [name, output] : spec.export_outputs) {
    signatures.push_back({name, receiver.receiver_tensors, output.outputs});
  }
  return signatures;
}

absl::Status CheckSignatures(const std::vector<model::SignatureSpec>& signatures) {
  for (const auto& signature : signatures) {
    if (signature.outputs.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("signature ", signature.name,
                                                     " has no outputs: the model_fn returned no "
                                                     "predictions"));
    }
    for (const auto& [key, output] : signature.outputs) {
      if (!output.valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat("signature ", signature.name, ": output '", key, "' is not a tensor"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

StandaloneExporter::StandaloneExporter(model::ModelFn model_fn, std::string model_dir,
                                       std::string export_dir_base, bool shared_embedding,
                                       std::string warmup_file)
    : model_fn_(std::move(model_fn)),
      model_dir_(std::move(model_dir)),
      export_dir_base_(std::move(export_dir_base)),
      shared_embedding_(shared_embedding),
      warmup_file_(std::move(warmup_file)) {}

absl::StatusOr<std::string> StandaloneExporter::ExportSavedModel(
    const model::ServingInputReceiverFn& serving_input_receiver_fn,
    const std::string& checkpoint_path, std::optional<int64_t> global_step) {
  auto start = std::chrono::steady_clock::now();
  std::string checkpoint = checkpoint_path;
  if (checkpoint.empty()) {
    auto latest = LatestCheckpoint(model_dir_);
    if (!latest.ok()) {
      return absl::NotFoundError(
          absl::StrCat("no checkpoint to export in ", model_dir_, ": ", latest.status().message()));
    }
    checkpoint = *latest;
  }
  ASSIGN_OR_RETURN(auto reader, model::CheckpointReader::Open(checkpoint));
  if (!warmup_file_.empty()) {
    ASSIGN_OR_RETURN(WarmupSummary warmup, ReadWarmupSummary(warmup_file_));
    if (warmup.records > kMaxWarmupRecords) {
      return absl::InvalidArgumentError(absl::StrCat(
          warmup_file_, " holds ", warmup.records, " records; TensorFlow Serving accepts at most ",
          kMaxWarmupRecords));
    }
  }

  graph::Graph graph;
  model::ExportContext context;
  std::vector<model::SignatureSpec> signatures;
  {
    ASSIGN_OR_RETURN(model::ExportModeScope mode,
                     model::EnterExportMode(model::ExportMode::kStandalone, &context));
    ASSIGN_OR_RETURN(model::ServingInputReceiver receiver,
                     serving_input_receiver_fn(graph::Scope(&graph)));
    ASSIGN_OR_RETURN(model::EstimatorSpec spec,
                     model_fn_(receiver.features, model::Mode::kPredict, {model_dir_}));
    RETURN_IF_ERROR(graph.status());
    signatures = Signatures(receiver, spec);
  }
  RETURN_IF_ERROR(CheckSignatures(signatures));
  ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(graph.def(), *reader));
  ASSIGN_OR_RETURN(tensorflow::SaverDef saver, AddSaverOps(graph, plan));
  ASSIGN_OR_RETURN(tensorflow::MetaGraphDef meta_graph,
                   MakeServeMetaGraph(graph, &saver, signatures));
  tensorflow::SavedModel saved_model;
  saved_model.set_saved_model_schema_version(1);
  *saved_model.add_meta_graphs() = std::move(meta_graph);

  int64_t version = global_step.value_or(static_cast<int64_t>(std::time(nullptr)));
  ASSIGN_OR_RETURN(SavedModelWriter writer, SavedModelWriter::Begin(export_dir_base_, version));
  ASSIGN_OR_RETURN(VariablesStats stats,
                   WriteVariables(reader->bundle(), plan.TensorNames(), writer.variables_prefix(),
                                  shared_embedding_));
  RETURN_IF_ERROR(writer.WriteSavedModel(saved_model));
  if (!warmup_file_.empty()) RETURN_IF_ERROR(writer.CopyExtraAsset(kWarmupFilename, warmup_file_));
  ASSIGN_OR_RETURN(std::string path, writer.Commit());

  summary_ = ExportSummary{
      path, checkpoint, version, stats,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  return path;
}

}  // namespace recship::exporter
