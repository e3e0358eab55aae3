// A tiny SavedModel for serving tests, written without TensorFlow:
// serving_default answers y = x + <version>, so a test can tell versions
// apart; "bags" takes a SparseTensor bag as bag_indices, bag_values and
// bag_dense_shape plus a dense input, and returns the values and the dense
// input. Also requests for it and warmup files.
#ifndef RECSHIP_TESTS_CPP_TINY_MODEL_H_
#define RECSHIP_TESTS_CPP_TINY_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship::testing {

tensorflow::MetaGraphDef TinyMeta(float offset);

// Writes <base>/<version>/ holding TinyMeta(version); returns its path.
absl::StatusOr<std::string> WriteTinyVersion(const std::string& base, int64_t version);

// A float tensor's values; empty for another dtype.
std::vector<float> Floats(const Tensor& t);
Tensor FloatVector(const std::vector<float>& values);

// A Predict of model "m", serving_default, with input x.
tensorflow::serving::PredictRequest XRequest(const std::vector<float>& x);

// A "bags" request: `entries` ids spread over `rows` rows, and `dense_rows`
// dense values.
tensorflow::serving::PredictRequest BagRequest(int64_t rows, int64_t entries, int64_t dense_rows);

// <version_dir>/assets.extra/tf_serving_warmup_requests.
std::string WarmupPath(const std::string& version_dir);

// Writes `records` as the version's warmup file.
absl::Status WriteWarmup(const std::string& version_dir, const std::vector<std::string>& records);

// A serialized PredictionLog holding `request`.
std::string PredictRecord(const tensorflow::serving::PredictRequest& request);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_TINY_MODEL_H_
