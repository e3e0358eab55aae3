// The training checkpoint of DESIGN.md's contract 1, for trainers, tests and
// `recship synth`: dense variables by name, embedding table <t> as shards
// <t>/shard_<i>-keys (int64 [N]) and -values (float [N, dim]) with optional
// -freqs, -timestamps and -slot-<name>, global_step, and the `checkpoint`
// state file.
#ifndef RECSHIP_MODEL_CHECKPOINT_H_
#define RECSHIP_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/tensor_bundle.h"

namespace recship {

inline constexpr char kGlobalStepName[] = "global_step";

// "<table>/shard_<shard>-<part>", part being keys, values, freqs, timestamps
// or slot-<name>.
std::string TableShardTensorName(absl::string_view table, int shard, absl::string_view part);

// The prefix of step `step` in `model_dir`: <model_dir>/model.ckpt-<step>.
std::string CheckpointPrefix(const std::string& model_dir, int64_t step);

// Writes one checkpoint step. Finish() writes global_step, completes the
// bundle, then points the state file at it, keeping earlier steps listed.
class CheckpointWriter {
 public:
  struct Options {
    int num_data_shards = 1;
  };
  struct TableShard {
    Tensor keys;    // int64 [N]
    Tensor values;  // float [N, dim]
    std::optional<Tensor> freqs;
    std::optional<Tensor> timestamps;
    std::map<std::string, Tensor> slots;  // name -> float [N, k]
  };

  static absl::StatusOr<std::unique_ptr<CheckpointWriter>> Create(const std::string& model_dir,
                                                                  int64_t step, Options options);
  static absl::StatusOr<std::unique_ptr<CheckpointWriter>> Create(const std::string& model_dir,
                                                                  int64_t step) {
    return Create(model_dir, step, Options{});
  }

  absl::Status AddDense(absl::string_view name, const Tensor& value, int data_shard = 0);
  // Checks that keys and values agree in length and types.
  absl::Status AddTableShard(absl::string_view table, int shard, const TableShard& data,
                             int data_shard = 0);
  // For streaming large tables: write TableShardTensorName tensors directly.
  BundleWriter& bundle() { return *bundle_; }

  // Returns the checkpoint prefix.
  absl::StatusOr<std::string> Finish();

 private:
  CheckpointWriter(std::string model_dir, int64_t step, std::unique_ptr<BundleWriter> bundle)
      : model_dir_(std::move(model_dir)), step_(step), bundle_(std::move(bundle)) {}

  std::string model_dir_;
  int64_t step_;
  std::unique_ptr<BundleWriter> bundle_;
};

// What a contract-1 checkpoint holds: its tables (name -> shard ids present)
// and global step, over a BundleReader for the tensors.
class CheckpointReader {
 public:
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& prefix);

  const BundleReader& bundle() const { return *bundle_; }
  const std::string& prefix() const { return bundle_->prefix(); }
  std::optional<int64_t> global_step() const { return global_step_; }
  // Table name -> sorted shard ids that have both keys and values.
  const std::map<std::string, std::vector<int>>& tables() const { return tables_; }
  // The `-timestamps` of `shards` of `table` (int64, one per key; mapped and
  // checked), or nullopt when any of those shards has none. Errors name a
  // timestamps tensor that does not match its keys.
  absl::StatusOr<std::optional<std::vector<Tensor>>> TableTimestamps(
      const std::string& table, const std::vector<int>& shards) const;

 private:
  explicit CheckpointReader(std::unique_ptr<BundleReader> bundle) : bundle_(std::move(bundle)) {}

  std::unique_ptr<BundleReader> bundle_;
  std::optional<int64_t> global_step_;
  std::map<std::string, std::vector<int>> tables_;
};

}  // namespace recship

#endif  // RECSHIP_MODEL_CHECKPOINT_H_
