// Synthetic training checkpoints for a ModelSpec, for demos, tests and
// benchmarks (`recship synth`): contract-1 layout with table shards holding
// keys, values, Adagrad slots, freqs and timestamps, and dense variables
// drawn so that predictions vary with the inputs. Tables are streamed in
// chunks, so memory stays bounded whatever the number of ids.
#ifndef RECSHIP_MODEL_SYNTHETIC_H_
#define RECSHIP_MODEL_SYNTHETIC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "recship/model/spec.h"

namespace recship {

struct SyntheticOptions {
  int64_t ids_per_table = 1000;
  // Shards written per table; 0 uses each table's num_shards. A distributed
  // export needs the spec's count.
  int num_ps = 0;
  int steps = 2;  // Checkpoints written: steps 1..steps (the last is the newest).
  // Writes steps first_step..steps only (earlier ones are already there).
  int first_step = 1;
  uint64_t seed = 1;
  // Above 0 (and below 1), steps after the first change only this fraction
  // of each table's rows, as a trainer between two checkpoints does: a row
  // keeps the value of the last step that changed it, dense variables and
  // the other rows stay as in step 1. At 0, every step draws new values.
  double changed_fraction = 0;
};

// Shard s of a table with n shards holds the ids k * n + s for k = 0, 1, ...,
// with every other one negated (-(k * n) + s, still on shard s by
// floor-mod), so negative ids and id 0 are always present. Returns the newest prefix.
absl::StatusOr<std::string> WriteSyntheticCheckpoints(const ModelSpec& spec,
                                                      const std::string& model_dir,
                                                      const SyntheticOptions& options);

}  // namespace recship

#endif  // RECSHIP_MODEL_SYNTHETIC_H_
