#include "src/serving/json_tensor.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_json.h"
#include "recship/format/tensor_proto.h"

namespace recship {
namespace {

using json = nlohmann::json;
using tensorflow::TensorProto;

// One input tensor from its JSON value, named in errors.
absl::StatusOr<TensorProto> InputFromJson(const std::string& name, const json& value,
                                          DataType dtype) {
  absl::StatusOr<Tensor> tensor = TensorFromJson(value, dtype);
  if (!tensor.ok()) {
    return absl::Status(tensor.status().code(),
                        absl::StrCat("input '", name, "': ", tensor.status().message()));
  }
  return TensorToProto(*tensor);
}

// The row format: one value per instance for each input, stacked.
absl::Status FillFromInstances(const json& instances, const tensorflow::SignatureDef& signature,
                               tensorflow::serving::PredictRequest* request) {
  if (!instances.is_array()) {
    return absl::InvalidArgumentError("Excepting 'instances' to be an list/array");
  }
  if (instances.empty()) return absl::InvalidArgumentError("No values in 'instances' array");
  const bool named = instances.front().is_object() && !IsBase64Json(instances.front());
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
      if (!instance.is_object() || IsBase64Json(instance) ||
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
    RECSHIP_ASSIGN_OR_RETURN(TensorProto tensor, InputFromJson(name, column, info.dtype()));
    (*request->mutable_inputs())[name] = std::move(tensor);
  }
  return absl::OkStatus();
}

// The columnar format: the one input's value, or an object of them.
absl::Status FillFromInputs(const json& inputs, const tensorflow::SignatureDef& signature,
                            tensorflow::serving::PredictRequest* request) {
  const bool named = inputs.is_object() && !IsBase64Json(inputs);
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
                             InputFromJson(name, named ? inputs[name] : inputs, info.dtype()));
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
