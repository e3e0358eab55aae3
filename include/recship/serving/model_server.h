// `recship serve`: a model server speaking TensorFlow Serving's gRPC API.
//
// Start() loads every configured model's versions (with warmup) before it
// accepts requests, then serves PredictionService, the REST API (with
// rest_api_port), ModelService (version
// states and config reloads; and, with config_file_poll_seconds, the config
// file is read again that often and applied when it changed) and gRPC health
// checking
// ("" and each model name: SERVING once the model has a version and, for a
// model that calls other servers (an entry), while every sub-model it calls
// answers; those are asked every remote_health_interval), and polls the base
// paths for new versions. Shutdown() stops polling, marks every
// service NOT_SERVING, and lets requests in flight finish (up to a deadline).
#ifndef RECSHIP_SERVING_MODEL_SERVER_H_
#define RECSHIP_SERVING_MODEL_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "recship/runtime/remote_call.h"
#include "recship/runtime/session.h"
#include "recship/serving/background_thread.h"
#include "recship/serving/batcher.h"
#include "recship/serving/batching.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace recship {

class HttpServer;
class ModelServiceImpl;
class PredictionServiceImpl;
class RestApi;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8500;  // 0 picks a free port; see ModelServer::port().
  tensorflow::serving::ModelServerConfig config;
  // The file `config` came from, and how often to read it again (0: never),
  // as TensorFlow Serving's --model_config_file_poll_wait_seconds.
  std::string config_file;
  double config_file_poll_seconds = 0;
  // Seconds between looks at the base paths; 0 stops polling after start.
  double poll_wait_seconds = 1;
  // How a failed load is retried (TensorFlow Serving's flags of these names).
  int max_num_load_retries = 5;
  absl::Duration load_retry_interval = absl::Minutes(1);
  // See ModelManager::Options.
  bool allow_version_labels_for_unavailable_models = false;
  // Batches concurrent requests (batcher.h) when set.
  std::optional<BatchingOptions> batching;
  // Threads one request may use; 0 means one per core.
  int intra_op_threads = 0;
  // See LoadOptions::map_variables.
  bool map_variables = true;
  PredictLimits limits;
  // The most bytes of tensors all requests in flight may hold together
  // (limits.memory is made from it when not set).
  uint64_t max_memory_bytes = uint64_t{4} << 30;
  // Requests over this many bytes are refused by gRPC (RESOURCE_EXHAUSTED)
  // and by REST (413).
  int max_request_bytes = 256 << 20;
  // TensorFlow Serving's REST API on this port (0: off), served by this
  // many threads (0: 4 per core); each request gets rest_api_timeout.
  int rest_api_port = 0;  // -1 picks a free port.
  int rest_api_num_threads = 0;
  absl::Duration rest_api_timeout = absl::Seconds(30);
  // Where the REST port answers the metrics in Prometheus' text format
  // (TensorFlow Serving's prometheus_config path); empty: nowhere.
  std::string prometheus_path;
  std::function<void(const std::string&)> log;
  // Where the models' TfServingRemotePredict nodes call (an entry model's
  // shards); shared so that every version loaded reuses its channels. Null
  // makes such nodes fail with FailedPrecondition.
  std::shared_ptr<const RemoteCaller> remote_caller;
  // How often an entry's sub-models are asked whether they answer; each
  // probe waits at most this long (and at most a second).
  absl::Duration remote_health_interval = absl::Seconds(1);
};

class ModelServer {
 public:
  static absl::StatusOr<std::unique_ptr<ModelServer>> Start(ServerOptions options);
  ~ModelServer();

  int port() const { return port_; }
  // The REST port, 0 when REST is off.
  int rest_port() const;
  ModelManager& manager() { return *manager_; }

  // Blocks until Shutdown().
  void Wait();
  void Shutdown();

 private:
  explicit ModelServer(ServerOptions options);
  // Serves REST when rest_api_port asks for it.
  absl::Status StartRest();
  void PollLoop();
  // Reads the config file every config_file_poll_seconds; applies changes.
  void ConfigLoop();
  void HealthLoop();
  // Logs each mapped file found shrunk since the last call (MappedFile).
  void ReportDamagedFiles();
  // Probes the sub-models each model's latest version calls.
  void CheckRemoteTargets();
  void UpdateHealth();

  ServerOptions options_;
  int port_ = 0;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ModelManager> manager_;
  // Writes table rows (deltas, hashtable_assign) at background priority.
  std::unique_ptr<BackgroundThread> writer_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<PredictionServiceImpl> service_;
  std::unique_ptr<ModelServiceImpl> model_service_;
  std::unique_ptr<RestApi> rest_api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<grpc::Server> server_;
  absl::Notification stop_;
  std::thread poller_;
  std::thread health_checker_;
  std::thread config_poller_;
  absl::Mutex health_mu_;
  // Per model: whether the sub-models it calls answered the last probe.
  std::map<std::string, absl::Status> remote_status_ ABSL_GUARDED_BY(health_mu_);
  // Every model name health was ever reported for (a model dropped by a
  // reload turns NOT_SERVING).
  std::set<std::string> health_names_ ABSL_GUARDED_BY(health_mu_);
  std::vector<int> gauges_;  // Metrics::Global() ids, removed at destruction.
};

}  // namespace recship

#endif  // RECSHIP_SERVING_MODEL_SERVER_H_
