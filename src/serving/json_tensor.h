// TensorFlow Serving's REST JSON for Predict requests (its
// util/json_tensor.h): a body in the row format ("instances": one object or
// value per example) or the columnar format ("inputs": one value per input,
// or the one input's value). Strings are JSON strings, or {"b64": ...} for
// bytes. Errors are InvalidArgument (Unimplemented for a dtype JSON cannot
// carry) with TensorFlow Serving's messages where it has them. Answers are
// written by json_outputs.h.
#ifndef RECSHIP_SRC_SERVING_JSON_TENSOR_H_
#define RECSHIP_SRC_SERVING_JSON_TENSOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

// A Predict body, parsed: the signature it names ("" for the default) and
// which format it used.
struct JsonPredictBody {
  nlohmann::json json;
  std::string signature_name;
  bool row_format = false;
};

// Parses `body`: a JSON object with exactly one of "instances" and "inputs",
// and an optional string "signature_name".
absl::StatusOr<JsonPredictBody> ParseJsonPredictBody(absl::string_view body);

// Fills request->inputs with one tensor per input of `signature`, typed as
// the signature says.
absl::Status FillPredictInputs(const JsonPredictBody& body,
                               const tensorflow::SignatureDef& signature,
                               tensorflow::serving::PredictRequest* request);

// {"error": "<message>"}.
std::string ErrorJson(absl::string_view message);

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_JSON_TENSOR_H_
