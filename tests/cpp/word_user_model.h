// A small hand-written model for export tests: a dense-matrix embedding of
// "word" (10 x 3, words/embeddings), a hash-table embedding of "user" (table
// "users", dim 3, 2 shards), concatenated into a sigmoid dense layer "out"
// (out/kernel [6, 1], out/bias [1]) predicting "score". Inputs: "word" and
// "user", int64 [-1]. Definitions are in word_user_model.cc.
#ifndef RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_
#define RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/graph/graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/estimator.h"

namespace recship::testing {

absl::StatusOr<EstimatorSpec> WordUserModel(const Features& features, Mode, const RunConfig&);

absl::StatusOr<ServingInputReceiver> WordUserInputs(const Scope& s);

// A table shard of `keys` with dim-`dim` rows 0, 0.5, 1, ... and a zero
// Adagrad slot and freqs (which no export keeps).
CheckpointWriter::TableShard WordUserShard(std::vector<int64_t> keys, int64_t dim);

// A checkpoint of the model at step 5 in `dir`: zero embeddings and weights
// (out/kernel [out_rows, 1]) and users shards 0 {0, 2, -4} and 1 {1, -1}.
absl::Status WriteWordUserCheckpoint(const std::string& dir, int64_t out_rows = 6);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_
