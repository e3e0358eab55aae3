// Steps both exporters take (private to export/): finding the checkpoint,
// checking the warmup file, building model_fn's graph in export mode,
// turning one graph into a SavedModel version, and writing and committing
// the versions.
#ifndef RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_
#define RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/export/export_options.h"
#include "recship/export/serving_graph.h"
#include "recship/export/variables_writer.h"
#include "recship/format/saved_model.h"
#include "recship/model/checkpoint.h"
#include "recship/model/estimator.h"
#include "recship/model/export_context.h"

namespace recship {

// `checkpoint_path`, else the newest checkpoint of `model_dir`.
absl::StatusOr<std::string> ResolveCheckpoint(const std::string& model_dir,
                                              const std::string& checkpoint_path);

// OK when `warmup_file` is empty, or a readable warmup file TensorFlow
// Serving accepts.
absl::Status CheckWarmupFile(const std::string& warmup_file);

// The graph model_fn builds in PREDICT mode, inside export mode `mode` with
// `context`, and its signatures: serving_default from the predictions unless
// an export output replaces it, plus every export output; each must have
// outputs.
struct ExportGraph {
  std::unique_ptr<Graph> graph;
  std::vector<SignatureSpec> signatures;
};
absl::StatusOr<ExportGraph> BuildExportGraph(ExportMode mode, ExportContext& context,
                                             const ModelFn& model_fn,
                                             const ServingInputReceiverFn& receiver_fn,
                                             const std::string& model_dir);

// allow_gpu keeps GPU device placements, else they move to the CPU;
// clear_devices empties every device field.
void ApplyDevicePolicy(tensorflow::GraphDef& graph, bool allow_gpu, bool clear_devices);

// One SavedModel version being written: its serve meta graph, the
// checkpoint tensors its variables/ holds and the warmup file it ships.
struct PendingVersion {
  SubModel sub_model = SubModel::Standalone();
  tensorflow::SavedModel saved_model;
  std::vector<std::string> tensor_names;
  // Each gets an index file (table_index_file.h) in assets.extra/.
  std::vector<RestorePlan::Table> tables;
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
absl::StatusOr<tensorflow::SavedModel> MakeSavedModel(Graph& graph, const RestorePlan& plan,
                                                      const std::vector<SignatureSpec>& signatures);

// Writes each version's variables/, saved_model.pb and warmup file into its
// staged folder, in order, committing none, and tells options.progress
// (when set) as it goes (export_progress.h). Stops at the first error or
// non-OK status of the callback, and returns it. A checkpoint the export
// wrote itself (re-sharded) is shared without re-reading it.
absl::Status WriteVersions(std::vector<PendingVersion>& versions,
                           const CheckpointReader& checkpoint, const ExportOptions& options,
                           bool checkpoint_written_by_export = false);

// Hands the staged versions to options.before_publish, if any, then
// publishes them, in order, and says what was written
// (ExportSummary::seconds is left for the caller).
absl::StatusOr<ExportSummary> CommitVersions(std::vector<PendingVersion>& versions,
                                             const std::string& checkpoint, int64_t version,
                                             const ExportOptions& options);

}  // namespace recship

#endif  // RECSHIP_SRC_EXPORT_EXPORT_STEPS_H_
