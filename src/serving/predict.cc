#include "recship/serving/predict.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"

namespace recship::serving {
namespace {

// The rows of a request: the first dimension of each input, except that a
// SparseTensor fed as <f>_indices, <f>_values and <f>_dense_shape (as
// recship's exports take bags) counts dense_shape[0] rows, not its entries.
absl::Status CheckBatchSize(const std::map<std::string, Tensor>& inputs, int64_t limit) {
  constexpr absl::string_view kDenseShape = "_dense_shape";
  std::map<std::string, int64_t> rows;
  for (const auto& [key, tensor] : inputs) {
    if (!absl::EndsWith(key, kDenseShape)) continue;
    std::string feature = key.substr(0, key.size() - kDenseShape.size());
    if (inputs.contains(feature + "_indices") && inputs.contains(feature + "_values") &&
        tensor.dtype() == tensorflow::DT_INT64 && tensor.num_elements() > 0) {
      rows[key] = tensor.flat<int64_t>()[0];
      rows[feature + "_indices"] = -1;
      rows[feature + "_values"] = -1;
    }
  }
  for (const auto& [key, tensor] : inputs) {
    if (!rows.contains(key) && !tensor.shape().empty()) rows[key] = tensor.shape()[0];
  }
  for (const auto& [key, n] : rows) {
    if (n > limit) {
      return absl::InvalidArgumentError(absl::StrCat("input '", key, "' has batch size ", n,
                                                     ", over the server's limit of ", limit));
    }
  }
  return absl::OkStatus();
}

}  // namespace

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
    inputs.emplace(key, *std::move(tensor));
  }
  if (limits.max_batch_size > 0) RETURN_IF_ERROR(CheckBatchSize(inputs, limits.max_batch_size));
  std::vector<std::string> filter(request.output_filter().begin(), request.output_filter().end());
  ASSIGN_OR_RETURN(auto outputs, model.RunSignature(signature, inputs, filter));
  for (const auto& [key, tensor] : outputs)
    (*response->mutable_outputs())[key] = TensorToProto(tensor);
  return absl::OkStatus();
}

}  // namespace recship::serving
