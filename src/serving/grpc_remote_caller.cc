#include "recship/serving/grpc_remote_caller.h"

#include <climits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship {
namespace {

using Stub = ::tensorflow::serving::PredictionService::Stub;

absl::Status ToAbslStatus(const grpc::Status& status) {
  // gRPC's and absl's codes share their numbers.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// The state of one Predict. The PendingPredict owns it; the gRPC callback
// only points at it, and the PendingPredict waits for that callback before
// the state (and its ClientContext) goes: a context must not be destroyed by
// its own call's callback, as gRPC may still use the call after it returns.
struct PredictState {
  grpc::ClientContext context;
  tensorflow::serving::PredictRequest request;
  tensorflow::serving::PredictResponse response;
  std::unique_ptr<Stub> stub;
  std::string address;
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  grpc::Status status ABSL_GUARDED_BY(mu);
};

// A call the session abandons (its Run failed elsewhere) is cancelled rather
// than left running to its deadline. A finished call is not: cancelling one
// still runs a cancel op through gRPC's call stack, on the request's
// critical path.
class GrpcPendingPredict : public PendingPredict {
 public:
  explicit GrpcPendingPredict(std::unique_ptr<PredictState> state) : state_(std::move(state)) {}
  ~GrpcPendingPredict() override {
    bool done;
    {
      absl::MutexLock lock(&state_->mu);
      done = state_->done;
    }
    if (!done) state_->context.TryCancel();
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
  }

  absl::Status Wait() override {
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
    return ToAbslStatus(state_->status);
  }
  const tensorflow::serving::PredictResponse& response() const override { return state_->response; }
  const std::string& address() const override { return state_->address; }

 private:
  std::unique_ptr<PredictState> state_;
};

// One GetModelMetadata call in flight.
struct Probe {
  std::string what;  // "model 'ctr:ps_0' at HOST:PORT"
  grpc::ClientContext context;
  tensorflow::serving::GetModelMetadataRequest request;
  tensorflow::serving::GetModelMetadataResponse response;
  std::unique_ptr<Stub> stub;
  grpc::Status status;
};

}  // namespace

GrpcRemoteCaller::GrpcRemoteCaller(RemoteAddressResolver resolver)
    : resolver_(std::move(resolver)) {}

GrpcRemoteCaller::~GrpcRemoteCaller() = default;

std::shared_ptr<grpc::Channel> GrpcRemoteCaller::Channel(const std::string& address) const {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    // Shard responses carry embedding rows for a whole batch.
    args.SetMaxReceiveMessageSize(INT_MAX);
    args.SetMaxSendMessageSize(INT_MAX);
    // gRPC's default backoff grows to two minutes; a shard that restarts
    // should serve again within about a second.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return channel;
}

absl::StatusOr<std::unique_ptr<PendingPredict>> GrpcRemoteCaller::StartPredict(
    const RemoteTarget& target, tensorflow::serving::PredictRequest request,
    absl::Duration deadline) const {
  absl::StatusOr<std::string> address = resolver_.Resolve(target.model_name, target.target_address);
  if (!address.ok()) return address.status();
  auto state = std::make_unique<PredictState>();
  state->request = std::move(request);
  state->address = *std::move(address);
  state->stub = ::tensorflow::serving::PredictionService::NewStub(Channel(state->address));
  state->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  PredictState* call = state.get();
  call->stub->async()->Predict(&call->context, &call->request, &call->response,
                               [call](grpc::Status status) {
                                 absl::MutexLock lock(&call->mu);
                                 call->status = std::move(status);
                                 call->done = true;
                               });
  return std::make_unique<GrpcPendingPredict>(std::move(state));
}

absl::Status GrpcRemoteCaller::Probe(const std::vector<RemoteTarget>& targets,
                                     absl::Duration timeout) const {
  std::vector<std::string> failures;
  std::vector<std::unique_ptr<struct Probe>> probes;
  for (const RemoteTarget& target : targets) {
    absl::StatusOr<std::string> address =
        resolver_.Resolve(target.model_name, target.target_address);
    if (!address.ok()) {
      failures.push_back(std::string(address.status().message()));
      continue;
    }
    auto probe = std::make_unique<struct Probe>();
    probe->what = absl::StrCat("model '", target.model_name, "' at ", *address);
    probe->request.mutable_model_spec()->set_name(target.model_name);
    if (target.model_version >= 0) {
      probe->request.mutable_model_spec()->mutable_version()->set_value(target.model_version);
    }
    probe->request.add_metadata_field("signature_def");
    probe->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    probe->stub = ::tensorflow::serving::PredictionService::NewStub(Channel(*address));
    probes.push_back(std::move(probe));
  }
  absl::Mutex mu;
  size_t pending = probes.size();
  for (auto& probe : probes) {
    struct Probe* p = probe.get();
    p->stub->async()->GetModelMetadata(&p->context, &p->request, &p->response,
                                       [p, &mu, &pending](grpc::Status status) {
                                         absl::MutexLock lock(&mu);
                                         p->status = std::move(status);
                                         --pending;
                                       });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](size_t* n) { return *n == 0; }, &pending));
  }
  for (const auto& probe : probes) {
    if (!probe->status.ok()) {
      failures.push_back(absl::StrCat(probe->what, ": ", probe->status.error_message()));
    }
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(failures, "; "));
}

}  // namespace recship
