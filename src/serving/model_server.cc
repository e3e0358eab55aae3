#include "recship/serving/model_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "recship/serving/model_config.h"
#include "recship/serving/prediction_service.h"

namespace recship::serving {

ModelServer::ModelServer(ServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ModelServer>> ModelServer::Start(ServerOptions options) {
  absl::Status valid = ValidateModelServerConfig(options.config);
  if (!valid.ok()) return valid;
  std::unique_ptr<ModelServer> server(new ModelServer(std::move(options)));
  const ServerOptions& o = server->options_;
  int threads = o.intra_op_threads > 0 ? o.intra_op_threads
                                       : static_cast<int>(std::thread::hardware_concurrency());
  server->pool_ = std::make_unique<runtime::ThreadPool>(threads);
  ModelManager::Options manager_options;
  manager_options.thread_pool = server->pool_.get();
  manager_options.remote_predict = o.remote_predict.get();
  manager_options.limits = o.limits;
  manager_options.log = o.log;
  server->manager_ = std::make_unique<ModelManager>(o.config, manager_options);
  server->manager_->Poll();

  server->service_ = std::make_unique<PredictionServiceImpl>(server->manager_.get(), o.limits);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(o.host, ":", o.port), grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(o.max_request_bytes);
  builder.SetMaxSendMessageSize(INT32_MAX);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", o.host, ":", o.port, " (is the port in use?)"));
  }
  server->UpdateHealth();
  if (o.log) o.log(absl::StrCat("serving on ", o.host, ":", server->port_));
  server->poller_ = std::thread([s = server.get()] { s->PollLoop(); });
  return server;
}

ModelServer::~ModelServer() {
  Shutdown();
  if (poller_.joinable()) poller_.join();
}

void ModelServer::UpdateHealth() {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  bool all = true;
  for (const auto& [name, ready] : manager_->ModelsReady()) {
    health->SetServingStatus(name, ready);
    all = all && ready;
  }
  health->SetServingStatus(all);
}

void ModelServer::PollLoop() {
  if (options_.poll_wait_seconds <= 0) return;
  while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(options_.poll_wait_seconds))) {
    manager_->Poll();
    UpdateHealth();
  }
}

void ModelServer::Wait() { server_->Wait(); }

void ModelServer::Shutdown() {
  if (stop_.HasBeenNotified()) return;
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  // Requests in flight get up to 10 s to finish.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (options_.log) options_.log("stopped");
}

}  // namespace recship::serving
