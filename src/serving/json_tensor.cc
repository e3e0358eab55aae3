#include "src/serving/json_tensor.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/dtype.h"

namespace recship {
namespace {

using json = nlohmann::json;
using tensorflow::TensorProto;

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

bool IsBase64Object(const json& value) {
  return value.is_object() && value.size() == 1 && value.contains("b64") &&
         value["b64"].is_string();
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

absl::Status AddString(const json& value, TensorProto& out) {
  if (value.is_string()) {
    out.add_string_val(value.get<std::string>());
    return absl::OkStatus();
  }
  if (!value.is_object()) return TypeError(value, tensorflow::DT_STRING);
  std::string decoded;
  if (!IsBase64Object(value) || !absl::Base64Unescape(value["b64"].get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON Value: ", Describe(value), " not formatted correctly for base64 data"));
  }
  out.add_string_val(std::move(decoded));
  return absl::OkStatus();
}

absl::Status AddValue(const json& value, DataType dtype, TensorProto& out) {
  switch (dtype) {
    case tensorflow::DT_FLOAT: {
      RECSHIP_ASSIGN_OR_RETURN(float f, Real<float>(value, dtype));
      out.add_float_val(f);
      return absl::OkStatus();
    }
    case tensorflow::DT_DOUBLE: {
      RECSHIP_ASSIGN_OR_RETURN(double d, Real<double>(value, dtype));
      out.add_double_val(d);
      return absl::OkStatus();
    }
    case tensorflow::DT_INT64: {
      RECSHIP_ASSIGN_OR_RETURN(int64_t n, IntegerIn(value, dtype, INT64_MIN, INT64_MAX));
      out.add_int64_val(n);
      return absl::OkStatus();
    }
    case tensorflow::DT_INT32:
    case tensorflow::DT_INT16:
    case tensorflow::DT_INT8:
    case tensorflow::DT_UINT8: {
      const int bits = dtype == tensorflow::DT_INT32 ? 32 : dtype == tensorflow::DT_INT16 ? 16 : 8;
      const int64_t hi = dtype == tensorflow::DT_UINT8 ? 255 : (int64_t{1} << (bits - 1)) - 1;
      const int64_t lo = dtype == tensorflow::DT_UINT8 ? 0 : -hi - 1;
      RECSHIP_ASSIGN_OR_RETURN(int64_t n, IntegerIn(value, dtype, lo, hi));
      out.add_int_val(static_cast<int32_t>(n));
      return absl::OkStatus();
    }
    case tensorflow::DT_BOOL:
      if (!value.is_boolean()) return TypeError(value, dtype);
      out.add_bool_val(value.get<bool>());
      return absl::OkStatus();
    case tensorflow::DT_STRING:
      return AddString(value, out);
    default:
      return absl::UnimplementedError(absl::StrCat("Conversion of JSON Value: ", Describe(value),
                                                   " to type: ", DataTypeName(dtype)));
  }
}

// Checks that `value` is a list of lists nested as `shape` says and adds
// its leaves in row-major order.
absl::Status AddValues(const json& value, size_t level, const std::vector<int64_t>& shape,
                       DataType dtype, TensorProto& out) {
  if (!value.is_array() || IsBase64Object(value)) {
    if (level != shape.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON Value: ", Describe(value), " found at incorrect level: ", level + 1,
                       " in the JSON DOM. Expected at level: ", shape.size() + 1));
    }
    return AddValue(value, dtype, out);
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
    RECSHIP_RETURN_IF_ERROR(AddValues(element, level + 1, shape, dtype, out));
  }
  return absl::OkStatus();
}

// One input tensor from its JSON value; its shape is that of the value's
// first elements at each level.
absl::StatusOr<TensorProto> TensorFromJson(const std::string& name, const json& value,
                                           DataType dtype) {
  std::vector<int64_t> shape;
  for (const json* v = &value; v->is_array(); v = &v->front()) {
    shape.push_back(static_cast<int64_t>(v->size()));
    if (shape.size() > kMaxRank) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "' has more than ", kMaxRank, " dimensions"));
    }
    if (v->empty()) break;
  }
  TensorProto proto;
  proto.set_dtype(dtype);
  for (int64_t d : shape) proto.mutable_tensor_shape()->add_dim()->set_size(d);
  absl::Status added = AddValues(value, 0, shape, dtype, proto);
  if (!added.ok()) {
    return absl::Status(added.code(), absl::StrCat("input '", name, "': ", added.message()));
  }
  return proto;
}

// The row format: one value per instance for each input, stacked.
absl::Status FillFromInstances(const json& instances, const tensorflow::SignatureDef& signature,
                               tensorflow::serving::PredictRequest* request) {
  if (!instances.is_array()) {
    return absl::InvalidArgumentError("Excepting 'instances' to be an list/array");
  }
  if (instances.empty()) return absl::InvalidArgumentError("No values in 'instances' array");
  const bool named = instances.front().is_object() && !IsBase64Object(instances.front());
  if (!named && signature.inputs_size() > 1) {
    return absl::InvalidArgumentError(
        "instances is a plain list, but expecting list of objects as multiple input tensors "
        "required as per tensorinfo_map");
  }
  for (const auto& [name, info] : signature.inputs()) {
    json column = json::array();
    for (size_t i = 0; i < instances.size(); ++i) {
      const json& instance = instances[i];
      if (!named) {
        column.push_back(instance);
        continue;
      }
      if (!instance.is_object() || IsBase64Object(instance) ||
          instance.size() != static_cast<size_t>(signature.inputs_size()) ||
          !instance.contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("Failed to process element: ", i,
                         " of 'instances' list. JSON object must have exactly the keys of the "
                         "signature's inputs (missing or extra: '",
                         name, "' or another)"));
      }
      column.push_back(instance[name]);
    }
    RECSHIP_ASSIGN_OR_RETURN(TensorProto tensor, TensorFromJson(name, column, info.dtype()));
    (*request->mutable_inputs())[name] = std::move(tensor);
  }
  return absl::OkStatus();
}

// The columnar format: the one input's value, or an object of them.
absl::Status FillFromInputs(const json& inputs, const tensorflow::SignatureDef& signature,
                            tensorflow::serving::PredictRequest* request) {
  const bool named = inputs.is_object() && !IsBase64Object(inputs);
  if (!named && signature.inputs_size() != 1) {
    return absl::InvalidArgumentError(
        "inputs is a plain value/list, but expecting an object as multiple input tensors "
        "required as per tensorinfo_map");
  }
  for (const auto& [name, info] : signature.inputs()) {
    if (named && !inputs.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Missing named input: ", name, " in 'inputs' object."));
    }
    RECSHIP_ASSIGN_OR_RETURN(TensorProto tensor,
                             TensorFromJson(name, named ? inputs[name] : inputs, info.dtype()));
    (*request->mutable_inputs())[name] = std::move(tensor);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JsonPredictBody> ParseJsonPredictBody(absl::string_view body) {
  JsonPredictBody parsed;
  if (body.empty()) return absl::InvalidArgumentError("JSON Parse error: The document is empty");
  try {
    parsed.json = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {  // A syntax error, or a number out of range.
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, ...".
    if (size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    return absl::InvalidArgumentError(absl::StrCat("JSON Parse error: ", what));
  }
  if (!parsed.json.is_object()) return absl::InvalidArgumentError("JSON Value: Is not object");
  if (parsed.json.contains("signature_name")) {
    const json& name = parsed.json["signature_name"];
    if (!name.is_string()) {
      return absl::InvalidArgumentError(
          "JSON Value not formatted correctly. 'signature_name' key must be a string value.");
    }
    parsed.signature_name = name.get<std::string>();
  }
  const bool instances = parsed.json.contains("instances");
  const bool inputs = parsed.json.contains("inputs");
  if (instances == inputs) {
    return absl::InvalidArgumentError(
        instances ? "Not formatted correctly expecting only one of 'inputs' or 'instances' keys "
                    "to exist"
                  : "Missing 'inputs' or 'instances' key");
  }
  parsed.row_format = instances;
  return parsed;
}

absl::Status FillPredictInputs(const JsonPredictBody& body,
                               const tensorflow::SignatureDef& signature,
                               tensorflow::serving::PredictRequest* request) {
  return body.row_format ? FillFromInstances(body.json["instances"], signature, request)
                         : FillFromInputs(body.json["inputs"], signature, request);
}

std::string ErrorJson(absl::string_view message) {
  return json{{"error", std::string(message)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace recship
