// recship.serving's native half: the model server of `recship serve`
// started in this process, and a PredictionService client. Starting,
// stopping and each request run with the GIL released.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "recship/format/tensor_proto.h"
#include "recship/serving/grpc_remote_caller.h"
#include "recship/serving/layout_filter.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_server.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "src/python/bindings.h"
#include "src/python/numpy_tensor.h"

namespace recship::python {
namespace {

using namespace nb::literals;

struct PyModelServer {
  std::unique_ptr<ModelServer> server;

  ModelServer& Get() {
    if (!server) ThrowStatus(absl::FailedPreconditionError("the model server is stopped"));
    return *server;
  }
  void Stop() {
    nb::gil_scoped_release release;
    if (server) server->Shutdown();
    server.reset();
  }
};

// The models: a layout (base path and name), a config file, or one model.
tensorflow::serving::ModelServerConfig ChooseModels(const nb::dict& o, ServerOptions& options) {
  std::string name = Option<std::string>(o, "model_name").value_or("default");
  if (auto layout = Option<std::string>(o, "layout_base_path")) {
    return ValueOrThrow(LayoutModelServerConfig(*layout, name, {}));
  }
  if (auto file = Option<std::string>(o, "model_config_file")) {
    options.config_file = *file;
    return ValueOrThrow(ReadModelServerConfig(*file));
  }
  auto base_path = Option<std::string>(o, "model_base_path");
  if (!base_path) {
    ThrowStatus(absl::InvalidArgumentError(
        "ModelServer: give model_base_path, model_config_file or layout_base_path"));
  }
  return SingleModelConfig(name, *base_path);
}

void LogToStderr(const std::string& line) {
  std::string now = absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::LocalTimeZone());
  std::fprintf(stderr, "%s recship.serving: %s\n", now.c_str(), line.c_str());
}

// [(version, state, error message)] of a model, as GetModelStatus reports.
nb::list ModelStatus(PyModelServer& s, const std::string& model) {
  tensorflow::serving::ModelSpec spec;
  spec.set_name(model);
  absl::StatusOr<tensorflow::serving::GetModelStatusResponse> response;
  {
    nb::gil_scoped_release release;
    response = s.Get().manager().GetStatus(spec);
  }
  tensorflow::serving::GetModelStatusResponse status = ValueOrThrow(std::move(response));
  nb::list out;
  for (const auto& v : status.model_version_status()) {
    out.append(nb::make_tuple(v.version(),
                              tensorflow::serving::ModelVersionStatus::State_Name(v.state()),
                              v.status().error_message()));
  }
  return out;
}

ServerOptions ServerOptionsOf(const nb::dict& o) {
  ServerOptions options;
  if (Option<bool>(o, "log").value_or(true)) options.log = LogToStderr;
  options.config = ChooseModels(o, options);
  options.host = Option<std::string>(o, "host").value_or("127.0.0.1");
  options.port = Option<int>(o, "port").value_or(0);
  options.rest_api_port = Option<int>(o, "rest_api_port").value_or(0);
  options.poll_wait_seconds = Option<double>(o, "poll_wait_seconds").value_or(1);
  options.limits.max_batch_size = Option<int64_t>(o, "max_batch_size").value_or(0);
  if (Option<bool>(o, "enable_batching").value_or(false)) {
    options.batching = BatchingOptions();
    if (auto file = Option<std::string>(o, "batching_parameters_file")) {
      options.batching = ValueOrThrow(ReadBatchingParameters(*file));
    }
  }
  if (auto addresses = Option<std::string>(o, "remote_addresses")) {
    RemoteAddressResolver resolver = ValueOrThrow(RemoteAddressResolver::Create(*addresses, ""));
    options.remote_caller = std::make_shared<GrpcRemoteCaller>(std::move(resolver));
  }
  return options;
}

// One channel per address, reused by every call.
std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  static auto* mu = new absl::Mutex;
  static auto* channels = new absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>>;
  absl::MutexLock lock(mu);
  auto& channel = (*channels)[address];
  if (!channel) channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return channel;
}

tensorflow::serving::PredictRequest PredictRequestOf(
    const std::string& model, nb::dict inputs, const std::string& signature,
    std::optional<int64_t> version, std::optional<std::vector<std::string>> filter) {
  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_name(model);
  request.mutable_model_spec()->set_signature_name(signature);
  if (version) request.mutable_model_spec()->mutable_version()->set_value(*version);
  for (auto [key, value] : inputs) {
    std::string name = nb::cast<std::string>(key);
    Tensor tensor = ValueOrThrow(TensorFromPython(value, absl::StrCat("inputs['", name, "']")));
    (*request.mutable_inputs())[name] = TensorToProto(tensor);
  }
  for (const std::string& output : filter.value_or(std::vector<std::string>{})) {
    request.add_output_filter(output);
  }
  return request;
}

nb::dict Predict(const std::string& address, const std::string& model, nb::dict inputs,
                 const std::string& signature, std::optional<int64_t> version,
                 std::optional<std::vector<std::string>> output_filter, double timeout_seconds) {
  tensorflow::serving::PredictRequest request =
      PredictRequestOf(model, inputs, signature, version, output_filter);
  tensorflow::serving::PredictResponse response;
  grpc::Status status;
  {
    nb::gil_scoped_release release;
    auto stub = ::tensorflow::serving::PredictionService::NewStub(ChannelTo(address));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::microseconds(static_cast<int64_t>(timeout_seconds * 1e6)));
    status = stub->Predict(&context, request, &response);
  }
  if (!status.ok()) {
    ThrowStatus(absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                             absl::StrCat(address, ": ", status.error_message())));
  }
  nb::dict outputs;
  for (const auto& [name, proto] : response.outputs()) {
    outputs[name.c_str()] = TensorToNumpy(ValueOrThrow(TensorFromProto(proto)));
  }
  return outputs;
}

}  // namespace

void BindServing(nb::module_& m) {
  nb::class_<PyModelServer>(m, "_ModelServer")
      .def(
          "__init__",
          [](PyModelServer* s, nb::dict options) {
            ServerOptions server_options = ServerOptionsOf(options);
            absl::StatusOr<std::unique_ptr<ModelServer>> started;
            {
              nb::gil_scoped_release release;
              started = ModelServer::Start(std::move(server_options));
            }
            new (s) PyModelServer{ValueOrThrow(std::move(started))};
          },
          "options"_a)
      .def_prop_ro("port", [](PyModelServer& s) { return s.Get().port(); })
      .def_prop_ro("rest_port", [](PyModelServer& s) { return s.Get().rest_port(); })
      .def_prop_ro("running", [](const PyModelServer& s) { return s.server != nullptr; })
      .def("stop", &PyModelServer::Stop)
      .def("model_status", &ModelStatus, "model"_a);
  m.def("_predict", &Predict, "address"_a, "model"_a, "inputs"_a, "signature_name"_a,
        "version"_a.none(), "output_filter"_a.none(), "timeout"_a);
}

}  // namespace recship::python
