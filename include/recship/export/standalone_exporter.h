// StandaloneExporter (model_export's saved_model_exporters.StandaloneExporter):
// exports a trained model as one SavedModel for single-machine serving.
//
// ExportSavedModel builds the graph with model_fn in PREDICT mode inside
// standalone export mode, restores it from the checkpoint (the newest in
// model_dir unless one is named), and writes <export_dir_base>/<version>/
// through temp-<version> and a rename: every version folder is complete or
// absent. The version is `global_step` when given, else the current Unix
// time in seconds (ExportOptions::clock); an existing version is never
// overwritten.
#ifndef RECSHIP_EXPORT_STANDALONE_EXPORTER_H_
#define RECSHIP_EXPORT_STANDALONE_EXPORTER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "recship/export/export_options.h"
#include "recship/model/estimator.h"

namespace recship {

class StandaloneExporter {
 public:
  StandaloneExporter(ModelFn model_fn, std::string model_dir, std::string export_dir_base,
                     ExportOptions options = {});

  // Returns the final path of the version written.
  absl::StatusOr<std::string> ExportSavedModel(
      const ServingInputReceiverFn& serving_input_receiver_fn,
      const std::string& checkpoint_path = {}, std::optional<int64_t> global_step = {});

  // What the last successful export wrote: one sub-model, standalone.
  const ExportSummary& last_summary() const { return summary_; }

 private:
  ModelFn model_fn_;
  std::string model_dir_;
  std::string export_dir_base_;
  ExportOptions options_;
  ExportSummary summary_;
};

}  // namespace recship

#endif  // RECSHIP_EXPORT_STANDALONE_EXPORTER_H_
