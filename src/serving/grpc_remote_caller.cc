#include "recship/serving/grpc_remote_caller.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
#include "recship/serving/serving_metrics.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "src/serving/replica_set.h"

namespace recship {

using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;
using Stub = ::tensorflow::serving::PredictionService::Stub;

namespace {

constexpr absl::Duration kHedgeUntilKnown = absl::Milliseconds(5);
constexpr absl::Duration kZeroLogInterval = absl::Seconds(10);
constexpr size_t kMaxAttempts = 3;

absl::Status ToAbslStatus(const grpc::Status& status) {
  // gRPC's and absl's codes share their numbers.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// A name gRPC may resolve to several addresses, which its round_robin
// policy spreads calls over: calling it again may reach another replica.
bool MayResolveToSeveral(const std::string& address) {
  return absl::StartsWith(address, "dns:") || absl::StrContains(address, ",");
}

}  // namespace

// One remote sub-model: its replicas, and what its answers look like (for
// zero rows), and the zero answers given for it.
class RemoteModel {
 public:
  explicit RemoteModel(const std::string& addresses) : replicas_(addresses) {
    for (int r = 0; r < replicas_.size(); ++r) {
      stubs_.push_back(::tensorflow::serving::PredictionService::NewStub(replicas_.channel(r)));
    }
  }

  ReplicaSet& replicas() { return replicas_; }
  // Stubs are thread-safe: one per replica serves every call.
  Stub& stub(int replica) { return *stubs_[static_cast<size_t>(replica)]; }
  bool may_hedge() const {
    return replicas_.size() > 1 || MayResolveToSeveral(replicas_.address(0));
  }

  // Remembers each output's row shape from a successful answer.
  void LearnRowShapes(const PredictResponse& response) {
    absl::MutexLock lock(&mu_);
    if (!row_shapes_.empty()) return;
    for (const auto& [alias, proto] : response.outputs()) {
      TensorShape row;
      for (int d = 1; d < proto.tensor_shape().dim_size(); ++d) {
        row.push_back(proto.tensor_shape().dim(d).size());
      }
      row_shapes_[alias] = {proto.dtype(), row};
    }
  }

  // An answer of zero rows to `request`, one per id of the input of the
  // same name as each output (a shard's lookup), when such answers were
  // seen before; false otherwise.
  bool ZeroRows(const PredictRequest& request, PredictResponse& response) {
    absl::MutexLock lock(&mu_);
    if (row_shapes_.empty()) return false;
    for (const std::string& alias : request.output_filter()) {
      auto shape = row_shapes_.find(alias);
      auto input = request.inputs().find(alias);
      if (shape == row_shapes_.end() || input == request.inputs().end() ||
          input->second.tensor_shape().dim_size() < 1) {
        return false;
      }
      TensorShape rows = {input->second.tensor_shape().dim(0).size()};
      rows.insert(rows.end(), shape->second.second.begin(), shape->second.second.end());
      absl::StatusOr<Tensor> zeros = Tensor::Create(shape->second.first, rows);
      if (!zeros.ok()) return false;
      (*response.mutable_outputs())[alias] = TensorToProto(*zeros);
    }
    return true;
  }

  // Counts a zero answer; logs once per interval.
  void CountZeroAnswer(const std::string& model, const absl::Status& why) {
    absl::MutexLock lock(&mu_);
    ++zero_answers_;
    ++unlogged_;
    RecordZeroAnswer(model);
    const absl::Time now = absl::Now();
    if (now - last_log_ < kZeroLogInterval) return;
    std::fprintf(stderr,
                 "recship serve: remote model '%s' unreachable (%s): answered %lld call(s) with "
                 "zero rows since the last report (--on_shard_failure=zeros)\n",
                 model.c_str(), std::string(why.message()).c_str(),
                 static_cast<long long>(unlogged_));
    unlogged_ = 0;
    last_log_ = now;
  }
  int64_t zero_answers() const {
    absl::MutexLock lock(&mu_);
    return zero_answers_;
  }

 private:
  ReplicaSet replicas_;
  std::vector<std::unique_ptr<Stub>> stubs_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::pair<DataType, TensorShape>> row_shapes_ ABSL_GUARDED_BY(mu_);
  int64_t zero_answers_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unlogged_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

namespace {

// One Predict sent to one replica.
struct Attempt {
  int replica = 0;
  absl::Time start;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<PredictResponse>> reader;
  PredictResponse response;
  bool done = false;
  grpc::Status status;
};

// A call and its attempts: the first to one replica, then one to another
// replica when it fails or passes the hedging delay, the first answer
// winning. Every attempt ends on the call's own completion queue, which the
// thread waiting for the answer drains itself (a session waits for a shard's
// rows as soon as it needs them): the answer is read by the thread that uses
// it, with no callback thread to wake it, and the hedge is sent when the
// queue's wait times out, with no timer. Each of those hand-offs cost about
// 0.1 ms of every distributed request.
//
// Not thread-safe: Start, Wait and Stop are called in turn (a session calls
// them from the thread that runs it). Stop must be called before the call is
// destroyed.
class HedgedCall {
 public:
  HedgedCall(RemoteModel* model, std::string name, PredictRequest request, absl::Time deadline,
             absl::Duration hedge, bool zeros_on_failure)
      : model_(model),
        name_(std::move(name)),
        request_(std::move(request)),
        deadline_(deadline),
        hedge_(hedge),
        zeros_on_failure_(zeros_on_failure) {}

  void Start() {
    hedge_at_ = hedge_ > absl::ZeroDuration() && model_->may_hedge() ? absl::Now() + hedge_
                                                                     : absl::InfiniteFuture();
    StartAttempt();
  }

  absl::Status Wait() {
    while (!finished_) {
      if (!NextEvent(hedge_at_)) {  // The hedging delay passed.
        hedge_at_ = absl::InfiniteFuture();
        if (attempts_.size() < kMaxAttempts) StartAttempt();
      }
    }
    return result_;
  }

  // Cancels what is still running and drains the queue.
  void Stop() {
    for (auto& a : attempts_) {
      if (!a->done) a->context.TryCancel();
    }
    while (InFlight() > 0) NextEvent(absl::InfiniteFuture());
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  const PredictResponse& response() const { return *response_; }
  const std::string& address() const { return address_; }

 private:
  // Handles the next attempt to end; false if none ended by `until`.
  bool NextEvent(absl::Time until) {
    void* tag = nullptr;
    bool ok = false;
    const grpc::CompletionQueue::NextStatus next =
        until == absl::InfiniteFuture() ? (queue_.Next(&tag, &ok) ? grpc::CompletionQueue::GOT_EVENT
                                                                  : grpc::CompletionQueue::SHUTDOWN)
                                        : queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(until));
    if (next != grpc::CompletionQueue::GOT_EVENT) return false;
    OnDone(static_cast<Attempt*>(tag));
    return true;
  }

  void StartAttempt() {
    auto attempt = std::make_unique<Attempt>();
    attempt->replica = ChooseReplica();
    attempt->start = absl::Now();
    attempt->context.set_deadline(absl::ToChronoTime(deadline_));
    // Racing a slow attempt, this one may wait for a replica that is
    // reconnecting: the call cannot end sooner than the slow one anyway.
    // Otherwise a replica that is down fails the attempt at once.
    attempt->context.set_wait_for_ready(InFlight() > 0);
    if (address_.empty()) address_ = model_->replicas().address(attempt->replica);
    Attempt* a = attempt.get();
    attempts_.push_back(std::move(attempt));
    a->reader = model_->stub(a->replica).AsyncPredict(&a->context, request_, &queue_);
    a->reader->Finish(&a->response, &a->status, a);
  }

  // A replica this call has not tried; else one whose attempt failed (it may
  // be back); else one still busy with this call (a name that resolves to
  // several addresses reaches another of them).
  int ChooseReplica() {
    std::vector<int> tried, busy;
    for (const auto& a : attempts_) {
      tried.push_back(a->replica);
      if (!a->done) busy.push_back(a->replica);
    }
    int replica = model_->replicas().Pick(tried);
    if (replica < 0) replica = model_->replicas().Pick(busy);
    if (replica >= 0) return replica;
    return attempts_.empty() ? 0 : attempts_.front()->replica;
  }

  void OnDone(Attempt* attempt) {
    attempt->done = true;
    if (finished_) return;  // A loser, cancelled.
    const absl::Status status = ToAbslStatus(attempt->status);
    RecordRemoteCall(name_, model_->replicas().address(attempt->replica), status,
                     absl::Now() - attempt->start);
    model_->replicas().Report(attempt->replica, status);
    if (status.ok()) {
      model_->replicas().latencies().Record(absl::Now() - attempt->start);
      model_->LearnRowShapes(attempt->response);
      Finish(absl::OkStatus(), &attempt->response, attempt->replica);
      for (auto& a : attempts_) {
        if (a->done) continue;
        a->context.TryCancel();
        // Started before the winner: it lost a race to a hedge.
        if (a->start < attempt->start) model_->replicas().ReportSlow(a->replica);
      }
      return;
    }
    last_error_ = status;
    if (absl::IsUnavailable(status) && attempts_.size() < kMaxAttempts && absl::Now() < deadline_) {
      StartAttempt();
    } else if (InFlight() == 0) {
      FinishFailed();
    }
  }

  int InFlight() const {
    return static_cast<int>(
        std::count_if(attempts_.begin(), attempts_.end(), [](const auto& a) { return !a->done; }));
  }

  void Finish(absl::Status status, const PredictResponse* response, int replica) {
    result_ = std::move(status);
    response_ = response;
    if (replica >= 0) address_ = model_->replicas().address(replica);
    finished_ = true;
  }

  // Every attempt failed: the last error, or zero rows.
  void FinishFailed() {
    if (zeros_on_failure_ && model_->ZeroRows(request_, zeros_)) {
      model_->CountZeroAnswer(name_, last_error_);
      Finish(absl::OkStatus(), &zeros_, -1);
      return;
    }
    Finish(last_error_, &zeros_, -1);
  }

  RemoteModel* const model_;
  const std::string name_;
  const PredictRequest request_;
  const absl::Time deadline_;
  const absl::Duration hedge_;
  const bool zeros_on_failure_;
  grpc::CompletionQueue queue_;
  absl::Time hedge_at_ = absl::InfiniteFuture();  // Set before any attempt.
  std::vector<std::unique_ptr<Attempt>> attempts_;
  bool finished_ = false;
  absl::Status result_;
  absl::Status last_error_;
  PredictResponse zeros_;
  const PredictResponse* response_ = nullptr;
  std::string address_;
};

class HedgedPredict : public PendingPredict {
 public:
  explicit HedgedPredict(std::unique_ptr<HedgedCall> call) : call_(std::move(call)) {}
  ~HedgedPredict() override { call_->Stop(); }

  absl::Status Wait() override { return call_->Wait(); }
  const PredictResponse& response() const override { return call_->response(); }
  const std::string& address() const override { return call_->address(); }

 private:
  std::unique_ptr<HedgedCall> call_;
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

GrpcRemoteCaller::GrpcRemoteCaller(RemoteAddressResolver resolver, RemoteCallOptions options)
    : resolver_(std::move(resolver)), options_(options) {}

GrpcRemoteCaller::~GrpcRemoteCaller() = default;

absl::StatusOr<RemoteModel*> GrpcRemoteCaller::Model(const RemoteTarget& target) const {
  absl::StatusOr<std::string> address = resolver_.Resolve(target.model_name, target.target_address);
  if (!address.ok()) return address.status();
  absl::MutexLock lock(&mu_);
  std::unique_ptr<RemoteModel>& model = models_[*address];
  if (model == nullptr) model = std::make_unique<RemoteModel>(*address);
  return model.get();
}

absl::StatusOr<std::unique_ptr<PendingPredict>> GrpcRemoteCaller::StartPredict(
    const RemoteTarget& target, PredictRequest request, absl::Duration deadline) const {
  absl::StatusOr<RemoteModel*> model = Model(target);
  if (!model.ok()) return model.status();
  const absl::Duration hedge =
      options_.hedge.value_or((*model)->replicas().latencies().P95(kHedgeUntilKnown));
  auto call = std::make_unique<HedgedCall>(*model, target.model_name, std::move(request),
                                           absl::Now() + std::min(deadline, options_.timeout),
                                           hedge, options_.zeros_on_failure);
  call->Start();
  return std::make_unique<HedgedPredict>(std::move(call));
}

int64_t GrpcRemoteCaller::zero_answers() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [address, model] : models_) n += model->zero_answers();
  return n;
}

absl::Status GrpcRemoteCaller::Probe(const std::vector<RemoteTarget>& targets,
                                     absl::Duration timeout) const {
  std::vector<std::string> failures;
  // Per target, its replicas' probes: the target answers when one does.
  std::vector<std::vector<std::unique_ptr<struct Probe>>> probes;
  for (const RemoteTarget& target : targets) {
    absl::StatusOr<RemoteModel*> model = Model(target);
    if (!model.ok()) {
      failures.push_back(std::string(model.status().message()));
      continue;
    }
    probes.emplace_back();
    for (int r = 0; r < (*model)->replicas().size(); ++r) {
      auto probe = std::make_unique<struct Probe>();
      probe->what =
          absl::StrCat("model '", target.model_name, "' at ", (*model)->replicas().address(r));
      probe->request.mutable_model_spec()->set_name(target.model_name);
      if (target.model_version >= 0) {
        probe->request.mutable_model_spec()->mutable_version()->set_value(target.model_version);
      }
      probe->request.add_metadata_field("signature_def");
      probe->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
      probe->stub =
          ::tensorflow::serving::PredictionService::NewStub((*model)->replicas().channel(r));
      probes.back().push_back(std::move(probe));
    }
  }
  absl::Mutex mu;
  size_t pending = 0;
  for (auto& of_target : probes) pending += of_target.size();
  for (auto& of_target : probes) {
    for (auto& probe : of_target) {
      struct Probe* p = probe.get();
      p->stub->async()->GetModelMetadata(&p->context, &p->request, &p->response,
                                         [p, &mu, &pending](grpc::Status status) {
                                           absl::MutexLock lock(&mu);
                                           p->status = std::move(status);
                                           --pending;
                                         });
    }
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](size_t* n) { return *n == 0; }, &pending));
  }
  for (const auto& of_target : probes) {
    if (std::any_of(of_target.begin(), of_target.end(),
                    [](const auto& p) { return p->status.ok(); })) {
      continue;
    }
    for (const auto& probe : of_target) {
      failures.push_back(absl::StrCat(probe->what, ": ", probe->status.error_message()));
    }
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(failures, "; "));
}

}  // namespace recship
