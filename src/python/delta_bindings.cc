// Delta exports (export/delta_exporter.h) for recship.model_export's
// export_delta: the rows of a newer checkpoint that differ from what a
// served version serves, written with the GIL released.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>

#include "recship/export/delta_exporter.h"
#include "src/python/bindings.h"

namespace recship::python {
namespace {

using namespace nb::literals;

// Writes the deltas of a checkpoint against a served version, GIL released.
nb::dict ExportDeltaFromPython(const std::string& model_dir,
                               std::optional<std::string> checkpoint_path,
                               const std::string& export_dir_base,
                               std::optional<int64_t> base_version,
                               std::optional<int64_t> since_time) {
  DeltaExportOptions options;
  options.base_version = base_version.value_or(0);
  options.since_time = since_time;
  absl::StatusOr<DeltaSummary> summary;
  {
    nb::gil_scoped_release release;
    summary = ExportDelta(model_dir, checkpoint_path.value_or(""), export_dir_base, options);
  }
  DeltaSummary written = ValueOrThrow(std::move(summary));
  nb::list deltas;
  for (const DeltaSummary::Written& delta : written.deltas) {
    nb::dict rows;
    for (const auto& [table, counts] : delta.manifest.tables) {
      rows[table.c_str()] = nb::make_tuple(counts.rows, counts.deleted);
    }
    nb::dict d;
    d["path"] = delta.path;
    d["sequence"] = delta.manifest.sequence;
    d["tables"] = rows;
    deltas.append(d);
  }
  nb::dict d;
  d["checkpoint"] = written.checkpoint;
  d["base_version"] = written.base_version;
  d["deltas"] = deltas;
  d["seconds"] = written.seconds;
  return d;
}

}  // namespace

void BindDelta(nb::module_& m) {
  m.def("_export_delta", &ExportDeltaFromPython, "model_dir"_a, "checkpoint_path"_a.none(),
        "export_dir_base"_a, "base_version"_a.none(), "since_time"_a.none());
}

}  // namespace recship::python
