#include "recship/serving/model_service.h"

#include "recship/serving/prediction_service.h"

namespace recship {

grpc::Status ModelServiceImpl::GetModelStatus(
    grpc::ServerContext*, const tensorflow::serving::GetModelStatusRequest* request,
    tensorflow::serving::GetModelStatusResponse* response) {
  if (!request->has_model_spec()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Missing ModelSpec");
  }
  absl::StatusOr<tensorflow::serving::GetModelStatusResponse> status =
      manager_->GetStatus(request->model_spec());
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status ModelServiceImpl::HandleReloadConfigRequest(
    grpc::ServerContext*, const tensorflow::serving::ReloadConfigRequest* request,
    tensorflow::serving::ReloadConfigResponse* response) {
  absl::Status status =
      request->config().has_model_config_list()
          ? manager_->Reload(request->config())
          : absl::InvalidArgumentError("ServerConfig is not of type ModelConfigList.");
  if (after_reload_) after_reload_();
  // absl's codes are TensorFlow's error codes.
  response->mutable_status()->set_error_code(
      static_cast<tensorflow::error::Code>(static_cast<int>(status.code())));
  response->mutable_status()->set_error_message(std::string(status.message()));
  return ToGrpcStatus(status);
}

}  // namespace recship
