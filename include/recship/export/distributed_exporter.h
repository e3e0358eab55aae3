// DistributedExporter (model_export's saved_model_exporters.DistributedExporter):
// exports a trained model for distributed serving as an entry model plus one
// model per parameter-server shard (contract 2 of DESIGN.md):
//
//   <export_dir_base>/entry/<v>/   the dense network; calls the shards
//   <export_dir_base>/ps_<i>/<v>/  shard i of every table
//   <export_dir_base>/dense_0/<v>/ with with_remote_gpu: the dense network
//
// All sub-models of one export share <v>. Each version folder is built under
// temp-<v> and renamed into place; the shards are published before the
// entry, so an entry version never calls shards that are not there yet. If
// any sub-model fails before publishing, none is published.
#ifndef RECSHIP_EXPORT_DISTRIBUTED_EXPORTER_H_
#define RECSHIP_EXPORT_DISTRIBUTED_EXPORTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/export/export_options.h"
#include "recship/model/estimator.h"

namespace recship {

struct DistributedExportOptions : ExportOptions {
  // The name the entry calls the shards by: "<model_name>:ps_<i>". Required.
  std::string model_name;
  // Write only the entry: a cheap refresh of the dense network.
  bool dense_only = false;
  // Keep GPU device placements; otherwise they are pinned to CPU.
  bool allow_gpu = false;
  // Move the dense network into dense_0: its variables frozen into
  // constants, its nodes on /device:GPU:0, called by the entry through the
  // remote-predict op (signature gpu_remote_call).
  bool with_remote_gpu = false;
  // Clear every device field of the entry graph.
  bool clear_entry_devices = false;
  // Write only these sub-models (entry, ps_3, ...); empty means all.
  std::vector<SubModel> include_graphs;
  // Name the version after the global step (given, else the checkpoint's
  // global_step tensor) rather than the time, so that processes exporting
  // different sub-models in parallel agree on it.
  bool global_step_as_timestamp = false;
  // The entry asks its shards (and dense_0) for this export's version
  // instead of whatever version they serve: entry and shards then change
  // together, at the cost of the entry failing until its shards load it.
  bool pin_versions = false;
  // Serve every table on this many ps_<i> (0: each table's num_shards).
  // Rows go to ps_<floor_mod(id, num_ps)>, whatever checkpoint shard holds
  // them; a checkpoint whose shards are not already those is re-sharded into
  // a staged folder under the export base first, and the export shares its
  // files (ExportSummary::resharded_tables names the tables).
  int num_ps = 0;
};

class DistributedExporter {
 public:
  DistributedExporter(ModelFn model_fn, std::string model_dir, std::string export_dir_base,
                      DistributedExportOptions options);

  // Returns the paths written, shards first and the entry last. The version
  // is the global step when global_step_as_timestamp is set (or when one is
  // given), else the current Unix time (ExportOptions::clock).
  absl::StatusOr<std::vector<std::string>> ExportSavedModel(
      const ServingInputReceiverFn& serving_input_receiver_fn,
      const std::string& checkpoint_path = {}, std::optional<int64_t> global_step = {});

  // What the last successful export wrote, in publishing order.
  const ExportSummary& last_summary() const { return summary_; }

 private:
  ModelFn model_fn_;
  std::string model_dir_;
  std::string export_dir_base_;
  DistributedExportOptions options_;
  ExportSummary summary_;
};

}  // namespace recship

#endif  // RECSHIP_EXPORT_DISTRIBUTED_EXPORTER_H_
