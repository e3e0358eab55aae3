#include "recship/serving/model_server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "recship/core/mapped_file.h"
#include "recship/serving/metrics.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_service.h"
#include "recship/serving/prediction_service.h"
#include "recship/serving/serving_metrics.h"
#include "src/serving/http_server.h"
#include "src/serving/parse_error_interceptor.h"
#include "src/serving/rest_api.h"

namespace recship {
namespace {

// The nice value loads run at (0 is normal, 19 the lowest priority).
constexpr int kLoadNiceness = 10;

}  // namespace

ModelServer::ModelServer(ServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ModelServer>> ModelServer::Start(ServerOptions options) {
  absl::Status valid = ValidateModelServerConfig(options.config);
  if (!valid.ok()) return valid;
  if (options.limits.memory == nullptr) {
    options.limits.memory =
        MemoryBudget::Create(absl::StrCat("the server's requests in flight (--max_memory_mib ",
                                          options.max_memory_bytes >> 20, ")"),
                             options.max_memory_bytes);
  }
  std::unique_ptr<ModelServer> server(new ModelServer(std::move(options)));
  const ServerOptions& o = server->options_;
  int threads = o.intra_op_threads > 0 ? o.intra_op_threads
                                       : static_cast<int>(std::thread::hardware_concurrency());
  server->pool_ = std::make_unique<ThreadPool>(threads);
  ModelManager::Options manager_options;
  manager_options.thread_pool = server->pool_.get();
  manager_options.remote_caller = o.remote_caller.get();
  manager_options.limits = o.limits;
  manager_options.map_variables = o.map_variables;
  manager_options.log = o.log;
  manager_options.max_num_load_retries = o.max_num_load_retries;
  manager_options.load_retry_interval = o.load_retry_interval;
  manager_options.allow_version_labels_for_unavailable_models =
      o.allow_version_labels_for_unavailable_models;
  server->manager_ = std::make_unique<ModelManager>(o.config, manager_options);
  server->manager_->Poll();
  if (absl::Status labels = server->manager_->CheckLabels(); !labels.ok()) return labels;

  server->writer_ = std::make_unique<BackgroundThread>();
  if (o.batching) server->batcher_ = std::make_unique<Batcher>(*o.batching, o.limits);
  server->service_ = std::make_unique<PredictionServiceImpl>(
      server->manager_.get(), o.limits, server->writer_.get(), server->batcher_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(o.host, ":", o.port), grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(o.max_request_bytes);
  builder.SetMaxSendMessageSize(INT32_MAX);
  builder.RegisterService(server->service_.get());
  server->model_service_ = std::make_unique<ModelServiceImpl>(
      server->manager_.get(), [s = server.get()] { s->UpdateHealth(); });
  builder.RegisterService(server->model_service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeParseErrorInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", o.host, ":", o.port, " (is the port in use?)"));
  }
  if (absl::Status rest = server->StartRest(); !rest.ok()) return rest;
  server->gauges_ = AddModelGauges(*server->manager_);
  server->CheckRemoteTargets();
  server->UpdateHealth();
  if (o.log) o.log(absl::StrCat("serving on ", o.host, ":", server->port_));
  server->poller_ = std::thread([s = server.get()] { s->PollLoop(); });
  server->health_checker_ = std::thread([s = server.get()] { s->HealthLoop(); });
  if (o.config_file_poll_seconds > 0 && !o.config_file.empty()) {
    server->config_poller_ = std::thread([s = server.get()] { s->ConfigLoop(); });
  }
  return server;
}

absl::Status ModelServer::StartRest() {
  const ServerOptions& o = options_;
  if (o.rest_api_port == 0) {
    if (o.prometheus_path.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "the monitoring config enables Prometheus, which is served on the REST port: give "
        "--rest_api_port");
  }
  rest_api_ = std::make_unique<RestApi>(manager_.get(), o.limits, writer_.get(), batcher_.get(),
                                        o.rest_api_timeout, o.prometheus_path);
  HttpServerOptions http;
  http.host = o.host;
  http.port = o.rest_api_port < 0 ? 0 : o.rest_api_port;
  http.threads = o.rest_api_num_threads > 0
                     ? o.rest_api_num_threads
                     : 4 * static_cast<int>(std::thread::hardware_concurrency());
  http.max_body_bytes = static_cast<size_t>(o.max_request_bytes);
  http.timeout = o.rest_api_timeout;
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      http,
      [api = rest_api_.get()](absl::string_view method, absl::string_view path,
                              absl::string_view body) { return api->Handle(method, path, body); });
  if (!started.ok()) return started.status();
  http_ = *std::move(started);
  if (o.log) o.log(absl::StrCat("REST API on ", o.host, ":", http_->port()));
  return absl::OkStatus();
}

int ModelServer::rest_port() const { return http_ == nullptr ? 0 : http_->port(); }

ModelServer::~ModelServer() {
  Shutdown();
  for (int id : gauges_) Metrics::Global().RemoveGauge(id);
  if (poller_.joinable()) poller_.join();
  if (health_checker_.joinable()) health_checker_.join();
  if (config_poller_.joinable()) config_poller_.join();
}

void ModelServer::CheckRemoteTargets() {
  absl::Duration timeout = std::min(options_.remote_health_interval, absl::Seconds(1));
  for (const auto& [name, loaded] : manager_->ModelsReady()) {
    tensorflow::serving::ModelSpec spec;
    spec.set_name(name);
    absl::StatusOr<ServableHandle> servable = manager_->Get(spec);
    absl::Status status;
    if (servable.ok()) {
      std::vector<RemoteTarget> targets = RemoteTargets(servable->model->session().graph());
      if (!targets.empty() && options_.remote_caller == nullptr) {
        status = absl::FailedPreconditionError(
            "it calls other servers, but no --remote_addresses or --remote_address_template "
            "was given");
      } else if (!targets.empty()) {
        status = options_.remote_caller->Probe(targets, timeout);
      }
    }
    absl::MutexLock lock(&health_mu_);
    auto it = remote_status_.try_emplace(name, absl::OkStatus()).first;
    if (status.ok() != it->second.ok() && options_.log) {
      options_.log(
          status.ok() ? absl::StrCat("model '", name, "': every sub-model it calls answers")
                      : absl::StrCat("model '", name, "' reports NOT_SERVING: ", status.message()));
    }
    it->second = status;
  }
}

void ModelServer::UpdateHealth() {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  absl::MutexLock lock(&health_mu_);
  bool all = true;
  const std::map<std::string, bool> models = manager_->ModelsReady();
  for (const auto& [name, loaded] : models) {
    auto remote = remote_status_.find(name);
    bool ready = loaded && (remote == remote_status_.end() || remote->second.ok());
    health->SetServingStatus(name, ready);
    health_names_.insert(name);
    all = all && ready;
  }
  for (const std::string& name : health_names_) {
    if (!models.contains(name)) health->SetServingStatus(name, false);
  }
  // The server as a whole is service "": SetServingStatus(bool) would set
  // every model's status too.
  health->SetServingStatus("", all);
}

void ModelServer::HealthLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.remote_health_interval)) {
    CheckRemoteTargets();
    UpdateHealth();
    ReportDamagedFiles();
  }
}

void ModelServer::ReportDamagedFiles() {
  if (!options_.log) return;
  for (const std::string& file : TakeNewlyDamagedFiles()) {
    options_.log(
        absl::StrCat(file,
                     " shrank while mapped: the rows past its new end are served as zeros until a "
                     "version whose files are whole is loaded"));
  }
}

void ModelServer::PollLoop() {
  if (options_.poll_wait_seconds <= 0) return;
  // Versions found after start load on this thread (and the threads it
  // starts, which inherit its priority): niced, a load takes the cores only
  // when requests to the versions being served leave them idle.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kLoadNiceness);
  while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(options_.poll_wait_seconds))) {
    manager_->PollVersions();
    // Deltas are table writes: at background priority, like pushes.
    writer_->Run([this] { manager_->ApplyDeltas(); });
    UpdateHealth();
  }
}

void ModelServer::ConfigLoop() {
  std::string applied = options_.config.SerializeAsString();
  const absl::Duration interval = absl::Seconds(options_.config_file_poll_seconds);
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<tensorflow::serving::ModelServerConfig> config =
        ReadModelServerConfig(options_.config_file);
    if (!config.ok()) {
      // Logged each time: the models of the last good config keep serving.
      if (options_.log) {
        options_.log(absl::StrCat("keeping the models served: ", config.status().message()));
      }
      continue;
    }
    std::string serialized = config->SerializeAsString();
    if (serialized == applied) continue;
    applied = std::move(serialized);
    absl::Status reloaded = manager_->Reload(*std::move(config));
    UpdateHealth();
    if (options_.log) {
      options_.log(reloaded.ok()
                       ? absl::StrCat(options_.config_file, ": new config applied")
                       : absl::StrCat(options_.config_file,
                                      ": new config applied, with errors: ", reloaded.message()));
    }
  }
}

void ModelServer::Wait() { server_->Wait(); }

void ModelServer::Shutdown() {
  if (stop_.HasBeenNotified()) return;
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
  if (health_checker_.joinable()) health_checker_.join();
  if (config_poller_.joinable()) config_poller_.join();
  if (http_ != nullptr) http_->Stop();
  if (server_ == nullptr) return;  // Start failed before it listened.
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  // Requests in flight get up to 10 s to finish.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (options_.log) options_.log("stopped");
}

}  // namespace recship
