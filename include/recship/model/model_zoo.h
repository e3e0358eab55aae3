// The built-in architectures: a ModelSpec becomes a model_fn and a
// serving_input_receiver_fn, the same pair a hand-written model gives the
// exporters. Variables are named per architecture (README, "Model specs"),
// so a trainer writing those names produces a checkpoint that exports.
#ifndef RECSHIP_MODEL_MODEL_ZOO_H_
#define RECSHIP_MODEL_MODEL_ZOO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/model/estimator.h"
#include "recship/model/spec.h"

namespace recship {

// Serving inputs: `<name>` for id (int64 [batch]) and dense (float
// [batch, dim]) features; `<name>_indices`, `<name>_values` and
// `<name>_dense_shape` for id bags (a SparseTensor).
ServingInputReceiverFn MakeServingInputReceiverFn(const ModelSpec& spec);

// Outputs: "prediction" for single-task architectures, one per task
// (named after it) for shared_bottom and mmoe.
ModelFn MakeModelFn(const ModelSpec& spec);

// The dense variables the model reads from a checkpoint (names and shapes,
// in build order), found by building the model.
absl::StatusOr<std::vector<std::pair<std::string, TensorShape>>> DenseVariables(
    const ModelSpec& spec);

}  // namespace recship

#endif  // RECSHIP_MODEL_MODEL_ZOO_H_
