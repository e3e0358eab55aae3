// runtime/kernels/remote_predict_kernel: TfServingRemotePredict against a
// fake RemoteCaller (runtime/remote_call.h), without gRPC or sockets: the
// request it builds, the outputs it returns, remote failures with their
// codes, fail_op_on_rpc_error, a missing caller, and the cancelling of a call
// the session abandons.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/remote_call.h"
#include "recship/runtime/session.h"
#include "remote_call_graph.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::Call;
using ::recship::testing::CallGraph;
using ::recship::testing::IsError;
using tensorflow::DT_INT64;
using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;
using Code = absl::StatusCode;

// A call that ends as the fake decided, or (`hold`) only once released or
// after a timeout; records whether it was destroyed before it was waited for.
class FakePendingPredict : public PendingPredict {
 public:
  FakePendingPredict(absl::StatusOr<PredictResponse> result, absl::Notification* hold,
                     std::function<void()> on_abandon)
      : result_(std::move(result)), hold_(hold), on_abandon_(std::move(on_abandon)) {}
  ~FakePendingPredict() override {
    if (!waited_) on_abandon_();
  }

  absl::Status Wait() override {
    waited_ = true;
    if (hold_ != nullptr && !hold_->WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::DeadlineExceededError("the test never released this call");
    }
    if (result_.ok()) response_ = *result_;
    return result_.status();
  }
  const PredictResponse& response() const override { return response_; }
  const std::string& address() const override { return address_; }

 private:
  absl::StatusOr<PredictResponse> result_;
  absl::Notification* hold_;
  std::function<void()> on_abandon_;
  bool waited_ = false;
  PredictResponse response_;
  std::string address_ = "fake:1";
};

// Answers each call with `answer(request)`; records targets, requests and
// deadlines, and counts abandoned calls. Calls to models in `held` wait for
// `release`.
class FakeRemoteCaller : public RemoteCaller {
 public:
  std::function<absl::StatusOr<PredictResponse>(const PredictRequest&)> answer;
  absl::Status start_error;
  std::vector<std::string> held;
  mutable absl::Notification release;

  absl::StatusOr<std::unique_ptr<PendingPredict>> StartPredict(
      const RemoteTarget& target, PredictRequest request, absl::Duration deadline) const override {
    RECSHIP_RETURN_IF_ERROR(start_error);
    absl::MutexLock lock(&mu_);
    targets_.push_back(target);
    deadlines_.push_back(deadline);
    requests_.push_back(request);
    bool hold = std::find(held.begin(), held.end(), target.model_name) != held.end();
    return std::make_unique<FakePendingPredict>(answer(request), hold ? &release : nullptr, [this] {
      absl::MutexLock abandoned_lock(&mu_);
      ++abandoned_;
    });
  }
  absl::Status Probe(const std::vector<RemoteTarget>&, absl::Duration) const override {
    return absl::OkStatus();
  }

  std::vector<RemoteTarget> targets() const {
    absl::MutexLock lock(&mu_);
    return targets_;
  }
  std::vector<PredictRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<absl::Duration> deadlines() const {
    absl::MutexLock lock(&mu_);
    return deadlines_;
  }
  int abandoned() const {
    absl::MutexLock lock(&mu_);
    return abandoned_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable std::vector<RemoteTarget> targets_;
  mutable std::vector<PredictRequest> requests_;
  mutable std::vector<absl::Duration> deadlines_;
  mutable int abandoned_ = 0;
};

// Echoes every input back as an output of the same name, and answers
// "rows" with float(id) / 2.
absl::StatusOr<PredictResponse> Echo(const PredictRequest& request) {
  PredictResponse response;
  for (const auto& [key, value] : request.inputs()) {
    (*response.mutable_outputs())[key] = value;
    RECSHIP_ASSIGN_OR_RETURN(Tensor ids, TensorFromProto(value));
    std::vector<float> rows;
    for (int64_t id : ids.flat<int64_t>()) rows.push_back(static_cast<float>(id) / 2);
    (*response.mutable_outputs())["rows"] =
        TensorToProto(Tensor::FromVector<float>({static_cast<int64_t>(rows.size())}, rows));
  }
  return response;
}

std::unique_ptr<Session> MakeSession(tensorflow::GraphDef graph, const RemoteCaller* caller) {
  SessionOptions options;
  options.remote_caller = caller;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(std::move(graph), options);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

Tensor Ids(std::vector<int64_t> ids) {
  return Tensor::FromVector<int64_t>({static_cast<int64_t>(ids.size())}, ids);
}

std::vector<float> Floats(const Tensor& t) {
  return std::vector<float>(t.flat<float>().begin(), t.flat<float>().end());
}

TEST(RemotePredictKernelTest, SendsTheRequestAndReturnsTheOutputs) {
  FakeRemoteCaller caller;
  caller.answer = Echo;
  Call c;
  c.deadline_millis = 1234;
  c.target_address = "10.0.0.1:8500";
  auto session = MakeSession(CallGraph({c}), &caller);
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({{"ids", Ids({4, 6})}}, {"call:0", "call:2"}, {}));
  EXPECT_EQ(got[0].flat<int32_t>()[0], 0) << "status_code";
  EXPECT_EQ(Floats(got[1]), (std::vector<float>{2.0f, 3.0f}));

  ASSERT_EQ(caller.targets().size(), 1u);
  EXPECT_EQ(caller.targets()[0], (RemoteTarget{"m:ps_0", "10.0.0.1:8500", -1}));
  EXPECT_EQ(caller.deadlines()[0], absl::Milliseconds(1234));
  PredictRequest sent = caller.requests()[0];
  EXPECT_EQ(sent.model_spec().name(), "m:ps_0");
  EXPECT_EQ(sent.model_spec().signature_name(), "lookup");
  EXPECT_FALSE(sent.model_spec().has_version());
  ASSERT_EQ(sent.output_filter_size(), 1);
  EXPECT_EQ(sent.output_filter(0), "rows");
  ASSERT_OK_AND_ASSIGN(Tensor ids, TensorFromProto(sent.inputs().at("ids")));
  EXPECT_EQ(ids.flat<int64_t>()[1], 6);
}

TEST(RemotePredictKernelTest, TheRequestsDeadlineCapsTheCallsAndAPassedOneCallsNothing) {
  FakeRemoteCaller caller;
  caller.answer = Echo;
  Call c;
  c.deadline_millis = 30000;
  auto session = MakeSession(CallGraph({c}), &caller);
  ASSERT_NE(session, nullptr);
  RunOptions soon;
  soon.deadline = absl::Now() + absl::Milliseconds(300);
  ASSERT_OK(session->Run({{"ids", Ids({4})}}, {"call:2"}, {}, soon).status());
  ASSERT_EQ(caller.deadlines().size(), 1u);
  EXPECT_LE(caller.deadlines()[0], absl::Milliseconds(300));
  EXPECT_GT(caller.deadlines()[0], absl::ZeroDuration());

  RunOptions passed;
  passed.deadline = absl::Now() - absl::Milliseconds(1);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({4})}}, {"call:2"}, {}, passed).status(),
                      Code::kDeadlineExceeded, {"deadline passed", "m:ps_0"}));
  EXPECT_EQ(caller.deadlines().size(), 1u);  // Nothing was sent.
}

TEST(RemotePredictKernelTest, RemoteErrorsKeepTheirCodeAndNameTheModelAndAddress) {
  FakeRemoteCaller caller;
  for (Code code : {Code::kUnavailable, Code::kNotFound, Code::kResourceExhausted}) {
    caller.answer = [code](const PredictRequest&) -> absl::StatusOr<PredictResponse> {
      return absl::Status(code, "remote says no");
    };
    auto session = MakeSession(CallGraph({Call{}}), &caller);
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(), code,
                        {"node 'call'", "Predict on model 'm:ps_0' (signature 'lookup') at fake:1",
                         "remote says no"}));
  }
}

TEST(RemotePredictKernelTest, DeadlineExceededNamesTheDeadlineAttr) {
  FakeRemoteCaller caller;
  caller.answer = [](const PredictRequest&) -> absl::StatusOr<PredictResponse> {
    return absl::DeadlineExceededError("too slow");
  };
  auto session = MakeSession(CallGraph({Call{}}), &caller);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kDeadlineExceeded, {"too slow", "max_rpc_deadline_millis 5000"}));
}

TEST(RemotePredictKernelTest, WithoutFailOpTheStatusIsAnOutput) {
  FakeRemoteCaller caller;
  caller.answer = [](const PredictRequest&) -> absl::StatusOr<PredictResponse> {
    return absl::UnavailableError("shard down");
  };
  Call c;
  c.fail_op_on_rpc_error = false;
  auto session = MakeSession(CallGraph({c}), &caller);
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got,
                       session->Run({{"ids", Ids({1})}}, {"call:0", "call:1", "call:2"}, {}));
  EXPECT_EQ(got[0].flat<int32_t>()[0], static_cast<int32_t>(Code::kUnavailable));
  EXPECT_EQ(got[1].strings(), std::vector<std::string>{"shard down"});
  EXPECT_EQ(got[2].shape(), TensorShape{0});
}

TEST(RemotePredictKernelTest, NoCallerOrNoAddressIsFailedPreconditionNamingTheFlags) {
  auto no_caller = MakeSession(CallGraph({Call{}}), nullptr);
  ASSERT_NE(no_caller, nullptr);
  EXPECT_TRUE(IsError(
      no_caller->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(), Code::kFailedPrecondition,
      {"call", "m:ps_0", "--remote_addresses=ps_0=HOST:PORT", "--remote_address_template"}));

  FakeRemoteCaller caller;
  caller.start_error = absl::FailedPreconditionError("no address for remote model 'm:ps_0'");
  auto session = MakeSession(CallGraph({Call{}}), &caller);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kFailedPrecondition, {"node 'call'", "no address"}));
}

TEST(RemotePredictKernelTest, AMissingOrMistypedOutputIsAnErrorNamingIt) {
  FakeRemoteCaller caller;
  caller.answer = [](const PredictRequest&) -> absl::StatusOr<PredictResponse> {
    return PredictResponse();
  };
  auto session = MakeSession(CallGraph({Call{}}), &caller);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(), Code::kNotFound,
                      {"m:ps_0", "no output 'rows'"}));

  caller.answer = Echo;
  Call c;
  c.output_types = {DT_INT64};  // "rows" comes back float.
  session = MakeSession(CallGraph({c}), &caller);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kInvalidArgument, {"'rows'", "float", "output_types[0]", "int64"}));
}

TEST(RemotePredictKernelTest, AFailingCallFailsTheRunAndTheAbandonedCallIsCancelled) {
  FakeRemoteCaller caller;
  caller.held = {"m:ps_1"};
  caller.answer = [](const PredictRequest& request) -> absl::StatusOr<PredictResponse> {
    if (request.model_spec().name() == "m:ps_0") return absl::UnavailableError("ps_0 is down");
    return Echo(request);
  };
  Call fails;
  fails.name = "fails";
  Call slow;
  slow.name = "slow";
  slow.model = "m:ps_1";
  auto session = MakeSession(CallGraph({fails, slow}), &caller);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"slow:2", "fails:2"}, {}).status(),
                      Code::kUnavailable, {"ps_0 is down"}));
  EXPECT_EQ(caller.requests().size(), 2u) << "both calls were started";
  EXPECT_EQ(caller.abandoned(), 1) << "the held call was cancelled, not waited for";
  caller.release.Notify();
}

}  // namespace
}  // namespace recship
