// Steps both exporters take (private to export/): finding the checkpoint,
// checking the warmup file, the signatures of a model_fn's graph, and
// turning one graph into a SavedModel version.
#ifndef RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_
#define RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/export/export_progress.h"
#include "recship/export/serving_graph.h"
#include "recship/export/variables_writer.h"
#include "recship/format/saved_model.h"
#include "recship/model/checkpoint.h"
#include "recship/model/estimator.h"

namespace recship::exporter {

// `checkpoint_path`, else the newest checkpoint of `model_dir`.
absl::StatusOr<std::string> ResolveCheckpoint(const std::string& model_dir,
                                              const std::string& checkpoint_path);

// OK when `warmup_file` is empty, or a readable warmup file TensorFlow
// Serving accepts.
absl::Status CheckWarmupFile(const std::string& warmup_file);

// serving_default from the predictions unless an export output replaces it,
// plus every export output; each must have outputs.
absl::StatusOr<std::vector<model::SignatureSpec>> MakeSignatures(
    const model::ServingInputReceiver& receiver, const model::EstimatorSpec& spec);

// allow_gpu keeps GPU device placements, else they move to the CPU;
// clear_devices empties every device field.
void ApplyDevicePolicy(tensorflow::GraphDef& graph, bool allow_gpu, bool clear_devices);

// One SavedModel version being written: its serve meta graph, the
// checkpoint tensors its variables/ holds and the warmup file it ships.
struct PendingVersion {
  std::string name;  // "entry", "ps_0", ... or "" for a standalone export.
  tensorflow::SavedModel saved_model;
  std::vector<std::string> tensor_names;
  std::string warmup_file;  // Shipped as assets.extra/ when not empty.
  std::unique_ptr<SavedModelWriter> writer;
  VariablesStats stats;
  double seconds = 0;  // Spent writing it.
};

// Remembers folders an export is about to create (those that do not exist
// yet) and, unless Keep() is called, removes the ones still empty when it
// goes out of scope: a failed export leaves the tree as it found it.
// Declare it before the PendingVersions, so that their staged folders are
// gone first.
class NewFoldersGuard {
 public:
  NewFoldersGuard() = default;
  NewFoldersGuard(const NewFoldersGuard&) = delete;
  NewFoldersGuard& operator=(const NewFoldersGuard&) = delete;
  ~NewFoldersGuard();

  // Call parents before children.
  void Watch(const std::string& path);
  void Keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

// The meta graph of `graph` restoring `plan`, with `signatures`.
absl::StatusOr<tensorflow::SavedModel> MakeSavedModel(
    graph::Graph& graph, const RestorePlan& plan,
    const std::vector<model::SignatureSpec>& signatures);

// Writes each version's variables/, saved_model.pb and warmup file into its
// staged folder, in order, committing none, and tells `progress` (when set)
// as it goes (export_progress.h). Stops at the first error or non-OK status
// of `progress`, and returns it.
absl::Status WriteVersions(std::vector<PendingVersion>& versions,
                           const model::CheckpointReader& checkpoint, bool shared_embedding,
                           const ExportProgressCallback& progress);

}  // namespace recship::exporter

#endif  // RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_
