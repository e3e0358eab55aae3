#include "recship/serving/predict.h"

#include <map>
#include <string>
#include <vector>

#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"

namespace recship::serving {

absl::Status RunPredict(const runtime::SavedModelBundle& model,
                        const tensorflow::serving::PredictRequest& request,
                        const PredictLimits& limits,
                        tensorflow::serving::PredictResponse* response) {
  std::string signature = request.model_spec().signature_name();
  if (signature.empty()) signature = kDefaultServingSignatureKey;
  std::map<std::string, Tensor> inputs;
  for (const auto& [key, proto] : request.inputs()) {
    absl::StatusOr<Tensor> tensor = TensorFromProto(proto, limits.max_input_bytes);
    if (!tensor.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", key, "': ", tensor.status().message()));
    }
    if (limits.max_batch_size > 0 && !tensor->shape().empty() &&
        tensor->shape()[0] > limits.max_batch_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", key, "' has batch size ", tensor->shape()[0],
                       ", over the server's limit of ", limits.max_batch_size));
    }
    inputs.emplace(key, *std::move(tensor));
  }
  std::vector<std::string> filter(request.output_filter().begin(), request.output_filter().end());
  ASSIGN_OR_RETURN(auto outputs, model.RunSignature(signature, inputs, filter));
  for (const auto& [key, tensor] : outputs)
    (*response->mutable_outputs())[key] = TensorToProto(tensor);
  return absl::OkStatus();
}

}  // namespace recship::serving
