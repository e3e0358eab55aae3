// Writes TensorFlow Serving warmup files (assets.extra/tf_serving_warmup_requests)
// for a SavedModel's signature: PredictionLog records whose requests carry
// valid inputs, either generated or given as JSON.
#ifndef RECSHIP_EXPORT_WARMUP_WRITER_H_
#define RECSHIP_EXPORT_WARMUP_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

struct WarmupOptions {
  std::string signature = "serving_default";
  int count = 10;     // Records; at most 1000 (TensorFlow Serving's limit).
  int batch = 4;      // Rows per generated request.
  uint64_t seed = 1;  // For generated inputs.
  // A JSON file: a list of requests, each an object from input name to a
  // (nested) list of values; dtypes come from the signature. When set,
  // `count`, `batch` and `seed` are not used.
  std::string inputs_json;
};

// Generated inputs follow the signature: float inputs get normal values;
// int64 [-1] id inputs mix ids found in the SavedModel's tables with ids that
// are not there; inputs named <f>_indices, <f>_values and <f>_dense_shape form
// one well-formed SparseTensor bag per row (some bags empty).
absl::Status WriteWarmupFile(const std::string& saved_model_dir, const std::string& out,
                             const WarmupOptions& options);

// `count` requests for `signature` generated so, `batch` rows each, with
// ids drawn (80%) from `known_ids`.
absl::StatusOr<std::vector<tensorflow::serving::PredictRequest>> GenerateRequests(
    const tensorflow::SignatureDef& signature, std::vector<int64_t> known_ids, int count, int batch,
    uint64_t seed);

}  // namespace recship

#endif  // RECSHIP_EXPORT_WARMUP_WRITER_H_
