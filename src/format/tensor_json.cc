#include "recship/format/tensor_json.h"

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

using json = nlohmann::json;

// Flattens a nested JSON list into `out`, recording its shape.
absl::Status Flatten(const json& value, size_t depth, TensorShape& shape, std::vector<json>& out) {
  if (!value.is_array()) {
    if (depth != shape.size() && !(depth == 0 && shape.empty())) {
      return absl::InvalidArgumentError("ragged nesting");
    }
    out.push_back(value);
    return absl::OkStatus();
  }
  if (depth == shape.size()) shape.push_back(static_cast<int64_t>(value.size()));
  if (shape[depth] != static_cast<int64_t>(value.size())) {
    return absl::InvalidArgumentError("ragged nesting");
  }
  for (const json& v : value) RECSHIP_RETURN_IF_ERROR(Flatten(v, depth + 1, shape, out));
  return absl::OkStatus();
}

template <typename T>
absl::Status FillIntegers(const std::vector<json>& flat, Tensor& t) {
  for (size_t i = 0; i < flat.size(); ++i) {
    if (!flat[i].is_number_integer()) return absl::InvalidArgumentError("expected integers");
    t.flat<T>()[i] = flat[i].get<T>();
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status FillFloats(const std::vector<json>& flat, Tensor& t) {
  for (size_t i = 0; i < flat.size(); ++i) {
    if (!flat[i].is_number()) return absl::InvalidArgumentError("expected numbers");
    t.flat<T>()[i] = flat[i].get<T>();
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

absl::StatusOr<Tensor> TensorFromJson(const json& value, DataType dtype) {
  TensorShape shape;
  std::vector<json> flat;
  RECSHIP_RETURN_IF_ERROR(Flatten(value, 0, shape, flat));
  RECSHIP_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(dtype, shape));
  switch (dtype) {
    case tensorflow::DT_FLOAT:
      RECSHIP_RETURN_IF_ERROR(FillFloats<float>(flat, t));
      break;
    case tensorflow::DT_DOUBLE:
      RECSHIP_RETURN_IF_ERROR(FillFloats<double>(flat, t));
      break;
    case tensorflow::DT_INT64:
      RECSHIP_RETURN_IF_ERROR(FillIntegers<int64_t>(flat, t));
      break;
    case tensorflow::DT_INT32:
      RECSHIP_RETURN_IF_ERROR(FillIntegers<int32_t>(flat, t));
      break;
    case tensorflow::DT_BOOL:
      for (size_t i = 0; i < flat.size(); ++i) {
        if (!flat[i].is_boolean()) return absl::InvalidArgumentError("expected true or false");
        t.flat<bool>()[i] = flat[i].get<bool>();
      }
      break;
    case tensorflow::DT_STRING:
      for (size_t i = 0; i < flat.size(); ++i) {
        if (!flat[i].is_string()) return absl::InvalidArgumentError("expected strings");
        t.strings()[i] = flat[i].get<std::string>();
      }
      break;
    default:
      return absl::UnimplementedError(
          absl::StrCat("dtype ", DataTypeName(dtype), " has no JSON form in recship"));
  }
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
