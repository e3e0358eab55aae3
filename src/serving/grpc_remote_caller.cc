#include "recship/serving/grpc_remote_caller.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
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
  PredictResponse response;
  bool done = false;
  grpc::Status status;
};

// A call and its attempts: the first to one replica, then one to another
// replica when it fails or passes the hedging delay, the first answer
// winning. The hedge is sent by the thread waiting for the answer, when the
// delay passes while it waits (a session waits for a shard's rows as soon as
// it needs them): no timer per call, which cost 0.1 ms of every distributed
// request. Owned by its HedgedPredict, which waits for every attempt's
// callback before it lets it go: a ClientContext must not be destroyed by its
// own call's callback.
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

  // Cancels what is still running and waits for every callback.
  void Stop() {
    std::vector<grpc::ClientContext*> running;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;  // No attempt starts after this.
      for (auto& a : attempts_) {
        if (!a->done) running.push_back(&a->context);
      }
    }
    for (grpc::ClientContext* context : running) context->TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &HedgedCall::Quiet));
  }

  absl::Status Wait() {
    mu_.Lock();
    if (!mu_.AwaitWithDeadline(absl::Condition(this, &HedgedCall::Finished), hedge_at_) &&
        winner_ == nullptr && !stopping_ && attempts_.size() < kMaxAttempts) {
      ++busy_;
      mu_.Unlock();
      StartAttempt();  // The hedge.
      mu_.Lock();
      --busy_;
    }
    mu_.Await(absl::Condition(this, &HedgedCall::Finished));
    absl::Status result = result_;
    mu_.Unlock();
    return result;
  }
  const PredictResponse& response() const { return *response_; }
  const std::string& address() const { return address_; }

 private:
  bool Finished() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return finished_; }
  bool Quiet() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (busy_ > 0) return false;
    return std::all_of(attempts_.begin(), attempts_.end(), [](const auto& a) { return a->done; });
  }

  void StartAttempt() {
    Attempt* attempt;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      // Set up before others can see it (a winner's callback cancels it).
      auto next = std::make_unique<Attempt>();
      next->replica = ChooseReplica();
      next->start = absl::Now();
      next->context.set_deadline(absl::ToChronoTime(deadline_));
      // Racing a slow attempt, this one may wait for a replica that is
      // reconnecting: the call cannot end sooner than the slow one anyway.
      // Otherwise a replica that is down fails the attempt at once.
      next->context.set_wait_for_ready(InFlight() > 0);
      if (address_.empty()) address_ = model_->replicas().address(next->replica);
      attempt = next.get();
      attempts_.push_back(std::move(next));
    }
    model_->stub(attempt->replica)
        .async()
        ->Predict(&attempt->context, &request_, &attempt->response,
                  [this, attempt](grpc::Status status) { OnDone(attempt, std::move(status)); });
  }

  // A replica this call has not tried; else one whose attempt failed (it may
  // be back); else one still busy with this call (a name that resolves to
  // several addresses reaches another of them).
  int ChooseReplica() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<int> tried, busy;
    for (const auto& a : attempts_) {
      tried.push_back(a->replica);
      if (!a->done) busy.push_back(a->replica);
    }
    int replica = model_->replicas().Pick(tried);
    if (replica < 0) replica = model_->replicas().Pick(busy);
    return replica < 0 ? attempts_.front()->replica : replica;
  }

  void OnDone(Attempt* attempt, grpc::Status grpc_status) {
    const absl::Status status = ToAbslStatus(grpc_status);
    std::vector<grpc::ClientContext*> losers;
    bool retry = false;
    {
      absl::MutexLock lock(&mu_);
      attempt->done = true;
      attempt->status = grpc_status;
      if (winner_ == nullptr) {
        if (status.ok()) {
          model_->replicas().Report(attempt->replica, status);
          model_->replicas().latencies().Record(absl::Now() - attempt->start);
          model_->LearnRowShapes(attempt->response);
          winner_ = attempt;
          Finish(absl::OkStatus(), &attempt->response, attempt->replica);
          for (auto& a : attempts_) {
            if (a->done) continue;
            losers.push_back(&a->context);
            // Started before the winner: it lost a race to a hedge.
            if (a->start < attempt->start) model_->replicas().ReportSlow(a->replica);
          }
          if (!losers.empty()) ++busy_;
        } else {
          model_->replicas().Report(attempt->replica, status);
          last_error_ = status;
          retry = !stopping_ && absl::IsUnavailable(status) && attempts_.size() < kMaxAttempts &&
                  absl::Now() < deadline_;
          if (retry) ++busy_;
          if (!retry && InFlight() == 0) FinishFailed();
        }
      }
    }
    for (grpc::ClientContext* context : losers) context->TryCancel();
    if (retry) StartAttempt();
    if (retry || !losers.empty()) {
      absl::MutexLock lock(&mu_);
      --busy_;
    }
  }

  int InFlight() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(
        std::count_if(attempts_.begin(), attempts_.end(), [](const auto& a) { return !a->done; }));
  }

  void Finish(absl::Status status, const PredictResponse* response, int replica)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    result_ = std::move(status);
    response_ = response;
    if (replica >= 0) address_ = model_->replicas().address(replica);
    finished_ = true;
  }

  // Every attempt failed: the last error, or zero rows.
  void FinishFailed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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
  absl::Time hedge_at_ = absl::InfiniteFuture();  // Set before any attempt.
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Attempt>> attempts_ ABSL_GUARDED_BY(mu_);
  Attempt* winner_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Callbacks still using the call after they let go of mu_ (cancelling the
  // losers, starting a retry); Stop waits for them.
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
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
