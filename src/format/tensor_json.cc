#include "recship/format/tensor_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

using json = nlohmann::json;

// More dimensions than any model's input has; bounds the recursion.
constexpr size_t kMaxRank = 32;

// A value for messages, never the whole of a large or deep one.
std::string Describe(const json& value) {
  if (value.is_object()) return "{...}";
  if (value.is_array()) return "[...]";
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 64 ? text.substr(0, 61) + "..." : text;
}

absl::Status TypeError(const json& value, DataType dtype) {
  return absl::InvalidArgumentError(
      absl::StrCat("JSON Value: ", Describe(value), " Type: ", value.type_name(),
                   " is not of expected type: ", DataTypeName(dtype)));
}

// An integer in [lo, hi], or an error naming the value.
absl::StatusOr<int64_t> IntegerIn(const json& value, DataType dtype, int64_t lo, int64_t hi) {
  if (!value.is_number_integer()) return TypeError(value, dtype);
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return TypeError(value, dtype);
  }
  int64_t n = value.get<int64_t>();
  if (n < lo || n > hi) {
    return absl::InvalidArgumentError(absl::StrCat("JSON Value: ", Describe(value),
                                                   " is out of range for ", DataTypeName(dtype)));
  }
  return n;
}

// A number that `T` holds exactly when it is an integer, and within range
// when it is not (0.1 is a float's nearest value, as in any client).
template <typename T>
absl::StatusOr<T> Real(const json& value, DataType dtype) {
  if (!value.is_number()) return TypeError(value, dtype);
  const double d = value.get<double>();
  const T t = static_cast<T>(d);
  // long double holds every 64-bit integer exactly.
  const long double integer = value.is_number_unsigned()
                                  ? static_cast<long double>(value.get<uint64_t>())
                                  : static_cast<long double>(value.get<int64_t>());
  const bool exact = value.is_number_float() ? std::isfinite(t) || !std::isfinite(d)
                                             : static_cast<long double>(t) == integer;
  if (!exact) {
    return absl::InvalidArgumentError(absl::StrCat("Cannot convert JSON value: ", Describe(value),
                                                   " to ", DataTypeName(dtype),
                                                   " without loss of precision."));
  }
  return t;
}

// A JSON string, or the bytes of {"b64": ...}.
absl::StatusOr<std::string> StringOf(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_object()) return TypeError(value, tensorflow::DT_STRING);
  std::string decoded;
  if (!IsBase64Json(value) || !absl::Base64Unescape(value["b64"].get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON Value: ", Describe(value), " not formatted correctly for base64 data"));
  }
  return decoded;
}

template <typename T>
absl::Status SetInteger(const json& value, Tensor& t, int64_t i) {
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, IntegerIn(value, t.dtype(), std::numeric_limits<T>::min(),
                                                std::numeric_limits<T>::max()));
  t.flat<T>()[i] = static_cast<T>(n);
  return absl::OkStatus();
}

template <typename T>
absl::Status SetReal(const json& value, Tensor& t, int64_t i) {
  RECSHIP_ASSIGN_OR_RETURN(t.flat<T>()[i], Real<T>(value, t.dtype()));
  return absl::OkStatus();
}

// Element `i` of `t` from one JSON value.
absl::Status SetElement(const json& value, Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case tensorflow::DT_FLOAT:
      return SetReal<float>(value, t, i);
    case tensorflow::DT_DOUBLE:
      return SetReal<double>(value, t, i);
    case tensorflow::DT_INT64:
      return SetInteger<int64_t>(value, t, i);
    case tensorflow::DT_INT32:
      return SetInteger<int32_t>(value, t, i);
    case tensorflow::DT_INT16:
      return SetInteger<int16_t>(value, t, i);
    case tensorflow::DT_INT8:
      return SetInteger<int8_t>(value, t, i);
    case tensorflow::DT_UINT8:
      return SetInteger<uint8_t>(value, t, i);
    case tensorflow::DT_BOOL:
      if (!value.is_boolean()) return TypeError(value, t.dtype());
      t.flat<bool>()[i] = value.get<bool>();
      return absl::OkStatus();
    case tensorflow::DT_STRING: {
      RECSHIP_ASSIGN_OR_RETURN(t.strings()[static_cast<size_t>(i)], StringOf(value));
      return absl::OkStatus();
    }
    default:  // Refused by HasJsonForm.
      return absl::UnimplementedError(DataTypeName(t.dtype()));
  }
}

// Checks that `value` is a list of lists nested as `t`'s shape says and sets
// its leaves in row-major order, from element `next` on.
absl::Status SetElements(const json& value, size_t level, Tensor& t, int64_t& next) {
  const TensorShape& shape = t.shape();
  if (!value.is_array()) {
    if (level != shape.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON Value: ", Describe(value), " found at incorrect level: ", level + 1,
                       " in the JSON DOM. Expected at level: ", shape.size() + 1));
    }
    return SetElement(value, t, next++);
  }
  if (level >= shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Encountered list at unexpected level: ", level + 1, " expected < ", shape.size() + 1));
  }
  if (static_cast<int64_t>(value.size()) != shape[level]) {
    return absl::InvalidArgumentError(
        absl::StrCat("Encountered list at unexpected size: ", value.size(),
                     " at level: ", level + 1, " expected size: ", shape[level]));
  }
  for (const json& element : value) {
    RECSHIP_RETURN_IF_ERROR(SetElements(element, level + 1, t, next));
  }
  return absl::OkStatus();
}

// Builds the nested list of dims [d, rank) starting at element `offset`.
template <typename F>
json Nest(const TensorShape& shape, size_t d, int64_t& offset, const F& element) {
  if (d == shape.size()) return element(offset++);
  json list = json::array();
  for (int64_t i = 0; i < shape[d]; ++i) list.push_back(Nest(shape, d + 1, offset, element));
  return list;
}

}  // namespace

bool HasJsonForm(DataType dtype) {
  switch (dtype) {
    case tensorflow::DT_FLOAT:
    case tensorflow::DT_DOUBLE:
    case tensorflow::DT_INT64:
    case tensorflow::DT_INT32:
    case tensorflow::DT_INT16:
    case tensorflow::DT_INT8:
    case tensorflow::DT_UINT8:
    case tensorflow::DT_BOOL:
    case tensorflow::DT_STRING:
      return true;
    default:
      return false;
  }
}

bool IsBase64Json(const json& value) {
  return value.is_object() && value.size() == 1 && value.contains("b64") &&
         value["b64"].is_string();
}

absl::StatusOr<Tensor> TensorFromJson(const json& value, DataType dtype) {
  if (!HasJsonForm(dtype)) {
    return absl::UnimplementedError(absl::StrCat("Conversion of JSON Value: ", Describe(value),
                                                 " to type: ", DataTypeName(dtype)));
  }
  // The shape is that of the value's first elements at each level.
  TensorShape shape;
  for (const json* v = &value; v->is_array(); v = &v->front()) {
    shape.push_back(static_cast<int64_t>(v->size()));
    if (shape.size() > kMaxRank) {
      return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxRank, " dimensions"));
    }
    if (v->empty()) break;
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(dtype, shape));
  int64_t next = 0;
  RECSHIP_RETURN_IF_ERROR(SetElements(value, 0, t, next));
  return t;
}

absl::StatusOr<json> TensorToJson(const Tensor& tensor) {
  int64_t offset = 0;
  auto nest = [&](auto element) { return Nest(tensor.shape(), 0, offset, element); };
  switch (tensor.dtype()) {
    case tensorflow::DT_FLOAT:
      return nest([&](int64_t i) { return json(tensor.flat<float>()[i]); });
    case tensorflow::DT_DOUBLE:
      return nest([&](int64_t i) { return json(tensor.flat<double>()[i]); });
    case tensorflow::DT_INT64:
      return nest([&](int64_t i) { return json(tensor.flat<int64_t>()[i]); });
    case tensorflow::DT_INT32:
      return nest([&](int64_t i) { return json(tensor.flat<int32_t>()[i]); });
    case tensorflow::DT_BOOL:
      return nest([&](int64_t i) { return json(tensor.flat<bool>()[i]); });
    case tensorflow::DT_STRING:
      return nest([&](int64_t i) { return json(tensor.strings()[i]); });
    default:
      return absl::UnimplementedError(
          absl::StrCat("dtype ", DataTypeName(tensor.dtype()), " has no JSON form in recship"));
  }
}

}  // namespace recship
