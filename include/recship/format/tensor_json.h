// Tensors as JSON: nested lists of numbers (or strings), the form
// `recship warmup --inputs` and `recship predict` read and print, as
// TensorFlow Serving's REST API writes tensors in its "row" format.
#ifndef RECSHIP_FORMAT_TENSOR_JSON_H_
#define RECSHIP_FORMAT_TENSOR_JSON_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "recship/format/tensor.h"

namespace recship {

// A nested list (or a scalar) of `dtype` values, by TensorFlow Serving's
// rules (its util/json_tensor.cc): the shape is the first elements' at each
// level (at most 32), an integer for a float must be exact, a fraction is
// not an integer, a string may be {"b64": ...}. Ragged nesting or a value of
// the wrong kind is InvalidArgument with TensorFlow Serving's message; a
// dtype JSON cannot carry is Unimplemented.
absl::StatusOr<Tensor> TensorFromJson(const nlohmann::json& value, DataType dtype);

// True for the dtypes JSON carries: float, double, int64, int32, int16,
// int8, uint8, bool and string.
bool HasJsonForm(DataType dtype);

// True for {"b64": "<string>"}, TensorFlow Serving's form of bytes.
bool IsBase64Json(const nlohmann::json& value);

// The nested list of a tensor's values (a plain value for a scalar).
// Unimplemented for dtypes without a JSON form (half, complex, ...).
absl::StatusOr<nlohmann::json> TensorToJson(const Tensor& tensor);

}  // namespace recship

#endif  // RECSHIP_FORMAT_TENSOR_JSON_H_
