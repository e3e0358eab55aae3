// `recship serve`: a model server speaking TensorFlow Serving's gRPC API.
//
// Start() loads every configured model's versions (with warmup) before it
// accepts requests, then serves PredictionService and gRPC health checking
// ("" and each model name: SERVING once the model has a version), and polls
// the base paths for new versions. Shutdown() stops polling, marks every
// service NOT_SERVING, and lets requests in flight finish (up to a deadline).
#ifndef RECSHIP_SERVING_MODEL_SERVER_H_
#define RECSHIP_SERVING_MODEL_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "recship/runtime/remote_predict.h"
#include "recship/runtime/session.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "tensorflow_serving/config/model_server_config.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace recship::serving {

class PredictionServiceImpl;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8500;  // 0 picks a free port; see ModelServer::port().
  tensorflow::serving::ModelServerConfig config;
  // Seconds between looks at the base paths; 0 stops polling after start.
  double poll_wait_seconds = 1;
  // Threads one request may use; 0 means one per core.
  int intra_op_threads = 0;
  PredictLimits limits;
  // Requests over this many bytes are refused by gRPC (RESOURCE_EXHAUSTED).
  int max_request_bytes = 256 << 20;
  std::function<void(const std::string&)> log;
  // Where the models' TfServingRemotePredict nodes call (an entry model's
  // shards); shared so that every version loaded reuses its channels. Null
  // makes such nodes fail with FailedPrecondition.
  std::shared_ptr<const runtime::RemotePredictOptions> remote_predict;
};

class ModelServer {
 public:
  static absl::StatusOr<std::unique_ptr<ModelServer>> Start(ServerOptions options);
  ~ModelServer();

  int port() const { return port_; }
  const ModelManager& manager() const { return *manager_; }

  // Blocks until Shutdown().
  void Wait();
  void Shutdown();

 private:
  explicit ModelServer(ServerOptions options);
  void PollLoop();
  void UpdateHealth();

  ServerOptions options_;
  int port_ = 0;
  std::unique_ptr<runtime::ThreadPool> pool_;
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<PredictionServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace recship::serving

#endif  // RECSHIP_SERVING_MODEL_SERVER_H_
