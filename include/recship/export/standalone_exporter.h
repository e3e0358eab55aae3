// StandaloneExporter (the seed's saved_model_exporters.StandaloneExporter):
// exports a trained model as one SavedModel for single-machine serving.
//
// ExportSavedModel builds the graph with model_fn in PREDICT mode inside
// standalone export mode, restores it from the checkpoint (the newest in
// model_dir unless one is named), and writes <export_dir_base>/<version>/
// through temp-<version> and a rename: every version folder is complete or
// absent. The version is `global_step` when given, else the current Unix
// time in seconds; an existing version is never overwritten.
#ifndef RECSHIP_EXPORT_STANDALONE_EXPORTER_H_
#define RECSHIP_EXPORT_STANDALONE_EXPORTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "recship/export/export_progress.h"
#include "recship/export/variables_writer.h"
#include "recship/model/estimator.h"

namespace recship::exporter {

// What the last export wrote.
struct ExportSummary {
  std::string path;
  std::string checkpoint;
  int64_t version = 0;
  VariablesStats variables;
  double seconds = 0;
};

class StandaloneExporter {
 public:
  // shared_embedding: share the checkpoint's data files instead of copying
  // (see variables_writer.h). warmup_file: a TensorFlow Serving warmup file
  // copied to assets.extra/tf_serving_warmup_requests after it is checked.
  StandaloneExporter(model::ModelFn model_fn, std::string model_dir, std::string export_dir_base,
                     bool shared_embedding = false, std::string warmup_file = {});

  // Called as the export goes (export_progress.h); a non-OK status stops it
  // and nothing is published.
  void set_progress_callback(ExportProgressCallback progress) { progress_ = std::move(progress); }

  // Returns the final path of the version written.
  absl::StatusOr<std::string> ExportSavedModel(
      const model::ServingInputReceiverFn& serving_input_receiver_fn,
      const std::string& checkpoint_path = {}, std::optional<int64_t> global_step = {});

  const ExportSummary& last_summary() const { return summary_; }

 private:
  model::ModelFn model_fn_;
  std::string model_dir_;
  std::string export_dir_base_;
  bool shared_embedding_;
  std::string warmup_file_;
  ExportProgressCallback progress_;
  ExportSummary summary_;
};

}  // namespace recship::exporter

#endif  // RECSHIP_EXPORT_STANDALONE_EXPORTER_H_
