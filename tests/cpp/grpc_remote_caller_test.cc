// serving/grpc_remote_caller: the TfServingRemotePredict kernel calling over
// gRPC, against an in-process recship model server (and a hand-written fake
// PredictionService where the test needs a slow server or to see the
// requests), address resolution, and the Session's async execution: calls
// in flight together, waits on data and control edges, errors naming nodes.
#include "recship/serving/grpc_remote_caller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "graph_builder.h"
#include "grpcpp/grpcpp.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/session.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_server.h"
#include "recship/tensorflow/core/framework/attr_value.pb.h"
#include "recship/tensorflow/core/framework/graph.pb.h"
#include "recship/tensorflow/core/protobuf/saved_model.pb.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"
#include "remote_call_graph.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::AddConst;
using ::recship::testing::AddNode;
using ::recship::testing::AddPlaceholder;
using ::recship::testing::Call;
using ::recship::testing::CallGraph;
using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// Graphs and SavedModels by hand.

using ::recship::testing::BoolAttr;
using ::recship::testing::IntAttr;
using ::recship::testing::StrAttr;
using ::recship::testing::TensorAttr;
using ::recship::testing::TypeAttr;
using ::recship::testing::TypeListAttr;

tensorflow::TensorInfo Info(const std::string& name, DataType dtype) {
  tensorflow::TensorInfo info;
  info.set_name(name);
  info.set_dtype(dtype);
  info.mutable_tensor_shape()->add_dim()->set_size(-1);
  return info;
}

// Writes <base>/<version>/saved_model.pb: a `serve` meta graph of `graph`
// with one signature.
void WriteSavedModel(const std::string& base, int64_t version, const tensorflow::GraphDef& graph,
                     const std::string& signature_name, const tensorflow::SignatureDef& signature) {
  std::string dir = (std::filesystem::path(base) / std::to_string(version)).string();
  std::filesystem::create_directories(dir);
  tensorflow::SavedModel saved_model;
  tensorflow::MetaGraphDef* meta = saved_model.add_meta_graphs();
  meta->mutable_meta_info_def()->add_tags("serve");
  *meta->mutable_graph_def() = graph;
  (*meta->mutable_signature_def())[signature_name] = signature;
  std::string bytes;
  ASSERT_TRUE(saved_model.SerializeToString(&bytes));
  testing::WriteBytes((std::filesystem::path(dir) / "saved_model.pb").string(), bytes);
}

// A model whose signature `lookup` takes `ids` (int64 [-1]) and returns
// `rows` = float(ids) * 0.5 and `ids` as is.
void WriteShardModel(const std::string& base, int64_t version) {
  tensorflow::GraphDef g;
  AddPlaceholder(g, "ids", DT_INT64);
  tensorflow::NodeDef* cast = AddNode(g, "cast", "Cast", {"ids"});
  (*cast->mutable_attr())["SrcT"] = TypeAttr(DT_INT64);
  (*cast->mutable_attr())["DstT"] = TypeAttr(DT_FLOAT);
  (*cast->mutable_attr())["Truncate"] = BoolAttr(false);
  AddConst(g, "half", Tensor::FromVector<float>({}, {0.5f}));
  (*AddNode(g, "rows", "Mul", {"cast", "half"})->mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  (*AddNode(g, "ids_out", "Identity", {"ids"})->mutable_attr())["T"] = TypeAttr(DT_INT64);
  tensorflow::SignatureDef sig;
  sig.set_method_name("tensorflow/serving/predict");
  (*sig.mutable_inputs())["ids"] = Info("ids:0", DT_INT64);
  (*sig.mutable_outputs())["rows"] = Info("rows:0", DT_FLOAT);
  (*sig.mutable_outputs())["ids"] = Info("ids_out:0", DT_INT64);
  WriteSavedModel(base, version, g, "lookup", sig);
}

std::unique_ptr<Session> MakeSession(tensorflow::GraphDef graph, const RemoteCaller* remote) {
  SessionOptions options;
  options.remote_caller = remote;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(std::move(graph), options);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

std::unique_ptr<GrpcRemoteCaller> RemoteOptions(const std::string& addresses,
                                                const std::string& address_template = "") {
  absl::StatusOr<RemoteAddressResolver> resolver =
      RemoteAddressResolver::Create(addresses, address_template);
  EXPECT_TRUE(resolver.ok()) << resolver.status();
  return std::make_unique<GrpcRemoteCaller>(resolver.ok() ? *std::move(resolver)
                                                          : RemoteAddressResolver());
}

Tensor Ids(std::vector<int64_t> ids) {
  int64_t n = static_cast<int64_t>(ids.size());
  return Tensor::FromVector<int64_t>({n}, ids);
}

std::vector<float> Floats(const Tensor& t) {
  auto v = t.flat<float>();
  return std::vector<float>(v.begin(), v.end());
}
std::vector<int64_t> Int64s(const Tensor& t) {
  auto v = t.flat<int64_t>();
  return std::vector<int64_t>(v.begin(), v.end());
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------
// Servers.

// A recship model server serving the shard model as `name` from a temporary
// base path with version 1.
class ShardServer {
 public:
  explicit ShardServer(std::string name = "m:ps_0", int port = 0) : name_(std::move(name)) {
    WriteShardModel(dir_.Join("base"), 1);
    Start(port);
  }
  void Start(int port) {
    ServerOptions options;
    options.port = port;
    options.poll_wait_seconds = 0;
    options.intra_op_threads = 2;
    options.config = SingleModelConfig(name_, dir_.Join("base"));
    absl::StatusOr<std::unique_ptr<ModelServer>> server = ModelServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->manager().ModelsReady().at(name_));
    port_ = server_->port();
  }
  void Stop() { server_.reset(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::string name_;
  int port_ = 0;
  std::unique_ptr<ModelServer> server_;
};

// A PredictionService that waits `delay`, records the request and echoes its
// inputs back as outputs (so output alias "ids" returns the ids sent).
class FakePredictionService final : public ::tensorflow::serving::PredictionService::Service {
 public:
  explicit FakePredictionService(absl::Duration delay) : delay_(delay) {}

  grpc::Status Predict(grpc::ServerContext* context,
                       const tensorflow::serving::PredictRequest* request,
                       tensorflow::serving::PredictResponse* response) override {
    int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    // The delay ends early once the call is cancelled (the client's deadline
    // passed, or the server is shutting down), so no handler outlives the
    // server: one still sleeping when the test's server was destroyed made
    // gRPC abort on a reference count.
    absl::Time until = absl::Now() + delay_;
    while (absl::Now() < until && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(*request);
    }
    for (const auto& [key, value] : request->inputs()) (*response->mutable_outputs())[key] = value;
    --in_flight_;
    return grpc::Status::OK;
  }

  int max_in_flight() const { return max_in_flight_.load(); }
  std::vector<tensorflow::serving::PredictRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  const absl::Duration delay_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  mutable absl::Mutex mu_;
  std::vector<tensorflow::serving::PredictRequest> requests_ ABSL_GUARDED_BY(mu_);
};

class FakeServer {
 public:
  explicit FakeServer(absl::Duration delay) : service_(delay) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  FakePredictionService& service() { return service_; }

 private:
  FakePredictionService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Calls Predict on `address` with `ids` under input "ids".
absl::StatusOr<tensorflow::serving::PredictResponse> CallPredict(const std::string& address,
                                                                 const std::string& model,
                                                                 const Tensor& ids) {
  auto stub = ::tensorflow::serving::PredictionService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_name(model);
  (*request.mutable_inputs())["ids"] = TensorToProto(ids);
  tensorflow::serving::PredictResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->Predict(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response;
}

// ---------------------------------------------------------------------------
// Address resolution and channels.

TEST(RemoteAddressResolverTest, AddressKeyIsThePartAfterTheLastColon) {
  EXPECT_EQ(RemoteAddressResolver::AddressKey("ctr:ps_3"), "ps_3");
  EXPECT_EQ(RemoteAddressResolver::AddressKey("ctr:dense_0"), "dense_0");
  EXPECT_EQ(RemoteAddressResolver::AddressKey("a:b:ps_1"), "ps_1");
  EXPECT_EQ(RemoteAddressResolver::AddressKey("plain"), "plain");
}

TEST(RemoteAddressResolverTest, ListThenTemplateAndTheNodeAttrWins) {
  ASSERT_OK_AND_ASSIGN(RemoteAddressResolver r,
                       RemoteAddressResolver::Create(" ps_0=h0:1, ps_1=h1:2,ctr:ps_2=full:3",
                                                     "ps-{i}.svc:8500/{name}"));
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.Resolve("ctr:ps_0", "").value(), "h0:1");
  EXPECT_EQ(r.Resolve("ctr:ps_1", "").value(), "h1:2");
  // A whole model name beats its key, and the template covers the rest.
  EXPECT_EQ(r.Resolve("ctr:ps_2", "").value(), "full:3");
  EXPECT_EQ(r.Resolve("other:ps_2", "").value(), "ps-2.svc:8500/ps_2");
  EXPECT_EQ(r.Resolve("ctr:ps_17", "").value(), "ps-17.svc:8500/ps_17");
  EXPECT_EQ(r.Resolve("ctr:dense_0", "").value(), "ps-0.svc:8500/dense_0");
  EXPECT_EQ(r.Resolve("ctr:ps_0", "node:9").value(), "node:9");
  // {i} needs a number at the end of the key.
  EXPECT_TRUE(IsError(r.Resolve("ctr:entry", "").status(), Code::kFailedPrecondition,
                      {"ctr:entry", "--remote_address_template", "--remote_addresses=entry"}));

  ASSERT_OK_AND_ASSIGN(RemoteAddressResolver by_name,
                       RemoteAddressResolver::Create("", "{name}.svc:8500"));
  EXPECT_EQ(by_name.Resolve("ctr:entry", "").value(), "entry.svc:8500");
}

TEST(RemoteAddressResolverTest, NoAddressNamesTheModelAndTheFlags) {
  RemoteAddressResolver none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(
      IsError(none.Resolve("ctr:ps_3", "").status(), Code::kFailedPrecondition,
              {"ctr:ps_3", "--remote_addresses=ps_3=HOST:PORT", "--remote_address_template"}));
  EXPECT_EQ(none.Resolve("ctr:ps_3", "h:1").value(), "h:1");
  ASSERT_OK_AND_ASSIGN(RemoteAddressResolver some, RemoteAddressResolver::Create("ps_0=h:1", ""));
  EXPECT_TRUE(
      IsError(some.Resolve("ctr:ps_1", "").status(), Code::kFailedPrecondition, {"ctr:ps_1"}));
}

TEST(RemoteAddressResolverTest, MalformedFlagsAreInvalidArgument) {
  EXPECT_TRUE(IsError(RemoteAddressResolver::Create("ps_0", "").status(), Code::kInvalidArgument,
                      {"ps_0", "key=HOST:PORT"}));
  EXPECT_TRUE(IsError(RemoteAddressResolver::Create("=h:1", "").status(), Code::kInvalidArgument));
  EXPECT_TRUE(IsError(RemoteAddressResolver::Create("ps_0=", "").status(), Code::kInvalidArgument));
  EXPECT_TRUE(IsError(RemoteAddressResolver::Create("ps_0=a:1,ps_0=b:2", "").status(),
                      Code::kInvalidArgument, {"ps_0", "twice"}));
  EXPECT_TRUE(IsError(RemoteAddressResolver::Create("", "ps-{x}:1").status(),
                      Code::kInvalidArgument, {"{i}", "{name}"}));
  EXPECT_TRUE(
      IsError(RemoteAddressResolver::Create("", "ps-{i:1").status(), Code::kInvalidArgument));
  EXPECT_OK(RemoteAddressResolver::Create("", ""));
}

// ---------------------------------------------------------------------------
// The kernel against a recship model server.

TEST(RemotePredictTest, ParallelCallsReturnTheShardOutputs) {
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  std::vector<Call> calls;
  for (int k = 0; k < 4; ++k) {
    Call c;
    c.name = absl::StrCat("call_", k);
    c.input = absl::StrCat("ids_", k);
    c.outputs = {"rows", "ids"};
    c.output_types = {DT_FLOAT, DT_INT64};
    calls.push_back(c);
  }
  auto session = MakeSession(CallGraph(calls), remote.get());
  ASSERT_NE(session, nullptr);
  std::vector<NamedTensor> feeds;
  std::vector<std::string> fetches;
  for (int k = 0; k < 4; ++k) {
    feeds.emplace_back(absl::StrCat("ids_", k), Ids({k, 10 * k + 1, -3}));
    for (int out = 0; out < 4; ++out) fetches.push_back(absl::StrCat("call_", k, ":", out));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> got, session->Run(feeds, fetches, {}));
  for (int k = 0; k < 4; ++k) {
    const Tensor& code = got[4 * k];
    ASSERT_EQ(code.dtype(), tensorflow::DT_INT32);
    EXPECT_TRUE(code.shape().empty());
    EXPECT_EQ(code.flat<int32_t>()[0], 0);
    EXPECT_EQ(got[4 * k + 1].strings(), std::vector<std::string>{""});
    EXPECT_EQ(got[4 * k + 2].shape(), TensorShape{3});
    EXPECT_EQ(Floats(got[4 * k + 2]), (std::vector<float>{0.5f * k, 0.5f * (10 * k + 1), -1.5f}));
    EXPECT_EQ(Int64s(got[4 * k + 3]), (std::vector<int64_t>{k, 10 * k + 1, -3}));
  }
}

// The whole path: an entry model served by a ModelServer given
// ServerOptions::remote_caller calls the shard's server.
TEST(RemotePredictTest, AnEntryServedByAModelServerCallsTheShardServer) {
  ShardServer shard;
  TempDir dir;
  Call c0;
  c0.name = "call_0";
  Call c1 = c0;
  c1.name = "call_1";
  tensorflow::GraphDef g = CallGraph({c0, c1});
  (*AddNode(g, "sum", "AddV2", {"call_0:2", "call_1:2"})->mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  tensorflow::SignatureDef sig;
  sig.set_method_name("tensorflow/serving/predict");
  (*sig.mutable_inputs())["ids"] = Info("ids:0", DT_INT64);
  (*sig.mutable_outputs())["rows"] = Info("sum:0", DT_FLOAT);
  WriteSavedModel(dir.Join("entry"), 1, g, "serving_default", sig);

  for (bool with_remote : {true, false}) {
    ServerOptions options;
    options.port = 0;
    options.poll_wait_seconds = 0;
    options.config = SingleModelConfig("m", dir.Join("entry"));
    if (with_remote) {
      options.remote_caller = RemoteOptions("", "127.0.0.1:" + std::to_string(shard.port()));
    }
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ModelServer> entry,
                         ModelServer::Start(std::move(options)));
    ASSERT_TRUE(entry->manager().ModelsReady().at("m"));
    absl::StatusOr<tensorflow::serving::PredictResponse> response =
        CallPredict(absl::StrCat("127.0.0.1:", entry->port()), "m", Ids({2, 6}));
    if (with_remote) {
      ASSERT_OK(response);
      ASSERT_OK_AND_ASSIGN(Tensor rows, TensorFromProto(response->outputs().at("rows")));
      EXPECT_EQ(Floats(rows), (std::vector<float>{2.0f, 6.0f}));
    } else {
      EXPECT_TRUE(IsError(response.status(), Code::kFailedPrecondition,
                          {"call_0", "m:ps_0", "--remote_addresses"}));
    }
  }
}

TEST(RemotePredictTest, ConsumersWaitOnDataAndControlEdgesAndRunsAreThreadSafe) {
  ShardServer server;
  auto remote = RemoteOptions("", "127.0.0.1:" + std::to_string(server.port()));
  Call a;
  a.name = "a";
  Call b;
  b.name = "b";
  tensorflow::GraphDef g = CallGraph({a, b});
  // sum = a.rows + b.rows; `after` runs only after both calls (control).
  (*AddNode(g, "sum", "AddV2", {"a:2", "b:2"})->mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  AddNode(g, "after", "NoOp", {"^a", "^b"});
  auto session = MakeSession(g, remote.get());
  ASSERT_NE(session, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        absl::StatusOr<std::vector<Tensor>> got =
            session->Run({{"ids", Ids({t, i})}}, {"sum"}, {"after"});
        if (!got.ok() || Floats((*got)[0]) != std::vector<float>{1.0f * t, 1.0f * i}) {
          ++failures;
          ADD_FAILURE() << (got.ok() ? "wrong sum" : got.status().ToString());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // Only the control edge reaches the calls.
  EXPECT_OK(session->Run({{"ids", Ids({1})}}, {}, {"after"}));
}

TEST(RemotePredictTest, TheNodeTargetAddressWins) {
  ShardServer server;
  GrpcRemoteCaller remote{RemoteAddressResolver()};  // No flags at all.
  Call c;
  c.target_address = server.address();
  auto session = MakeSession(CallGraph({c}), &remote);
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({{"ids", Ids({4})}}, {"call:2"}, {}));
  EXPECT_EQ(Floats(got[0]), std::vector<float>{2.0f});
}

TEST(RemotePredictTest, NoAddressOrNoRemoteOptionsIsFailedPrecondition) {
  auto remote = RemoteOptions("ps_1=127.0.0.1:1");
  auto session = MakeSession(CallGraph({Call{}}), remote.get());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kFailedPrecondition,
                      {"node 'call' (TfServingRemotePredict)", "m:ps_0", "--remote_addresses"}));

  auto no_remote = MakeSession(CallGraph({Call{}}), nullptr);
  ASSERT_NE(no_remote, nullptr);
  EXPECT_TRUE(IsError(no_remote->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kFailedPrecondition,
                      {"call", "m:ps_0", "--remote_addresses", "--remote_address_template"}));
}

TEST(RemotePredictTest, ServerDownIsUnavailableWithinTheDeadlineAndRecovers) {
  auto server = std::make_unique<ShardServer>();
  int port = server->port();
  auto remote = RemoteOptions("ps_0=" + server->address());
  Call c;
  c.deadline_millis = 500;
  auto session = MakeSession(CallGraph({c}), remote.get());
  ASSERT_NE(session, nullptr);
  ASSERT_OK(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}));

  server->Stop();
  auto start = std::chrono::steady_clock::now();
  absl::Status down = session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status();
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_TRUE(IsError(down, Code::kUnavailable,
                      {"node 'call'", "m:ps_0", absl::StrCat("127.0.0.1:", port)}))
      << down;

  // The same port again: the channel reconnects within its short backoff.
  server->Start(port);
  absl::Status up = absl::UnknownError("not tried");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!up.ok() && std::chrono::steady_clock::now() < deadline) {
    up = session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status();
    if (!up.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_OK(up);
}

TEST(RemotePredictTest, WithoutFailOpTheStatusIsAnOutput) {
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  Call good;
  good.name = "good";
  good.fail_op_on_rpc_error = false;
  Call bad = good;
  bad.name = "bad";
  bad.model = "m:ps_9";
  bad.target_address = server.address();
  bad.outputs = {"rows", "ids"};
  bad.output_types = {DT_FLOAT, DT_INT64};
  auto session = MakeSession(CallGraph({good, bad}), remote.get());
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got,
                       session->Run({{"ids", Ids({2})}},
                                    {"good:0", "good:2", "bad:0", "bad:1", "bad:2", "bad:3"}, {}));
  EXPECT_EQ(got[0].flat<int32_t>()[0], 0);
  EXPECT_EQ(Floats(got[1]), std::vector<float>{1.0f});
  EXPECT_EQ(got[2].flat<int32_t>()[0], static_cast<int32_t>(Code::kNotFound));
  ASSERT_EQ(got[3].dtype(), DT_STRING);
  EXPECT_NE(got[3].strings()[0].find("m:ps_9"), std::string::npos) << got[3].strings()[0];
  EXPECT_EQ(got[4].dtype(), DT_FLOAT);
  EXPECT_EQ(got[4].shape(), TensorShape{0});
  EXPECT_EQ(got[5].dtype(), DT_INT64);
  EXPECT_EQ(got[5].shape(), TensorShape{0});

  // A server that is down, likewise.
  Call down = good;
  down.target_address = "127.0.0.1:1";
  down.deadline_millis = 500;
  auto down_session = MakeSession(CallGraph({down}), remote.get());
  ASSERT_NE(down_session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto down_got,
                       down_session->Run({{"ids", Ids({2})}}, {"good:0", "good:2"}, {}));
  EXPECT_EQ(down_got[0].flat<int32_t>()[0], static_cast<int32_t>(Code::kUnavailable));
  EXPECT_EQ(down_got[1].shape(), TensorShape{0});
}

TEST(RemotePredictTest, PinnedVersion) {
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  Call latest;
  latest.name = "latest";
  Call pinned = latest;
  pinned.name = "pinned";
  pinned.version = 1;
  Call absent = latest;
  absent.name = "absent";
  absent.version = 7;
  auto session = MakeSession(CallGraph({latest, pinned, absent}), remote.get());
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({{"ids", Ids({2})}}, {"latest:2", "pinned:2"}, {}));
  EXPECT_EQ(Floats(got[0]), std::vector<float>{1.0f});
  EXPECT_EQ(Floats(got[1]), std::vector<float>{1.0f});
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({2})}}, {"absent:2"}, {}).status(), Code::kNotFound,
                      {"node 'absent'", "m:ps_0", "7"}));
}

TEST(RemotePredictTest, TheRequestCarriesSpecAliasesAndVersionOnlyWhenPinned) {
  FakeServer fake(absl::ZeroDuration());
  auto remote = RemoteOptions("", fake.address());
  Call latest;
  latest.name = "latest";
  latest.outputs = {"ids"};
  latest.output_types = {DT_INT64};
  latest.input_alias = "ids";
  Call pinned = latest;
  pinned.name = "pinned";
  pinned.version = 0;
  pinned.signature = "other";
  auto session = MakeSession(CallGraph({latest, pinned}), remote.get());
  ASSERT_NE(session, nullptr);
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({{"ids", Ids({5, 6})}}, {"latest:2"}, {}));
  EXPECT_EQ(Int64s(got[0]), (std::vector<int64_t>{5, 6}));
  ASSERT_OK(session->Run({{"ids", Ids({5})}}, {"pinned:2"}, {}));
  auto requests = fake.service().requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].model_spec().name(), "m:ps_0");
  EXPECT_EQ(requests[0].model_spec().signature_name(), "lookup");
  EXPECT_FALSE(requests[0].model_spec().has_version());
  EXPECT_TRUE(requests[0].inputs().contains("ids"));
  ASSERT_EQ(requests[0].output_filter_size(), 1);
  EXPECT_EQ(requests[0].output_filter(0), "ids");
  EXPECT_EQ(requests[1].model_spec().signature_name(), "other");
  ASSERT_TRUE(requests[1].model_spec().has_version());
  EXPECT_EQ(requests[1].model_spec().version().value(), 0);
}

TEST(RemotePredictTest, CallsAreInFlightTogether) {
  constexpr int kCalls = 4;
  FakeServer fake(absl::Milliseconds(400));
  auto remote = RemoteOptions("", fake.address());
  std::vector<Call> calls;
  for (int k = 0; k < kCalls; ++k) {
    Call c;
    c.name = absl::StrCat("call_", k);
    c.outputs = {"ids"};
    c.output_types = {DT_INT64};
    calls.push_back(c);
  }
  tensorflow::GraphDef g = CallGraph(calls);
  // Each call's output feeds a node right after it in the graph's order; the
  // session still starts every call before it waits for the first.
  for (int k = 0; k < kCalls; ++k) {
    (*AddNode(g, absl::StrCat("use_", k), "Identity", {absl::StrCat("call_", k, ":2")})
          ->mutable_attr())["T"] = TypeAttr(DT_INT64);
  }
  auto session = MakeSession(g, remote.get());
  ASSERT_NE(session, nullptr);
  std::vector<std::string> fetches;
  for (int k = 0; k < kCalls; ++k) fetches.push_back(absl::StrCat("use_", k));
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(auto got, session->Run({{"ids", Ids({3})}}, fetches, {}));
  double seconds = SecondsSince(start);
  for (const Tensor& t : got) EXPECT_EQ(Int64s(t), std::vector<int64_t>{3});
  EXPECT_EQ(fake.service().max_in_flight(), kCalls);
  // One after another would take 1.6 s.
  EXPECT_LT(seconds, 1.2);
}

TEST(RemotePredictTest, DeadlineExceededKeepsItsCode) {
  FakeServer fake(absl::Milliseconds(1500));
  auto remote = RemoteOptions("", fake.address());
  Call c;
  c.outputs = {"ids"};
  c.output_types = {DT_INT64};
  c.deadline_millis = 200;
  auto session = MakeSession(CallGraph({c}), remote.get());
  ASSERT_NE(session, nullptr);
  auto start = std::chrono::steady_clock::now();
  absl::Status status = session->Run({{"ids", Ids({3})}}, {"call:2"}, {}).status();
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_TRUE(IsError(status, Code::kDeadlineExceeded,
                      {"node 'call' (TfServingRemotePredict)", "m:ps_0", fake.address(), "200"}));
}

TEST(RemotePredictTest, AFailingCallFailsTheRunWithoutWaitingForTheOthers) {
  FakeServer slow(absl::Milliseconds(2000));
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  Call slow_call;
  slow_call.name = "slow";
  slow_call.target_address = slow.address();
  slow_call.outputs = {"ids"};
  slow_call.output_types = {DT_INT64};
  Call bad;
  bad.name = "bad";
  bad.input_alias = "wrong";
  // `bad` is started first and fails; the slow call in flight is abandoned.
  auto session = MakeSession(CallGraph({bad, slow_call}), remote.get());
  ASSERT_NE(session, nullptr);
  auto start = std::chrono::steady_clock::now();
  absl::Status status = session->Run({{"ids", Ids({1})}}, {"slow:2", "bad:2"}, {}).status();
  EXPECT_LT(SecondsSince(start), 1.5);
  EXPECT_TRUE(IsError(status, Code::kInvalidArgument, {"node 'bad'", "m:ps_0", "'wrong'"}));
}

TEST(RemotePredictTest, RemoteErrorsPropagateWithTheirCode) {
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  Call missing;
  missing.name = "missing";
  missing.input_alias = "wrong";
  Call no_signature;
  no_signature.name = "no_signature";
  no_signature.signature = "serving_default";
  Call no_output;
  no_output.name = "no_output";
  no_output.outputs = {"nope"};
  auto session = MakeSession(CallGraph({missing, no_signature, no_output}), remote.get());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"missing:2"}, {}).status(),
                      Code::kInvalidArgument,
                      {"node 'missing'", "m:ps_0", "'wrong' is not an input of signature"}));
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"no_signature:2"}, {}).status(),
                      Code::kFailedPrecondition, {"no_signature", "serving_default"}));
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"no_output:2"}, {}).status(),
                      Code::kInvalidArgument, {"no_output", "nope"}));
}

TEST(RemotePredictTest, OutputDtypeMustMatchOutputTypes) {
  ShardServer server;
  auto remote = RemoteOptions("ps_0=" + server.address());
  Call c;
  c.outputs = {"ids", "rows"};
  c.output_types = {DT_INT64, DT_INT64};
  auto session = MakeSession(CallGraph({c}), remote.get());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kInvalidArgument,
                      {"node 'call'", "'rows'", "m:ps_0", "float", "output_types[1]", "int64"}));
}

TEST(RemotePredictTest, BadNodesAreRefused) {
  // Attrs the kernel checks at load.
  tensorflow::GraphDef g = CallGraph({Call{}});
  (*g.mutable_node(3)->mutable_attr())["max_rpc_deadline_millis"] = IntAttr(0);
  EXPECT_TRUE(IsError(Session::Create(g).status(), Code::kInvalidArgument,
                      {"call", "max_rpc_deadline_millis"}));
  g = CallGraph({Call{}});
  (*g.mutable_node(3)->mutable_attr())["model_name"] = StrAttr("");
  EXPECT_TRUE(IsError(Session::Create(g).status(), Code::kInvalidArgument, {"call", "model_name"}));

  // Inputs that do not match the attrs, checked before any call.
  auto remote = RemoteOptions("ps_0=127.0.0.1:1");
  Call two_outputs;
  two_outputs.outputs = {"rows", "ids"};  // output_types lists one.
  auto session = MakeSession(CallGraph({two_outputs}), remote.get());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(session->Run({{"ids", Ids({1})}}, {"call:2"}, {}).status(),
                      Code::kInvalidArgument, {"call", "output_tensor_aliases", "output_types"}));
  session = MakeSession(CallGraph({Call{}}), remote.get());
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(IsError(
      session->Run({{"ids", Tensor::FromVector<float>({1}, {1.0f})}}, {"call:2"}, {}).status(),
      Code::kInvalidArgument, {"call", "int64", "float"}));
}

// ---------------------------------------------------------------------------
// Replicas: failover, hedging, ejection and zero rows.

// A lookup request of `n` ids under alias "t", asking for output "t".
tensorflow::serving::PredictRequest LookupRequest(int64_t n) {
  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_name("m:ps_0");
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
  (*request.mutable_inputs())["t"] = TensorToProto(Tensor::FromVector<int64_t>({n}, ids));
  request.add_output_filter("t");
  return request;
}

// An address no server listens on.
std::string DeadAddress() {
  FakeServer gone(absl::ZeroDuration());
  return gone.address();
}

std::unique_ptr<GrpcRemoteCaller> Caller(const std::string& addresses, RemoteCallOptions options) {
  auto resolver = RemoteAddressResolver::Create(addresses, "");
  EXPECT_OK(resolver.status());
  return std::make_unique<GrpcRemoteCaller>(*std::move(resolver), options);
}

absl::StatusOr<std::string> CallOnce(const GrpcRemoteCaller& caller, int64_t n = 3) {
  RECSHIP_ASSIGN_OR_RETURN(
      auto call, caller.StartPredict({"m:ps_0", "", -1}, LookupRequest(n), absl::Seconds(30)));
  RECSHIP_RETURN_IF_ERROR(call->Wait());
  if (!call->response().outputs().contains("t")) return absl::DataLossError("no output t");
  return call->address();
}

TEST(ReplicaTest, ADownReplicaIsFailedOverAndNoCallFails) {
  FakeServer live(absl::ZeroDuration());
  const std::string dead = DeadAddress();
  auto caller = Caller("ps_0=" + dead + "|" + live.address(), {.hedge = absl::ZeroDuration()});
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> answered = CallOnce(*caller);
    ASSERT_OK(answered.status()) << "call " << i;
    EXPECT_EQ(*answered, live.address());
  }
  // The dead replica was ejected after its first failure: most calls never
  // tried it (it is probed again after a backoff of at least 100 ms).
  EXPECT_EQ(live.service().requests().size(), 20u);
}

TEST(ReplicaTest, ASlowReplicaIsHedgedAndTheCallReturnsTheOtherAnswer) {
  FakeServer stuck(absl::Seconds(20));  // A stopped host: it never answers in time.
  FakeServer fast(absl::ZeroDuration());
  // The slow replica first, so the first attempt goes to it.
  auto caller = Caller("ps_0=" + stuck.address() + "|" + fast.address(),
                       {.timeout = absl::Seconds(10), .hedge = absl::Milliseconds(50)});
  absl::StatusOr<std::string> answered = CallOnce(*caller);
  ASSERT_OK(answered.status());
  EXPECT_EQ(*answered, fast.address());
  // Without the hedge the call would have ended in DEADLINE_EXCEEDED (10 s
  // timeout, 20 s delay); the stuck replica's call was cancelled.
  auto until = absl::Now() + absl::Seconds(5);
  while (stuck.service().requests().empty() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(stuck.service().requests().size(), 1u);  // Its handler saw the cancel.
}

TEST(ReplicaTest, EveryReplicaDownFailsOrAnswersZeroRowsWhenAsked) {
  auto live = std::make_unique<FakeServer>(absl::ZeroDuration());
  const std::string address = live->address();
  auto failing = Caller("ps_0=" + address, {.hedge = absl::ZeroDuration()});
  auto zeros = Caller("ps_0=" + address, {.hedge = absl::ZeroDuration(), .zeros_on_failure = true});
  ASSERT_OK(CallOnce(*zeros).status());  // Learns the answer's row shape.
  live.reset();
  EXPECT_TRUE(IsError(CallOnce(*failing).status(), Code::kUnavailable));
  ASSERT_OK_AND_ASSIGN(auto call,
                       zeros->StartPredict({"m:ps_0", "", -1}, LookupRequest(5), absl::Seconds(5)));
  ASSERT_OK(call->Wait());
  ASSERT_OK_AND_ASSIGN(Tensor rows, TensorFromProto(call->response().outputs().at("t")));
  EXPECT_TRUE(rows.Equals(Tensor::Create(DT_INT64, {5}).value())) << ShapeToString(rows.shape());
  EXPECT_EQ(zeros->zero_answers(), 1);
}

TEST(ReplicaTest, TheCallerTimeoutCapsTheDeadline) {
  FakeServer slow(absl::Seconds(20));
  auto caller = Caller("ps_0=" + slow.address(),
                       {.timeout = absl::Milliseconds(200), .hedge = absl::ZeroDuration()});
  EXPECT_TRUE(IsError(CallOnce(*caller).status(), Code::kDeadlineExceeded));
}

TEST(ReplicaTest, ANameOfSeveralAddressesIsSpreadByRoundRobinPastADeadOne) {
  FakeServer a(absl::ZeroDuration()), b(absl::ZeroDuration());
  const std::string dead = DeadAddress();
  // What a DNS name with three A records gives gRPC, written out: one
  // channel whose round_robin policy skips the address that refuses.
  const std::string all = absl::StrCat("ipv4:", dead, ",", a.address(), ",", b.address());
  auto resolver = RemoteAddressResolver::Create("", all);
  ASSERT_OK(resolver.status());
  GrpcRemoteCaller caller(*std::move(resolver), {.hedge = absl::ZeroDuration()});
  for (int i = 0; i < 40; ++i) ASSERT_OK(CallOnce(caller).status()) << "call " << i;
  // Both live addresses took calls.
  EXPECT_GT(a.service().requests().size(), 5u);
  EXPECT_GT(b.service().requests().size(), 5u);
}

}  // namespace
}  // namespace recship
