// tensorflow.serving.ModelService over gRPC: GetModelStatus answered from the
// manager's version states, HandleReloadConfigRequest through
// ModelManager::Reload. Failures carry TensorFlow Serving's codes and
// messages; a reload's outcome is also in its response's status.
#ifndef RECSHIP_SERVING_MODEL_SERVICE_H_
#define RECSHIP_SERVING_MODEL_SERVICE_H_

#include <functional>

#include "recship/serving/model_manager.h"
#include "recship/tensorflow_serving/apis/model_service.grpc.pb.h"

namespace recship {

class ModelServiceImpl final : public ::tensorflow::serving::ModelService::Service {
 public:
  // `after_reload` runs after every reload, whatever its outcome.
  ModelServiceImpl(ModelManager* manager, std::function<void()> after_reload)
      : manager_(manager), after_reload_(std::move(after_reload)) {}

  grpc::Status GetModelStatus(grpc::ServerContext* context,
                              const tensorflow::serving::GetModelStatusRequest* request,
                              tensorflow::serving::GetModelStatusResponse* response) override;
  grpc::Status HandleReloadConfigRequest(
      grpc::ServerContext* context, const tensorflow::serving::ReloadConfigRequest* request,
      tensorflow::serving::ReloadConfigResponse* response) override;

 private:
  ModelManager* const manager_;
  const std::function<void()> after_reload_;
};

}  // namespace recship

#endif  // RECSHIP_SERVING_MODEL_SERVICE_H_
