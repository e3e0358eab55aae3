// Merging Predict requests into one and splitting its response back, for
// request batching: inputs are stacked along their first dimension, and a
// bag (<f>_indices, <f>_values, <f>_dense_shape, a SparseTensor) is merged as
// one: its indices' rows offset by the rows before it, its values appended,
// its dense_shape the sum of the rows and the widest width.
#ifndef RECSHIP_SRC_SERVING_BATCH_MERGE_H_
#define RECSHIP_SRC_SERVING_BATCH_MERGE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

// The rows of `request` when it can be batched: every input has a first
// dimension of that many rows, or belongs to a bag whose dense_shape[0] is
// that many. nullopt otherwise (a scalar input, inputs that disagree, a
// tensor that does not parse): such a request runs alone.
std::optional<int64_t> BatchRows(const tensorflow::serving::PredictRequest& request);

// One request holding the inputs of `requests` (same model spec, inputs
// and output filter, each with BatchRows) stacked in order.
absl::StatusOr<tensorflow::serving::PredictRequest> MergeRequests(
    const std::vector<const tensorflow::serving::PredictRequest*>& requests);

// Splits each output of `merged` into consecutive row ranges of `rows`,
// one per response. FailedPrecondition when an output's first dimension is
// not the sum of `rows` (such a model cannot be batched).
absl::Status SplitResponse(const tensorflow::serving::PredictResponse& merged,
                           const std::vector<int64_t>& rows,
                           const std::vector<tensorflow::serving::PredictResponse*>& responses);

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_BATCH_MERGE_H_
