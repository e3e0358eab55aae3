// runtime/: the Session and the kernel registry, on small graphs built by
// hand: every op of the op table gets a kernel and bad attrs or unknown ops
// fail CreateKernel; feeds (placeholders, PlaceholderWithDefault, intermediate
// tensors), roots limiting what gets kernels, cycles, control inputs and
// targets, malformed graphs and errors naming nodes, and concurrent runs on a
// shared thread pool agreeing with a reference computation.
#include "recship/runtime/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/core/thread_pool.h"
#include "recship/format/tensor.h"
#include "recship/graph/op_table.h"
#include "recship/runtime/kernel.h"
#include "recship/tensorflow/core/framework/attr_value.pb.h"
#include "recship/tensorflow/core/framework/node_def.pb.h"
#include "recship/tensorflow/core/framework/types.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::BoolAttr;
using ::recship::testing::FloatAttr;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IntAttr;
using ::recship::testing::IntListAttr;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::NaiveMatMul;
using ::recship::testing::RandomFloats;
using ::recship::testing::RunOne;
using ::recship::testing::Scalar;
using ::recship::testing::ShapeAttr;
using ::recship::testing::StrAttr;
using ::recship::testing::Strings;
using ::recship::testing::StringsAre;
using ::recship::testing::T1;
using ::recship::testing::TensorAttr;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using ::recship::testing::TypeListAttr;
using ::recship::testing::VarAttrs;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// The registry covers the op table.

// A value for `attr` that every kernel of the op set accepts.
bool AttrFor(absl::string_view attr, tensorflow::AttrValue* v) {
  for (absl::string_view t :
       {"T", "dtype", "Tparams", "SrcT", "DstT", "value_dtype", "Tout", "Tvalues", "type"}) {
    if (attr == t) return (*v = TypeAttr(DT_FLOAT), true);
  }
  for (absl::string_view t : {"Tidx", "Tindices", "Taxis", "Tshape", "Tdim", "index_type",
                              "out_type", "out_idx", "Tnumsegments"}) {
    if (attr == t) return (*v = TypeAttr(DT_INT32), true);
  }
  for (absl::string_view t : {"key_dtype", "Tin", "Tkeys"}) {
    if (attr == t) return (*v = TypeAttr(DT_INT64), true);
  }
  for (absl::string_view t :
       {"transpose_a", "transpose_b", "keep_dims", "Truncate", "use_node_name_sharing"}) {
    if (attr == t) return (*v = BoolAttr(false), true);
  }
  for (absl::string_view t : {"container", "shared_name"}) {
    if (attr == t) return (*v = StrAttr(""), true);
  }
  if (attr == "N" || attr == "num_partitions") return (*v = IntAttr(2), true);
  if (attr == "axis" || attr == "batch_dims") return (*v = IntAttr(0), true);
  if (attr == "initial_num_buckets") return (*v = IntAttr(64), true);
  if (attr == "max_load_factor") return (*v = FloatAttr(0.8f), true);
  if (attr == "data_format") return (*v = StrAttr("NHWC"), true);
  if (attr == "shape" || attr == "value_shape") return (*v = ShapeAttr({2}), true);
  if (attr == "value") return (*v = TensorAttr(Scalar<float>(1.5f)), true);
  if (attr == "squeeze_dims") return (*v = IntListAttr({}), true);
  if (attr == "dtypes" || attr == "output_types") return (*v = TypeListAttr({DT_FLOAT}), true);
  // TfServingRemotePredict's.
  if (attr == "target_address" || attr == "model_name" || attr == "signature_name") {
    return (*v = StrAttr("x"), true);
  }
  if (attr == "model_version" || attr == "max_rpc_deadline_millis") {
    return (*v = IntAttr(1), true);
  }
  if (attr == "fail_op_on_rpc_error") return (*v = BoolAttr(true), true);
  return false;
}

TEST(KernelRegistryTest, EverySupportedOpHasAKernel) {
  int with_kernel = 0;
  for (const OpInfo& info : SupportedOps()) {
    tensorflow::NodeDef node;
    node.set_name(absl::StrCat("node_", info.name));
    node.set_op(std::string(info.name));
    for (absl::string_view attr : info.attrs) {
      tensorflow::AttrValue value;
      ASSERT_TRUE(AttrFor(attr, &value))
          << "no test value for attr " << attr << " of " << info.name;
      (*node.mutable_attr())[std::string(attr)] = value;
    }
    absl::StatusOr<std::unique_ptr<OpKernel>> kernel = CreateKernel(node);
    EXPECT_OK(kernel) << info.name;
    EXPECT_TRUE(!kernel.ok() || *kernel != nullptr) << info.name;
    if (kernel.ok()) ++with_kernel;
  }
  EXPECT_EQ(with_kernel, static_cast<int>(SupportedOps().size()));
}

TEST(KernelRegistryTest, MissingAttrOrUnknownOpFailsCreateKernel) {
  tensorflow::NodeDef node;
  node.set_name("mm");
  node.set_op("MatMul");
  (*node.mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  (*node.mutable_attr())["transpose_a"] = BoolAttr(false);
  EXPECT_TRUE(IsError(CreateKernel(node).status(), Code::kInvalidArgument, {"mm", "transpose_b"}));

  node.set_op("StringJoin");
  EXPECT_TRUE(IsError(CreateKernel(node).status(), Code::kUnimplemented, {"StringJoin"}));

  // Attrs the kernel reads and rejects.
  tensorflow::NodeDef bias;
  bias.set_name("bias");
  bias.set_op("BiasAdd");
  (*bias.mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  (*bias.mutable_attr())["data_format"] = StrAttr("NCHW");
  EXPECT_FALSE(CreateKernel(bias).ok());

  tensorflow::NodeDef part;
  part.set_name("part");
  part.set_op("DynamicPartition");
  (*part.mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  (*part.mutable_attr())["num_partitions"] = IntAttr(0);
  EXPECT_FALSE(CreateKernel(part).ok());
}

// ---------------------------------------------------------------------------
// Session behaviour.

TEST(SessionTest, FeedsPlaceholders) {
  GraphBuilder g;
  g.Placeholder("x", DT_FLOAT);
  g.Op("y", "Square", {"x"}, DT_FLOAT);
  g.Op("z", "Relu", {"y"}, DT_FLOAT);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                       session->Run({{"x", T1<float>({-3, 2})}}, {"y", "x:0"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {2}, {9, 4}));
  EXPECT_TRUE(TensorIs<float>(out[1], {2}, {-3, 2}));
  // Feeding an intermediate tensor skips what computes it, placeholder included.
  ASSERT_OK_AND_ASSIGN(out, session->Run({{"y", T1<float>({-1, 5})}}, {"z"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {2}, {0, 5}));
}

TEST(SessionTest, UnfedPlaceholderIsAnErrorNamingIt) {
  GraphBuilder g;
  g.Placeholder("features", DT_FLOAT);
  g.Op("y", "Square", {"features"}, DT_FLOAT);
  EXPECT_TRUE(IsError(RunOne(g, "y").status(), Code::kInvalidArgument, {"features", "fed"}));
}

TEST(SessionTest, PlaceholderWithDefault) {
  GraphBuilder g;
  g.Add("p", "PlaceholderWithDefault", {g.Const("default", T1<int32_t>({1, 2}))},
        {{"dtype", TypeAttr(DT_INT32)}, {"shape", ShapeAttr({2})}});
  g.Op("y", "Square", {"p"}, DT_INT32);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> unfed, session->Run({}, {"y"}, {}));
  EXPECT_TRUE(TensorIs<int32_t>(unfed[0], {2}, {1, 4}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> fed,
                       session->Run({{"p", T1<int32_t>({5, 6})}}, {"y"}, {}));
  EXPECT_TRUE(TensorIs<int32_t>(fed[0], {2}, {25, 36}));
}

TEST(SessionTest, UnsupportedOpFailsCreateNamingNodeAndOp) {
  GraphBuilder g;
  g.Const("s", Strings({"a"}));
  g.Add("joined_features", "StringJoin", {"s"}, {{"N", IntAttr(1)}});
  EXPECT_TRUE(IsAnyError(Session::Create(g.graph()).status(), {"joined_features", "StringJoin"}));
}

TEST(SessionTest, RootsLimitWhatGetsKernels) {
  GraphBuilder g;
  g.Const("s", Strings({"a"}));
  g.Op("id", "Identity", {"s"}, DT_STRING);
  g.Add("join", "StringJoin", {"s"}, {{"N", IntAttr(1)}});
  g.Op("after_join", "Identity", {"join"}, DT_STRING);
  SessionOptions options;
  options.roots = {"id:0"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph(), options));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"id"}, {}));
  EXPECT_TRUE(StringsAre(out[0], {1}, {"a"}));
  EXPECT_TRUE(IsError(session->Run({}, {"after_join"}, {}).status(), Code::kFailedPrecondition,
                      {"after_join"}));
  // A root depending on the unsupported op still fails.
  options.roots = {"^after_join"};
  EXPECT_TRUE(IsAnyError(Session::Create(g.graph(), options).status(), {"join", "StringJoin"}));
  options.roots = {"nowhere"};
  EXPECT_TRUE(IsError(Session::Create(g.graph(), options).status(), Code::kNotFound, {"nowhere"}));
}

TEST(SessionTest, CycleIsDetected) {
  GraphBuilder g;
  g.Const("c", Scalar<float>(1));
  g.Op("a", "AddV2", {"c", "b"}, DT_FLOAT);
  g.Op("b", "Identity", {"a"}, DT_FLOAT);
  g.Op("out", "Identity", {"b"}, DT_FLOAT);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  EXPECT_TRUE(IsError(session->Run({}, {"out"}, {}).status(), Code::kInvalidArgument, {"cycle"}));
  // Feeding into the cycle breaks it.
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({{"b", Scalar<float>(2)}}, {"a"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {}, {3}));
}

TEST(SessionTest, ControlInputsTargetsAndBadNames) {
  GraphBuilder g;
  g.Add("v", "VarHandleOp", {}, VarAttrs("counter", DT_INT64));
  g.Add("assign", "AssignVariableOp", {"v", g.Const("value", Scalar<int64_t>(5))},
        {{"dtype", TypeAttr(DT_INT64)}});
  g.Add("init", "NoOp", {"^assign"});
  g.Add("read", "ReadVariableOp", {"v"}, {{"dtype", TypeAttr(DT_INT64)}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> none, session->Run({}, {}, {"init"}));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"read"}, {}));
  EXPECT_TRUE(TensorIs<int64_t>(out[0], {}, {5}));

  EXPECT_TRUE(IsError(session->Run({}, {"missing"}, {}).status(), Code::kNotFound, {"missing"}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"gone"}).status(), Code::kNotFound, {"gone"}));
  EXPECT_TRUE(IsError(session->Run({{"nope", Scalar<int64_t>(1)}}, {"read"}, {}).status(),
                      Code::kInvalidArgument, {"nope"}));
  EXPECT_FALSE(session->Run({}, {"read:3"}, {}).ok());
}

TEST(SessionTest, MalformedGraphsFailCreate) {
  GraphBuilder twice;
  twice.Const("c", Scalar<float>(1));
  twice.Const("c", Scalar<float>(2));
  EXPECT_TRUE(IsError(Session::Create(twice.graph()).status(), Code::kInvalidArgument, {"'c'"}));
  GraphBuilder dangling;
  dangling.Op("id", "Identity", {"ghost"}, DT_FLOAT);
  EXPECT_TRUE(
      IsError(Session::Create(dangling.graph()).status(), Code::kInvalidArgument, {"id", "ghost"}));
  GraphBuilder missing_attr;
  missing_attr.Add("id", "Identity", {missing_attr.Const("c", Scalar<float>(1))});
  EXPECT_TRUE(IsError(Session::Create(missing_attr.graph()).status(), Code::kInvalidArgument,
                      {"id", "'T'"}));
}

TEST(SessionTest, ConcurrentRunsAgree) {
  ThreadPool pool(2);
  const int64_t batch = 64, in = 200, out = 100;
  std::vector<float> w = RandomFloats(in * out, 21), bias = RandomFloats(out, 22);
  GraphBuilder g;
  g.Placeholder("x", DT_FLOAT);
  g.Add("mm", "MatMul", {"x", g.Const("w", Tensor::FromVector<float>({in, out}, w))},
        {{"T", TypeAttr(DT_FLOAT)},
         {"transpose_a", BoolAttr(false)},
         {"transpose_b", BoolAttr(false)}});
  g.Add("ba", "BiasAdd", {"mm", g.Const("bias", T1<float>(bias))},
        {{"T", TypeAttr(DT_FLOAT)}, {"data_format", StrAttr("NHWC")}});
  g.Op("y", "Relu", {"ba"}, DT_FLOAT);
  SessionOptions options;
  options.thread_pool = &pool;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph(), options));

  constexpr int kThreads = 8;
  std::vector<std::vector<float>> inputs(kThreads), expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    // Half the threads share one input, so they must agree with each other too.
    inputs[t] = RandomFloats(batch * in, 100 + t % 4);
    expected[t] = NaiveMatMul(inputs[t], batch, in, w, in, out, false, false);
    for (int64_t r = 0; r < batch; ++r) {
      for (int64_t c = 0; c < out; ++c) {
        float& v = expected[t][r * out + c];
        v = std::max(0.0f, v + bias[c]);
      }
    }
  }
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Tensor x = Tensor::FromVector<float>({batch, in}, inputs[t]);
      for (int i = 0; i < 20; ++i) {
        absl::StatusOr<std::vector<Tensor>> result = session->Run({{"x", x}}, {"y"}, {});
        if (!result.ok() || !TensorIs<float>((*result)[0], {batch, out}, expected[t], 1e-4)) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace recship
