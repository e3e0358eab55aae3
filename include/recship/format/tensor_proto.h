// Conversion between Tensor and TensorProto (graph constants, PredictRequest
// inputs and PredictResponse outputs).
#ifndef RECSHIP_FORMAT_TENSOR_PROTO_H_
#define RECSHIP_FORMAT_TENSOR_PROTO_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/tensor.pb.h"

namespace recship {

// Numeric tensors go to tensor_content, strings to string_val.
tensorflow::TensorProto TensorToProto(const Tensor& tensor);

// Accepts tensor_content or the typed *_val fields. As in TensorFlow, fewer
// typed values than elements repeat the last value, and extra ones are ignored. A tensor over
// `max_bytes` (element bytes, or total string bytes) is an error before any allocation.
absl::StatusOr<Tensor> TensorFromProto(const tensorflow::TensorProto& proto,
                                       uint64_t max_bytes = uint64_t{1} << 32);

}  // namespace recship

#endif  // RECSHIP_FORMAT_TENSOR_PROTO_H_
