// `recship serve` (the model server) and `recship predict` (its client).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "commands.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/format/proto_any.h"
#include "recship/format/tensor_json.h"
#include "recship/format/tensor_proto.h"
#include "recship/serving/batching.h"
#include "recship/serving/grpc_remote_caller.h"
#include "recship/serving/layout_filter.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_server.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship {
namespace {

using json = nlohmann::json;

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8500;
  std::string model_name;
  std::string model_base_path;
  std::string model_config_file;
  double model_config_file_poll_wait_seconds = 0;
  bool allow_version_labels_for_unavailable_models = false;
  std::string layout_base_path;
  std::vector<std::string> layout_filters;
  double poll_wait_seconds = 1;
  int max_num_load_retries = 5;
  int64_t load_retry_interval_micros = 60'000'000;
  int intra_op_threads = 0;
  bool map_variables = true;
  int64_t max_batch_size = 0;
  int max_request_mib = 256;
  int64_t max_request_memory_mib = 1024;
  int64_t max_memory_mib = 4096;
  std::string remote_addresses;
  std::string remote_address_template;
  double remote_health_interval_seconds = 1;
  int64_t remote_timeout_ms = 500;
  int64_t remote_hedge_ms = -1;  // -1: the observed p95.
  std::string on_shard_failure = "fail";
  std::string port_file;
  int rest_api_port = 0;
  std::string monitoring_config_file;
  bool enable_batching = false;
  std::string batching_parameters_file;
  int rest_api_num_threads = 0;
  int64_t rest_api_timeout_in_ms = 30000;
};

void LogLine(const std::string& line) {
  std::string now = absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::LocalTimeZone());
  std::fprintf(stderr, "%s recship serve: %s\n", now.c_str(), line.c_str());
}

// The caller of an entry's remote calls, or null without addresses.
std::shared_ptr<GrpcRemoteCaller> RemoteCaller(const ServeOptions& o) {
  if (o.remote_addresses.empty() && o.remote_address_template.empty()) return nullptr;
  auto resolver = RemoteAddressResolver::Create(o.remote_addresses, o.remote_address_template);
  if (!resolver.ok()) Fail("serve", resolver.status().message());
  RemoteCallOptions calls;
  calls.timeout = absl::Milliseconds(o.remote_timeout_ms);
  if (o.remote_hedge_ms >= 0) calls.hedge = absl::Milliseconds(o.remote_hedge_ms);
  calls.zeros_on_failure = o.on_shard_failure == "zeros";
  return std::make_shared<GrpcRemoteCaller>(*std::move(resolver), calls);
}

// The models to serve, from --layout_base_path, --model_config_file or
// --model_name/--model_base_path; sets the config (and its file) in
// `options`.
void ChooseModels(const ServeOptions& o, ServerOptions& options) {
  if (!o.layout_filters.empty() && o.layout_base_path.empty()) {
    Fail("serve", "--layout_filter chooses sub-models of --layout_base_path; give that too");
  }
  if (!o.layout_base_path.empty()) {
    if (!o.model_base_path.empty() || !o.model_config_file.empty()) {
      Fail("serve", "give one of --layout_base_path, --model_base_path or --model_config_file");
    }
    if (o.model_name.empty()) {
      Fail("serve",
           "--layout_base_path needs --model_name: the name the entry's remote calls use "
           "(<name>:ps_<i>)");
    }
    std::vector<LayoutFilter> filters;
    for (const std::string& text : o.layout_filters) {
      auto filter = LayoutFilter::Parse(text);
      if (!filter.ok()) Fail("serve", filter.status().message());
      filters.push_back(*std::move(filter));
    }
    auto config = LayoutModelServerConfig(o.layout_base_path, o.model_name, filters);
    if (!config.ok()) Fail("serve", config.status().message());
    for (const auto& model : config->model_config_list().config()) {
      LogLine(absl::StrCat("layout: serving ", model.base_path(), " as '", model.name(), "'"));
    }
    options.config = *std::move(config);
  } else if (!o.model_config_file.empty()) {
    if (!o.model_name.empty() || !o.model_base_path.empty()) {
      Fail("serve", "give either --model_config_file or --model_name/--model_base_path");
    }
    auto config = ReadModelServerConfig(o.model_config_file);
    if (!config.ok()) Fail("serve", config.status().message());
    options.config = *std::move(config);
    options.config_file = o.model_config_file;
    options.config_file_poll_seconds = o.model_config_file_poll_wait_seconds;
    options.allow_version_labels_for_unavailable_models =
        o.allow_version_labels_for_unavailable_models;
  } else {
    if (o.model_base_path.empty()) {
      Fail("serve",
           "give --model_base_path (with --model_name), --model_config_file or "
           "--layout_base_path (with --model_name)");
    }
    options.config =
        SingleModelConfig(o.model_name.empty() ? "default" : o.model_name, o.model_base_path);
  }
}

void RunServe(const ServeOptions& o) {
  ServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.poll_wait_seconds = o.poll_wait_seconds;
  options.max_num_load_retries = o.max_num_load_retries;
  options.load_retry_interval = absl::Microseconds(o.load_retry_interval_micros);
  options.intra_op_threads = o.intra_op_threads;
  options.map_variables = o.map_variables;
  options.limits.max_batch_size = o.max_batch_size;
  options.max_request_bytes = o.max_request_mib << 20;
  options.limits.max_request_memory_bytes = static_cast<uint64_t>(o.max_request_memory_mib) << 20;
  options.max_memory_bytes = static_cast<uint64_t>(o.max_memory_mib) << 20;
  options.log = LogLine;
  options.remote_health_interval = absl::Seconds(o.remote_health_interval_seconds);
  options.remote_caller = RemoteCaller(o);
  options.rest_api_port = o.rest_api_port;
  options.rest_api_num_threads = o.rest_api_num_threads;
  options.rest_api_timeout = absl::Milliseconds(o.rest_api_timeout_in_ms);
  if (!o.monitoring_config_file.empty()) {
    absl::StatusOr<std::string> path = ReadPrometheusPath(o.monitoring_config_file);
    if (!path.ok()) Fail("serve", path.status().message());
    options.prometheus_path = *path;
  }
  if (o.enable_batching) {
    options.batching = BatchingOptions();
    if (!o.batching_parameters_file.empty()) {
      absl::StatusOr<BatchingOptions> batching = ReadBatchingParameters(o.batching_parameters_file);
      if (!batching.ok()) Fail("serve", batching.status().message());
      options.batching = *batching;
    }
  } else if (!o.batching_parameters_file.empty()) {
    Fail("serve", "--batching_parameters_file configures batching: give --enable_batching too");
  }
  ChooseModels(o, options);
  // SIGTERM and SIGINT are taken by sigwait below, so block them before any
  // server thread starts (threads inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = ModelServer::Start(std::move(options));
  if (!server.ok()) Fail("serve", server.status().message());
  if (!o.port_file.empty()) {
    std::string ports = absl::StrCat((*server)->port(), "\n");
    if ((*server)->rest_port() > 0) absl::StrAppend(&ports, (*server)->rest_port(), "\n");
    absl::Status written = WriteFileAtomically(o.port_file, ports);
    if (!written.ok()) Fail("serve", absl::StrCat("--port_file: ", written.message()));
  }
  int signal = 0;
  sigwait(&signals, &signal);
  LogLine(absl::StrCat("received ", signal == SIGTERM ? "SIGTERM" : "SIGINT", ", stopping"));
  (*server)->Shutdown();
}

struct PredictOptions {
  std::string server = "127.0.0.1:8500";
  std::string model_name;
  int64_t version = -1;
  std::string signature = "serving_default";
  std::vector<std::string> inputs;  // name=JSON
  std::string inputs_json;
  std::vector<std::string> outputs;
  double timeout_seconds = 10;
};

absl::StatusOr<tensorflow::SignatureDef> FetchSignature(
    ::tensorflow::serving::PredictionService::Stub& stub, const PredictOptions& o) {
  tensorflow::serving::GetModelMetadataRequest request;
  request.mutable_model_spec()->set_name(o.model_name);
  if (o.version >= 0) request.mutable_model_spec()->mutable_version()->set_value(o.version);
  request.add_metadata_field("signature_def");
  tensorflow::serving::GetModelMetadataResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000)));
  grpc::Status status = stub.GetModelMetadata(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("GetModelMetadata from ", o.server, ": ", status.error_message()));
  }
  tensorflow::serving::SignatureDefMap map;
  if (!UnpackAny(response.metadata().at("signature_def"), &map)) {
    return absl::InternalError("the server's signature_def metadata does not parse");
  }
  auto it = map.signature_def().find(o.signature);
  if (it == map.signature_def().end()) {
    return absl::NotFoundError(
        absl::StrCat("model '", o.model_name, "' has no signature '", o.signature, "'"));
  }
  return it->second;
}

// The request's inputs: --inputs-json first, then each --input name=JSON.
absl::StatusOr<json> CollectInputs(const PredictOptions& o) {
  json inputs = json::object();
  if (!o.inputs_json.empty()) {
    auto text = ReadFileToString(o.inputs_json, 256 << 20);
    if (!text.ok()) return text.status();
    inputs = json::parse(*text, nullptr, false);
    if (inputs.is_discarded() || !inputs.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(o.inputs_json, ": expected a JSON object from input name to values"));
    }
  }
  for (const std::string& arg : o.inputs) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--input '", arg, "' is not name=JSON"));
    }
    json value = json::parse(arg.substr(eq + 1), nullptr, false);
    if (value.is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--input ", arg.substr(0, eq), ": the value is not JSON"));
    }
    inputs[arg.substr(0, eq)] = value;
  }
  return inputs;
}

void RunPredict(const PredictOptions& o) {
  auto channel = grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials());
  auto stub = ::tensorflow::serving::PredictionService::NewStub(channel);
  auto signature = FetchSignature(*stub, o);
  if (!signature.ok()) Fail("predict", signature.status().message());
  auto inputs = CollectInputs(o);
  if (!inputs.ok()) Fail("predict", inputs.status().message());

  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_name(o.model_name);
  request.mutable_model_spec()->set_signature_name(o.signature);
  if (o.version >= 0) request.mutable_model_spec()->mutable_version()->set_value(o.version);
  for (const auto& [name, value] : inputs->items()) {
    auto info = signature->inputs().find(name);
    if (info == signature->inputs().end()) {
      Fail("predict",
           absl::StrCat("'", name, "' is not an input of signature '", o.signature, "'"));
    }
    auto tensor = TensorFromJson(value, info->second.dtype());
    if (!tensor.ok())
      Fail("predict", absl::StrCat("input '", name, "': ", tensor.status().message()));
    (*request.mutable_inputs())[name] = TensorToProto(*tensor);
  }
  for (const std::string& output : o.outputs) request.add_output_filter(output);

  tensorflow::serving::PredictResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000)));
  grpc::Status status = stub->Predict(&context, request, &response);
  if (!status.ok()) {
    Fail("predict",
         absl::StrCat("Predict failed (", status.error_code(), "): ", status.error_message()));
  }
  json out{{"model_spec",
            {{"name", response.model_spec().name()},
             {"version", response.model_spec().version().value()},
             {"signature_name", response.model_spec().signature_name()}}}};
  out["outputs"] = json::object();
  for (const auto& [name, proto] : response.outputs()) {
    auto tensor = TensorFromProto(proto);
    if (!tensor.ok())
      Fail("predict", absl::StrCat("output '", name, "': ", tensor.status().message()));
    auto value = TensorToJson(*tensor);
    if (!value.ok())
      Fail("predict", absl::StrCat("output '", name, "': ", value.status().message()));
    out["outputs"][name] = *value;
  }
  std::cout << out.dump(2) << "\n";
}

// The flags of an entry's calls to its sub-models.
void AddRemoteFlags(CLI::App& cmd, ServeOptions& o) {
  cmd.add_option("--remote_addresses", o.remote_addresses,
                 "where an entry model's TfServingRemotePredict nodes call each sub-model: "
                 "KEY=HOST:PORT,... with KEY the part of the called model name after its last "
                 "':' (ps_0 for 'ctr:ps_0') or the whole name; replicas of one sub-model as "
                 "KEY=H1:PORT|H2:PORT");
  cmd.add_option("--remote_address_template", o.remote_address_template,
                 "address of sub-models not in --remote_addresses, e.g. 'ps-{i}.svc:8500': {i} "
                 "is the number ending the key, {name} the key; 'dns:///ps-{i}.svc:8500' "
                 "spreads calls over every address the name resolves to");
  cmd.add_option("--remote_timeout_ms", o.remote_timeout_ms,
                 "the most a call to a sub-model may take, retries and hedges included (and "
                 "never more than the request's own deadline leaves)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  cmd.add_option("--remote_hedge_ms", o.remote_hedge_ms,
                 "after this long without an answer a call also goes to another replica, the "
                 "first answer winning (default: the 95th percentile of the sub-model's recent "
                 "calls; 0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  cmd.add_option("--on_shard_failure", o.on_shard_failure,
                 "when every replica of a sub-model fails: fail (UNAVAILABLE naming it) or "
                 "zeros (its ids served as unseen, counted and logged every 10 s)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fail", "zeros"}));
  cmd.add_option("--remote_health_interval_seconds", o.remote_health_interval_seconds,
                 "how often an entry asks each sub-model it calls whether it answers; its "
                 "health reports NOT_SERVING while one does not")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
}

// The flags naming the models to serve, one or from a config file.
void AddModelFlags(CLI::App& cmd, ServeOptions& o) {
  cmd.add_option(
      "--model_name", o.model_name,
      "name of the one model to serve; with --layout_base_path, the layout's model name");
  cmd.add_option("--model_base_path", o.model_base_path,
                 "folder of the model's numeric version folders");
  cmd.add_option("--model_config_file", o.model_config_file,
                 "ModelServerConfig in text format: several models, version policies, labels");
  cmd.add_option("--model_config_file_poll_wait_seconds", o.model_config_file_poll_wait_seconds,
                 "seconds between reads of --model_config_file: models added and removed "
                 "while the others serve (0: read once)")
      ->capture_default_str();
  cmd.add_flag("--allow_version_labels_for_unavailable_models",
               o.allow_version_labels_for_unavailable_models,
               "let a new version label of --model_config_file name a version not loaded yet "
               "(otherwise the labels are refused)");
}

// The flags of TensorFlow Serving's REST API, metrics and batching.
void AddOperatorFlags(CLI::App& cmd, ServeOptions& o) {
  cmd.add_option("--rest_api_port", o.rest_api_port,
                 "port of TensorFlow Serving's REST API (/v1/models/...): 0 turns it off, -1 "
                 "picks a free port")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  cmd.add_option("--rest_api_num_threads", o.rest_api_num_threads,
                 "threads answering REST requests (0: 4 per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd.add_option("--rest_api_timeout_in_ms", o.rest_api_timeout_in_ms,
                 "time to read a REST request, answer it (its remote calls included) and write "
                 "the answer")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  cmd.add_flag("--enable_batching", o.enable_batching,
               "merge concurrent requests to a model into batches (gRPC and REST)");
  cmd.add_option("--batching_parameters_file", o.batching_parameters_file,
                 "BatchingParameters in text format: max_batch_size, batch_timeout_micros, "
                 "max_enqueued_batches, num_batch_threads, allowed_batch_sizes");
  cmd.add_option("--monitoring_config_file", o.monitoring_config_file,
                 "MonitoringConfig in text format: 'prometheus_config { enable: true path: "
                 "\"/monitoring/prometheus/metrics\" }' serves the metrics on the REST port");
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve SavedModels over TensorFlow Serving's gRPC API (PredictionService, "
      "ModelService, health checking) and REST API. Flags follow tensorflow_model_server's "
      "names.");
  // As tensorflow_model_server's: a flag given again wins (a container's
  // extra arguments override its entrypoint's).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--port", o->port, "gRPC port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  AddModelFlags(*cmd, *o);
  cmd->add_option("--layout_base_path", o->layout_base_path,
                  "serve sub-models of a distributed export (its export_dir_base with entry/, "
                  "ps_<i>/, dense_0/): entry as --model_name, ps_<i> as <model_name>:ps_<i>");
  cmd->add_option("--layout_filter", o->layout_filters,
                  "which sub-models of --layout_base_path to serve (repeatable, any may "
                  "match; default all): PATTERN[; CONDITION], e.g. 'ps_{i}; i % 2 == 0' or "
                  "entry; CONDITION uses integers, i, %, == != < <= > >=, and/or (&&/||), ()")
      ->take_all()
      ->expected(1);
  cmd->add_option("--file_system_poll_wait_seconds", o->poll_wait_seconds,
                  "seconds between looks for new versions (0: never)")
      ->capture_default_str();
  cmd->add_option("--max_num_load_retries", o->max_num_load_retries,
                  "times a version that failed to load is tried again before giving up (until "
                  "its files change)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--load_retry_interval_micros", o->load_retry_interval_micros,
                  "microseconds between those attempts")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tensorflow_intra_op_parallelism", o->intra_op_threads,
                  "threads one request may use (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--max_batch_size", o->max_batch_size,
                  "most rows a request may have (0: no limit); a bag "
                  "(<f>_indices/_values/_dense_shape) counts dense_shape[0] rows")
      ->capture_default_str();
  cmd->add_option("--max_request_mib", o->max_request_mib, "largest request accepted, in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 2047));
  cmd->add_option("--max_request_memory_mib", o->max_request_memory_mib,
                  "most MiB of tensors one request may hold at once (inputs and everything "
                  "computed from them); over it the request gets RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--max_memory_mib", o->max_memory_mib,
                  "most MiB of tensors all requests in flight may hold together; a request that "
                  "would go over gets RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  AddRemoteFlags(*cmd, *o);
  cmd->add_option("--map_variables", o->map_variables,
                  "serve embedding table rows from their files, mapped (in the page cache, "
                  "shared between processes and versions), rather than read into the heap")
      ->capture_default_str();
  cmd->add_option("--port_file", o->port_file,
                  "once the server takes requests (first load pass done, port bound), write "
                  "the port it listens on to this file, atomically, and the REST port on a "
                  "second line when REST is on: how a script that passed --port 0 learns the "
                  "port and that the server is ready");
  AddOperatorFlags(*cmd, *o);
  cmd->callback([o] { RunServe(*o); });
}

void AddPredictCommand(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Call Predict on a TensorFlow Serving-compatible server and print the outputs as JSON. "
      "Input dtypes come from the model's signature.");
  cmd->add_option("--server", o->server, "HOST:PORT")->capture_default_str();
  cmd->add_option("--model_name", o->model_name, "model to call")->required();
  cmd->add_option("--version", o->version, "version to call (default: the latest)");
  cmd->add_option("--signature", o->signature, "signature to call")->capture_default_str();
  cmd->add_option("--input", o->inputs, "an input as name=JSON, e.g. user_id=[1,2]");
  cmd->add_option("--inputs-json", o->inputs_json,
                  "JSON file: an object from input name to nested list");
  cmd->add_option("--output", o->outputs, "outputs to return (default: all)");
  cmd->add_option("--timeout", o->timeout_seconds, "seconds to wait")->capture_default_str();
  cmd->callback([o] { RunPredict(*o); });
}

}  // namespace recship
