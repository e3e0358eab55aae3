// TensorFlow Serving's REST JSON for Predict answers (its
// util/json_tensor.h): "predictions" for a row-format request, "outputs" for
// a columnar one. Floats are written so they read back as the very float the
// model computed; outputs whose names end in "_bytes" are written as
// {"b64": ...}, other strings as JSON strings.
#ifndef RECSHIP_SRC_SERVING_JSON_OUTPUTS_H_
#define RECSHIP_SRC_SERVING_JSON_OUTPUTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

// The response body: {"predictions": [...]} for a row-format request (every
// output must have the same first dimension), {"outputs": ...} otherwise.
absl::StatusOr<std::string> PredictResponseJson(
    const tensorflow::serving::PredictResponse& response, bool row_format);

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_JSON_OUTPUTS_H_
