// runtime/: every kernel of the supported op set, run through a Session on
// small graphs built by hand and checked against values worked out here (by
// hand or by a plain reference loop), and the Session's own behaviour:
// feeds, roots, cycles, errors naming nodes, concurrent runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph_builder.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
#include "recship/graph/op_table.h"
#include "recship/runtime/kernel.h"
#include "recship/runtime/session.h"
#include "tensorflow/core/framework/attr_value.pb.h"
#include "tensorflow/core/framework/graph.pb.h"
#include "tensorflow/core/framework/node_def.pb.h"
#include "test_util.h"

namespace recship::runtime {
namespace {

using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using ::tensorflow::DT_BOOL;
using ::tensorflow::DT_DOUBLE;
using ::tensorflow::DT_FLOAT;
using ::tensorflow::DT_INT32;
using ::tensorflow::DT_INT64;
using ::tensorflow::DT_STRING;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// Building graphs by hand.

using ::recship::testing::Attrs;
using ::recship::testing::BoolAttr;
using ::recship::testing::FloatAttr;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IntAttr;
using ::recship::testing::IntListAttr;
using ::recship::testing::ShapeAttr;
using ::recship::testing::StrAttr;
using ::recship::testing::TensorAttr;
using ::recship::testing::TypeAttr;
using ::recship::testing::TypeListAttr;
using ::recship::testing::UnknownShapeAttr;

absl::StatusOr<std::vector<Tensor>> RunGraph(const GraphBuilder& g,
                                             const std::vector<std::string>& fetches,
                                             const std::vector<NamedTensor>& feeds = {},
                                             const ThreadPool* pool = nullptr) {
  SessionOptions options;
  options.thread_pool = pool;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g.graph(), options);
  if (!session.ok()) return session.status();
  return (*session)->Run(feeds, fetches, {});
}

absl::StatusOr<Tensor> RunOne(const GraphBuilder& g, const std::string& fetch,
                              const std::vector<NamedTensor>& feeds = {},
                              const ThreadPool* pool = nullptr) {
  absl::StatusOr<std::vector<Tensor>> out = RunGraph(g, {fetch}, feeds, pool);
  if (!out.ok()) return out.status();
  return (*out)[0];
}

// op(a, b), an op whose only attr is T.
absl::StatusOr<Tensor> RunBinary(const std::string& op, const Tensor& a, const Tensor& b) {
  GraphBuilder g;
  g.Op("z", op, {g.Const("a", a), g.Const("b", b)}, a.dtype());
  return RunOne(g, "z");
}

absl::StatusOr<Tensor> RunUnary(const std::string& op, const Tensor& x) {
  GraphBuilder g;
  g.Op("y", op, {g.Const("x", x)}, x.dtype());
  return RunOne(g, "y");
}

template <typename T>
Tensor T1(const std::vector<T>& values) {
  return Tensor::FromVector<T>({static_cast<int64_t>(values.size())}, values);
}
template <typename T>
Tensor Scalar(T value) {
  return Tensor::FromVector<T>({}, {value});
}
Tensor Strings(const std::vector<std::string>& values) {
  return Tensor::FromStrings({static_cast<int64_t>(values.size())}, values);
}

// Success when `t` has T's dtype, `shape` and `values`; floats match within
// `tolerance` (absolute below 1, relative above); NaN matches NaN.
template <typename T>
::testing::AssertionResult TensorIs(const Tensor& t, const TensorShape& shape,
                                    const std::vector<T>& values, double tolerance = 1e-6) {
  if (t.dtype() != DataTypeOf<T>()) {
    return ::testing::AssertionFailure()
           << "dtype " << DataTypeName(t.dtype()) << ", expected " << DataTypeName(DataTypeOf<T>());
  }
  if (t.shape() != shape) {
    return ::testing::AssertionFailure()
           << "shape " << ShapeToString(t.shape()) << ", expected " << ShapeToString(shape);
  }
  if (static_cast<size_t>(t.num_elements()) != values.size()) {
    return ::testing::AssertionFailure() << "expected values do not fit the shape";
  }
  auto flat = t.flat<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    T actual = flat[i];
    T expected = values[i];
    bool same = actual == expected;
    if constexpr (std::is_floating_point_v<T>) {
      double a = actual, e = expected;
      same = (std::isnan(a) && std::isnan(e)) || a == e ||
             (std::isfinite(e) && std::abs(a - e) <= tolerance * std::max(1.0, std::abs(e)));
    }
    if (!same) {
      return ::testing::AssertionFailure()
             << "element " << i << " is " << actual << ", expected " << expected;
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult StringsAre(const Tensor& t, const TensorShape& shape,
                                      const std::vector<std::string>& values) {
  if (t.dtype() != DT_STRING || t.shape() != shape || t.strings() != values) {
    return ::testing::AssertionFailure()
           << "not the expected strings, got " << DataTypeName(t.dtype()) << " "
           << ShapeToString(t.shape());
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// ---------------------------------------------------------------------------
// The registry covers the op table.

// A value for `attr` that every kernel of the op set accepts.
bool AttrFor(absl::string_view attr, tensorflow::AttrValue* v) {
  for (absl::string_view t : {"T", "dtype", "Tparams", "SrcT", "DstT", "value_dtype", "Tout"}) {
    if (attr == t) return (*v = TypeAttr(DT_FLOAT), true);
  }
  for (absl::string_view t : {"Tidx", "Tindices", "Taxis", "Tshape", "Tdim", "index_type",
                              "out_type", "out_idx", "Tnumsegments"}) {
    if (attr == t) return (*v = TypeAttr(DT_INT32), true);
  }
  for (absl::string_view t : {"key_dtype", "Tin"}) {
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
  for (const graph::OpInfo& info : graph::SupportedOps()) {
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
  EXPECT_EQ(with_kernel, static_cast<int>(graph::SupportedOps().size()));
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
// Element-wise binary ops.

TEST(BinaryKernelTest, SameShape) {
  Tensor a = Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::FromVector<float>({2, 2}, {10, 20, 30, 40});
  ASSERT_OK_AND_ASSIGN(Tensor add, RunBinary("AddV2", a, b));
  EXPECT_TRUE(TensorIs<float>(add, {2, 2}, {11, 22, 33, 44}));
  ASSERT_OK_AND_ASSIGN(Tensor sub, RunBinary("Sub", a, b));
  EXPECT_TRUE(TensorIs<float>(sub, {2, 2}, {-9, -18, -27, -36}));
  ASSERT_OK_AND_ASSIGN(Tensor mul, RunBinary("Mul", a, b));
  EXPECT_TRUE(TensorIs<float>(mul, {2, 2}, {10, 40, 90, 160}));
  ASSERT_OK_AND_ASSIGN(Tensor div, RunBinary("RealDiv", b, a));
  EXPECT_TRUE(TensorIs<float>(div, {2, 2}, {10, 10, 10, 10}));
  ASSERT_OK_AND_ASSIGN(Tensor max,
                       RunBinary("Maximum", a, Tensor::FromVector<float>({2, 2}, {0, 5, -3, 4})));
  EXPECT_TRUE(TensorIs<float>(max, {2, 2}, {1, 5, 3, 4}));
}

TEST(BinaryKernelTest, IntegerAndDoubleDtypes) {
  ASSERT_OK_AND_ASSIGN(Tensor add, RunBinary("AddV2", T1<int64_t>({1, -2, int64_t{1} << 40}),
                                             T1<int64_t>({5, 5, 1})));
  EXPECT_TRUE(TensorIs<int64_t>(add, {3}, {6, 3, (int64_t{1} << 40) + 1}));
  ASSERT_OK_AND_ASSIGN(Tensor mul, RunBinary("Mul", T1<int32_t>({3, -4}), T1<int32_t>({7, 5})));
  EXPECT_TRUE(TensorIs<int32_t>(mul, {2}, {21, -20}));
  ASSERT_OK_AND_ASSIGN(Tensor sub, RunBinary("Sub", T1<double>({0.5}), T1<double>({0.25})));
  EXPECT_TRUE(TensorIs<double>(sub, {1}, {0.25}));
  // Integer division truncates toward zero, as in C++ and TensorFlow's Div.
  ASSERT_OK_AND_ASSIGN(
      Tensor div, RunBinary("RealDiv", T1<int32_t>({7, -7, 7, -7}), T1<int32_t>({2, 2, -2, -2})));
  EXPECT_TRUE(TensorIs<int32_t>(div, {4}, {3, -3, -3, 3}));
  ASSERT_OK_AND_ASSIGN(Tensor max,
                       RunBinary("Maximum", T1<int64_t>({-5, 9}), T1<int64_t>({-6, 10})));
  EXPECT_TRUE(TensorIs<int64_t>(max, {2}, {-5, 10}));
}

TEST(BinaryKernelTest, FloatDivisionByZeroIsInfinity) {
  ASSERT_OK_AND_ASSIGN(Tensor div, RunBinary("RealDiv", T1<float>({1, -1}), T1<float>({0, 0})));
  ASSERT_TRUE(TensorIs<float>(
      div, {2}, {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}));
}

TEST(BinaryKernelTest, IntegerDivisionByZeroIsAnError) {
  EXPECT_TRUE(IsError(RunBinary("RealDiv", T1<int32_t>({1, 2}), T1<int32_t>({1, 0})).status(),
                      Code::kInvalidArgument, {"'z'", "RealDiv", "division by zero"}));
  EXPECT_TRUE(IsError(RunBinary("FloorMod", T1<int64_t>({1, 2}), T1<int64_t>({0, 3})).status(),
                      Code::kInvalidArgument, {"'z'", "FloorMod", "division by zero"}));
  // A broadcast zero divisor too.
  EXPECT_TRUE(IsError(
      RunBinary("RealDiv", Tensor::FromVector<int32_t>({2, 2}, {1, 2, 3, 4}), Scalar<int32_t>(0))
          .status(),
      Code::kInvalidArgument, {"division by zero"}));
}

TEST(BinaryKernelTest, FloorModHasFloorSemantics) {
  // Python's %: the result has the divisor's sign.
  ASSERT_OK_AND_ASSIGN(Tensor ints, RunBinary("FloorMod", T1<int32_t>({-7, 7, -7, 7, 0, -8, 9, -1}),
                                              T1<int32_t>({4, 4, -4, -4, 3, 4, -3, 5})));
  EXPECT_TRUE(TensorIs<int32_t>(ints, {8}, {1, 3, -3, -1, 0, 0, 0, 4}));
  ASSERT_OK_AND_ASSIGN(
      Tensor longs,
      RunBinary("FloorMod", T1<int64_t>({std::numeric_limits<int64_t>::min(), -7, 12345678901234}),
                T1<int64_t>({-1, 4, -1000})));
  EXPECT_TRUE(TensorIs<int64_t>(longs, {3}, {0, 1, -766}));
  ASSERT_OK_AND_ASSIGN(Tensor floats, RunBinary("FloorMod", T1<float>({-7.5f, 7.5f, -7.5f, 6.0f}),
                                                T1<float>({2.0f, -2.0f, -2.0f, 3.0f})));
  EXPECT_TRUE(TensorIs<float>(floats, {4}, {0.5f, -0.5f, -1.5f, 0.0f}));
  // Broadcast scalar divisor.
  ASSERT_OK_AND_ASSIGN(
      Tensor bc, RunBinary("FloorMod", T1<int64_t>({-3, -2, -1, 0, 1, 2, 3}), Scalar<int64_t>(3)));
  EXPECT_TRUE(TensorIs<int64_t>(bc, {7}, {0, 1, 2, 0, 1, 2, 0}));
}

TEST(BinaryKernelTest, MaximumPropagatesNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  ASSERT_OK_AND_ASSIGN(Tensor max,
                       RunBinary("Maximum", T1<float>({nan, 1, nan}), T1<float>({1, nan, nan})));
  auto v = max.flat<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_TRUE(std::isnan(v[2]));
}

TEST(BinaryKernelTest, BroadcastsScalarsBothWays) {
  Tensor m = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor right, RunBinary("Sub", m, Scalar<float>(1)));
  EXPECT_TRUE(TensorIs<float>(right, {2, 3}, {0, 1, 2, 3, 4, 5}));
  ASSERT_OK_AND_ASSIGN(Tensor left, RunBinary("Sub", Scalar<float>(10), m));
  EXPECT_TRUE(TensorIs<float>(left, {2, 3}, {9, 8, 7, 6, 5, 4}));
  ASSERT_OK_AND_ASSIGN(Tensor div, RunBinary("RealDiv", Scalar<float>(12), m));
  EXPECT_TRUE(TensorIs<float>(div, {2, 3}, {12, 6, 4, 3, 2.4f, 2}));
  // A one-element tensor of higher rank broadcasts too, and sets the rank.
  ASSERT_OK_AND_ASSIGN(Tensor ranked, RunBinary("AddV2", T1<float>({1, 2, 3}),
                                                Tensor::FromVector<float>({1, 1}, {5})));
  EXPECT_TRUE(TensorIs<float>(ranked, {1, 3}, {6, 7, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor scalars, RunBinary("Mul", Scalar<int32_t>(6), Scalar<int32_t>(7)));
  EXPECT_TRUE(TensorIs<int32_t>(scalars, {}, {42}));
}

TEST(BinaryKernelTest, BroadcastsRowVector) {
  Tensor m = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor row = T1<float>({10, 20, 30});
  ASSERT_OK_AND_ASSIGN(Tensor add, RunBinary("AddV2", m, row));
  EXPECT_TRUE(TensorIs<float>(add, {2, 3}, {11, 22, 33, 14, 25, 36}));
  ASSERT_OK_AND_ASSIGN(Tensor sub, RunBinary("Sub", row, m));
  EXPECT_TRUE(TensorIs<float>(sub, {2, 3}, {9, 18, 27, 6, 15, 24}));
  ASSERT_OK_AND_ASSIGN(Tensor max, RunBinary("Maximum", m, T1<float>({3, 3, 3})));
  EXPECT_TRUE(TensorIs<float>(max, {2, 3}, {3, 3, 3, 4, 5, 6}));
}

TEST(BinaryKernelTest, BroadcastsColumnAgainstRow) {
  // [B,1] op [1,C] -> [B,C].
  Tensor col = Tensor::FromVector<int64_t>({3, 1}, {1, 2, 3});
  Tensor row = Tensor::FromVector<int64_t>({1, 4}, {10, 20, 30, 40});
  ASSERT_OK_AND_ASSIGN(Tensor mul, RunBinary("Mul", col, row));
  std::vector<int64_t> expected;
  for (int64_t i = 1; i <= 3; ++i) {
    for (int64_t j = 1; j <= 4; ++j) expected.push_back(i * j * 10);
  }
  EXPECT_TRUE(TensorIs<int64_t>(mul, {3, 4}, expected));
  ASSERT_OK_AND_ASSIGN(Tensor sub, RunBinary("Sub", row, col));
  expected.clear();
  for (int64_t i = 1; i <= 3; ++i) {
    for (int64_t j = 1; j <= 4; ++j) expected.push_back(j * 10 - i);
  }
  EXPECT_TRUE(TensorIs<int64_t>(sub, {3, 4}, expected));
}

TEST(BinaryKernelTest, BroadcastsAcrossRanks) {
  // [2,1,3] op [4,1] -> [2,4,3], against a reference loop.
  std::vector<float> av = RandomFloats(6, 1), bv = RandomFloats(4, 2);
  Tensor a = Tensor::FromVector<float>({2, 1, 3}, av);
  Tensor b = Tensor::FromVector<float>({4, 1}, bv);
  ASSERT_OK_AND_ASSIGN(Tensor add, RunBinary("AddV2", a, b));
  ASSERT_OK_AND_ASSIGN(Tensor sub, RunBinary("Sub", b, a));
  std::vector<float> sum, diff;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      for (int k = 0; k < 3; ++k) {
        sum.push_back(av[i * 3 + k] + bv[j]);
        diff.push_back(bv[j] - av[i * 3 + k]);
      }
    }
  }
  EXPECT_TRUE(TensorIs<float>(add, {2, 4, 3}, sum));
  EXPECT_TRUE(TensorIs<float>(sub, {2, 4, 3}, diff));
}

TEST(BinaryKernelTest, EmptyBatch) {
  ASSERT_OK_AND_ASSIGN(
      Tensor add, RunBinary("AddV2", Tensor::FromVector<float>({0, 3}, {}), T1<float>({1, 2, 3})));
  EXPECT_TRUE(TensorIs<float>(add, {0, 3}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor mul, RunBinary("Mul", Tensor::FromVector<float>({0, 1}, {}),
                                             Tensor::FromVector<float>({1, 3}, {1, 2, 3})));
  EXPECT_TRUE(TensorIs<float>(mul, {0, 3}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor scalar,
                       RunBinary("Maximum", Scalar<float>(1), Tensor::FromVector<float>({0}, {})));
  EXPECT_TRUE(TensorIs<float>(scalar, {0}, {}));
}

TEST(BinaryKernelTest, BadShapesAndDtypes) {
  EXPECT_TRUE(IsError(RunBinary("AddV2", T1<float>({1, 2, 3}), T1<float>({1, 2})).status(),
                      Code::kInvalidArgument, {"'z'", "[3]", "[2]"}));
  EXPECT_TRUE(IsError(RunBinary("Mul", Tensor::FromVector<float>({2, 3}, std::vector<float>(6)),
                                Tensor::FromVector<float>({3, 2}, std::vector<float>(6)))
                          .status(),
                      Code::kInvalidArgument));
  EXPECT_TRUE(IsError(RunBinary("AddV2", T1<float>({1}), T1<int32_t>({1})).status(),
                      Code::kInvalidArgument, {"'z'"}));
  EXPECT_FALSE(RunBinary("AddV2", T1<bool>({true}), T1<bool>({true})).ok());
}

// ---------------------------------------------------------------------------
// Element-wise unary ops.

TEST(UnaryKernelTest, FloatFunctionsMatchTheStandardLibrary) {
  std::vector<float> x = {-3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 2.0f, 10.0f};
  std::vector<float> positive = {0.01f, 0.25f, 1.0f, 2.0f, 9.0f, 1e6f};
  struct Case {
    const char* op;
    const std::vector<float>* in;
    double (*f)(double);
  };
  const Case cases[] = {
      {"Sigmoid", &x, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"Tanh", &x, [](double v) { return std::tanh(v); }},
      {"Exp", &x, [](double v) { return std::exp(v); }},
      {"Relu", &x, [](double v) { return v > 0 ? v : 0.0; }},
      {"Square", &x, [](double v) { return v * v; }},
      {"Log", &positive, [](double v) { return std::log(v); }},
      {"Sqrt", &positive, [](double v) { return std::sqrt(v); }},
      {"Rsqrt", &positive, [](double v) { return 1.0 / std::sqrt(v); }},
  };
  for (const Case& c : cases) {
    std::vector<float> expected;
    for (float v : *c.in) expected.push_back(static_cast<float>(c.f(v)));
    TensorShape shape = {static_cast<int64_t>(c.in->size())};
    ASSERT_OK_AND_ASSIGN(Tensor y, RunUnary(c.op, Tensor::FromVector<float>(shape, *c.in)));
    EXPECT_TRUE(TensorIs<float>(y, shape, expected, 1e-5)) << c.op;
    // Same values as a [B,1] matrix and in double.
    std::vector<double> xd(c.in->begin(), c.in->end());
    TensorShape column = {shape[0], 1};
    ASSERT_OK_AND_ASSIGN(Tensor yd, RunUnary(c.op, Tensor::FromVector<double>(column, xd)));
    std::vector<double> expected_d;
    for (double v : xd) expected_d.push_back(c.f(v));
    EXPECT_TRUE(TensorIs<double>(yd, column, expected_d, 1e-12)) << c.op;
  }
}

TEST(UnaryKernelTest, SpecialValues) {
  ASSERT_OK_AND_ASSIGN(Tensor log, RunUnary("Log", T1<float>({0, -1})));
  EXPECT_EQ(log.flat<float>()[0], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(log.flat<float>()[1]));
  ASSERT_OK_AND_ASSIGN(Tensor sqrt, RunUnary("Sqrt", T1<float>({0, -4})));
  EXPECT_EQ(sqrt.flat<float>()[0], 0.0f);
  EXPECT_TRUE(std::isnan(sqrt.flat<float>()[1]));
  ASSERT_OK_AND_ASSIGN(Tensor sigmoid, RunUnary("Sigmoid", T1<float>({-200, 200})));
  EXPECT_TRUE(TensorIs<float>(sigmoid, {2}, {0, 1}));
  ASSERT_OK_AND_ASSIGN(Tensor tanh, RunUnary("Tanh", T1<float>({-50, 50})));
  EXPECT_TRUE(TensorIs<float>(tanh, {2}, {-1, 1}));
}

TEST(UnaryKernelTest, IntegerReluAndSquare) {
  ASSERT_OK_AND_ASSIGN(Tensor relu, RunUnary("Relu", T1<int32_t>({-5, 0, 7})));
  EXPECT_TRUE(TensorIs<int32_t>(relu, {3}, {0, 0, 7}));
  ASSERT_OK_AND_ASSIGN(Tensor square, RunUnary("Square", T1<int64_t>({-3, 0, 3000000})));
  EXPECT_TRUE(TensorIs<int64_t>(square, {3}, {9, 0, 9000000000000}));
  // The float-only ones refuse integers.
  EXPECT_TRUE(
      IsError(RunUnary("Sigmoid", T1<int32_t>({1})).status(), Code::kInvalidArgument, {"'y'"}));
  EXPECT_FALSE(RunUnary("Exp", T1<int64_t>({1})).ok());
}

TEST(UnaryKernelTest, EmptyAndBatchOne) {
  for (const char* op : {"Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Rsqrt", "Square", "Relu"}) {
    ASSERT_OK_AND_ASSIGN(Tensor y, RunUnary(op, Tensor::FromVector<float>({0, 4}, {})));
    EXPECT_TRUE(TensorIs<float>(y, {0, 4}, {})) << op;
  }
  ASSERT_OK_AND_ASSIGN(Tensor y, RunUnary("Square", Tensor::FromVector<float>({1, 2}, {3, -4})));
  EXPECT_TRUE(TensorIs<float>(y, {1, 2}, {9, 16}));
}

// ---------------------------------------------------------------------------
// MatMul and BiasAdd.

absl::StatusOr<Tensor> RunMatMul(const Tensor& a, const Tensor& b, bool transpose_a,
                                 bool transpose_b, const ThreadPool* pool = nullptr) {
  GraphBuilder g;
  g.Add("mm", "MatMul", {g.Const("a", a), g.Const("b", b)},
        {{"T", TypeAttr(a.dtype())},
         {"transpose_a", BoolAttr(transpose_a)},
         {"transpose_b", BoolAttr(transpose_b)}});
  return RunOne(g, "mm", {}, pool);
}

// C = op(A) * op(B) with A stored [rows_a, cols_a], by a triple loop.
std::vector<float> NaiveMatMul(const std::vector<float>& a, int64_t rows_a, int64_t cols_a,
                               const std::vector<float>& b, int64_t rows_b, int64_t cols_b,
                               bool transpose_a, bool transpose_b) {
  int64_t m = transpose_a ? cols_a : rows_a;
  int64_t k = transpose_a ? rows_a : cols_a;
  int64_t n = transpose_b ? rows_b : cols_b;
  auto at = [&](int64_t i, int64_t p) {
    return transpose_a ? a[p * cols_a + i] : a[i * cols_a + p];
  };
  auto bt = [&](int64_t p, int64_t j) {
    return transpose_b ? b[j * cols_b + p] : b[p * cols_b + j];
  };
  std::vector<float> c(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += double{at(i, p)} * double{bt(p, j)};
      c[i * n + j] = static_cast<float>(sum);
    }
  }
  return c;
}

TEST(MatMulKernelTest, SmallByHand) {
  Tensor a = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::FromVector<float>({3, 2}, {7, 8, 9, 10, 11, 12});
  ASSERT_OK_AND_ASSIGN(Tensor ab, RunMatMul(a, b, false, false));
  EXPECT_TRUE(TensorIs<float>(ab, {2, 2}, {58, 64, 139, 154}));
  // a^T [3,2] * a [2,3].
  ASSERT_OK_AND_ASSIGN(Tensor ata, RunMatMul(a, a, true, false));
  EXPECT_TRUE(TensorIs<float>(ata, {3, 3}, {17, 22, 27, 22, 29, 36, 27, 36, 45}));
  // a [2,3] * a^T [3,2].
  ASSERT_OK_AND_ASSIGN(Tensor aat, RunMatMul(a, a, false, true));
  EXPECT_TRUE(TensorIs<float>(aat, {2, 2}, {14, 32, 32, 77}));
  // b^T [2,3] * a^T [3,2] = (a b)^T.
  ASSERT_OK_AND_ASSIGN(Tensor btat, RunMatMul(b, a, true, true));
  EXPECT_TRUE(TensorIs<float>(btat, {2, 2}, {58, 139, 64, 154}));
  Tensor ad = Tensor::FromVector<double>({1, 2}, {0.5, 0.25});
  Tensor bd = Tensor::FromVector<double>({2, 1}, {4, 8});
  ASSERT_OK_AND_ASSIGN(Tensor d, RunMatMul(ad, bd, false, false));
  EXPECT_TRUE(TensorIs<double>(d, {1, 1}, {4}));
}

TEST(MatMulKernelTest, LargeThreadedProductMatchesNaiveLoop) {
  ThreadPool pool(2);
  const int64_t m = 300, k = 200, n = 100;
  std::vector<float> a = RandomFloats(m * k, 11), b = RandomFloats(k * n, 12);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor at = ta ? Tensor::FromVector<float>({k, m}, a) : Tensor::FromVector<float>({m, k}, a);
      Tensor bt = tb ? Tensor::FromVector<float>({n, k}, b) : Tensor::FromVector<float>({k, n}, b);
      ASSERT_OK_AND_ASSIGN(Tensor c, RunMatMul(at, bt, ta, tb, &pool));
      std::vector<float> expected =
          NaiveMatMul(a, at.shape()[0], at.shape()[1], b, bt.shape()[0], bt.shape()[1], ta, tb);
      EXPECT_TRUE(TensorIs<float>(c, {m, n}, expected, 1e-4)) << ta << tb;
    }
  }
  // The same product without a pool runs on the calling thread.
  ASSERT_OK_AND_ASSIGN(Tensor c, RunMatMul(Tensor::FromVector<float>({m, k}, a),
                                           Tensor::FromVector<float>({k, n}, b), false, false));
  EXPECT_TRUE(TensorIs<float>(c, {m, n}, NaiveMatMul(a, m, k, b, k, n, false, false), 1e-4));
}

TEST(MatMulKernelTest, EmptyAndBatchOne) {
  Tensor w = Tensor::FromVector<float>({4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  ASSERT_OK_AND_ASSIGN(Tensor empty,
                       RunMatMul(Tensor::FromVector<float>({0, 4}, {}), w, false, false));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 3}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor one,
                       RunMatMul(Tensor::FromVector<float>({1, 4}, {1, 2, 3, 4}), w, false, false));
  EXPECT_TRUE(TensorIs<float>(one, {1, 3}, {5, 6, 7}));
  // An empty inner dimension gives zeros.
  ASSERT_OK_AND_ASSIGN(Tensor zero_k,
                       RunMatMul(Tensor::FromVector<float>({2, 0}, {}),
                                 Tensor::FromVector<float>({0, 3}, {}), false, false));
  EXPECT_TRUE(TensorIs<float>(zero_k, {2, 3}, {0, 0, 0, 0, 0, 0}));
}

TEST(MatMulKernelTest, Errors) {
  Tensor a = Tensor::FromVector<float>({2, 3}, std::vector<float>(6, 1));
  EXPECT_TRUE(
      IsError(RunMatMul(a, a, false, false).status(), Code::kInvalidArgument, {"'mm'", "MatMul"}));
  EXPECT_FALSE(RunMatMul(T1<float>({1, 2}), a, false, false).ok());
  Tensor i = Tensor::FromVector<int32_t>({1, 1}, {1});
  EXPECT_FALSE(RunMatMul(i, i, false, false).ok());
  EXPECT_FALSE(RunMatMul(a, Tensor::FromVector<double>({3, 1}, {1, 1, 1}), false, false).ok());
}

absl::StatusOr<Tensor> RunBiasAdd(const Tensor& x, const Tensor& bias) {
  GraphBuilder g;
  g.Add("ba", "BiasAdd", {g.Const("x", x), g.Const("bias", bias)},
        {{"T", TypeAttr(x.dtype())}, {"data_format", StrAttr("NHWC")}});
  return RunOne(g, "ba");
}

TEST(BiasAddKernelTest, AddsAlongTheLastDimension) {
  ASSERT_OK_AND_ASSIGN(Tensor y, RunBiasAdd(Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6}),
                                            T1<float>({10, 20, 30})));
  EXPECT_TRUE(TensorIs<float>(y, {2, 3}, {11, 22, 33, 14, 25, 36}));
  ASSERT_OK_AND_ASSIGN(Tensor y3,
                       RunBiasAdd(Tensor::FromVector<int64_t>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}),
                                  T1<int64_t>({100, -100})));
  EXPECT_TRUE(TensorIs<int64_t>(y3, {2, 2, 2}, {100, -99, 102, -97, 104, -95, 106, -93}));
  ASSERT_OK_AND_ASSIGN(Tensor empty,
                       RunBiasAdd(Tensor::FromVector<float>({0, 3}, {}), T1<float>({1, 2, 3})));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 3}, {}));
  ASSERT_OK_AND_ASSIGN(
      Tensor one, RunBiasAdd(Tensor::FromVector<float>({1, 2}, {1, 1}), T1<float>({0.5f, -0.5f})));
  EXPECT_TRUE(TensorIs<float>(one, {1, 2}, {1.5f, 0.5f}));
}

TEST(BiasAddKernelTest, Errors) {
  EXPECT_TRUE(IsError(
      RunBiasAdd(Tensor::FromVector<float>({2, 3}, std::vector<float>(6)), T1<float>({1, 2}))
          .status(),
      Code::kInvalidArgument, {"'ba'"}));
  EXPECT_FALSE(RunBiasAdd(T1<float>({1, 2}), T1<float>({1, 2})).ok());
  EXPECT_FALSE(RunBiasAdd(Tensor::FromVector<float>({1, 2}, {1, 2}), T1<double>({1, 2})).ok());
}

// ---------------------------------------------------------------------------
// Cast.

absl::StatusOr<Tensor> RunCast(const Tensor& x, DataType dst) {
  GraphBuilder g;
  g.Add("cast", "Cast", {g.Const("x", x)},
        {{"SrcT", TypeAttr(x.dtype())}, {"DstT", TypeAttr(dst)}, {"Truncate", BoolAttr(false)}});
  return RunOne(g, "cast");
}

TEST(CastKernelTest, Conversions) {
  ASSERT_OK_AND_ASSIGN(Tensor f2i, RunCast(T1<float>({2.7f, -2.7f, 0.5f, -0.5f, 3.0f}), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(f2i, {5}, {2, -2, 0, 0, 3}));
  ASSERT_OK_AND_ASSIGN(Tensor f2l, RunCast(T1<double>({1e12 + 0.9, -7.99}), DT_INT64));
  EXPECT_TRUE(TensorIs<int64_t>(f2l, {2}, {1000000000000, -7}));
  ASSERT_OK_AND_ASSIGN(
      Tensor i2f, RunCast(Tensor::FromVector<int32_t>({2, 2}, {-3, 0, 1, 16777216}), DT_FLOAT));
  EXPECT_TRUE(TensorIs<float>(i2f, {2, 2}, {-3, 0, 1, 16777216}));
  ASSERT_OK_AND_ASSIGN(Tensor l2i, RunCast(T1<int64_t>({5, -5}), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(l2i, {2}, {5, -5}));
  ASSERT_OK_AND_ASSIGN(Tensor f2d, RunCast(T1<float>({0.5f}), DT_DOUBLE));
  EXPECT_TRUE(TensorIs<double>(f2d, {1}, {0.5}));
  ASSERT_OK_AND_ASSIGN(Tensor f2b, RunCast(T1<float>({0.0f, 0.5f, -1.0f}), DT_BOOL));
  EXPECT_TRUE(TensorIs<bool>(f2b, {3}, {false, true, true}));
  ASSERT_OK_AND_ASSIGN(Tensor i2b, RunCast(T1<int64_t>({0, 7}), DT_BOOL));
  EXPECT_TRUE(TensorIs<bool>(i2b, {2}, {false, true}));
  ASSERT_OK_AND_ASSIGN(Tensor b2f, RunCast(T1<bool>({true, false}), DT_FLOAT));
  EXPECT_TRUE(TensorIs<float>(b2f, {2}, {1, 0}));
  ASSERT_OK_AND_ASSIGN(Tensor b2i, RunCast(T1<bool>({false, true}), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(b2i, {2}, {0, 1}));
  ASSERT_OK_AND_ASSIGN(Tensor same, RunCast(T1<float>({1.25f}), DT_FLOAT));
  EXPECT_TRUE(TensorIs<float>(same, {1}, {1.25f}));
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunCast(Tensor::FromVector<float>({0, 2}, {}), DT_INT64));
  EXPECT_TRUE(TensorIs<int64_t>(empty, {0, 2}, {}));
}

TEST(CastKernelTest, IntegersThatDoNotFitAreAnErrorNotAWrap) {
  // TensorFlow's Cast wraps 2^32 + 2 to 2; a bag row index wrapped so would
  // answer for another row.
  EXPECT_TRUE(IsError(RunCast(T1<int64_t>({1, (int64_t{1} << 32) + 2}), DT_INT32).status(),
                      absl::StatusCode::kInvalidArgument,
                      {"'cast'", "4294967298", "position 1", "int32"}));
  EXPECT_TRUE(IsError(RunCast(T1<int64_t>({-(int64_t{1} << 31) - 1}), DT_INT32).status(),
                      absl::StatusCode::kInvalidArgument, {"-2147483649"}));
  ASSERT_OK_AND_ASSIGN(Tensor edges, RunCast(T1<int64_t>({INT32_MAX, INT32_MIN}), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(edges, {2}, {INT32_MAX, INT32_MIN}));
}

TEST(CastKernelTest, InputMustHaveSrcT) {
  GraphBuilder g;
  g.Add(
      "cast", "Cast", {g.Const("x", T1<int32_t>({1}))},
      {{"SrcT", TypeAttr(DT_FLOAT)}, {"DstT", TypeAttr(DT_INT64)}, {"Truncate", BoolAttr(false)}});
  EXPECT_TRUE(IsError(RunOne(g, "cast").status(), Code::kInvalidArgument, {"'cast'"}));
}

// ---------------------------------------------------------------------------
// Sum, Mean, Softmax.

absl::StatusOr<Tensor> RunReduce(const std::string& op, const Tensor& x, const Tensor& axes,
                                 bool keep_dims) {
  GraphBuilder g;
  g.Add("r", op, {g.Const("x", x), g.Const("axes", axes)},
        {{"T", TypeAttr(x.dtype())},
         {"Tidx", TypeAttr(axes.dtype())},
         {"keep_dims", BoolAttr(keep_dims)}});
  return RunOne(g, "r");
}

TEST(ReduceKernelTest, SumAndMeanByHand) {
  Tensor x = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor s0, RunReduce("Sum", x, Scalar<int32_t>(0), false));
  EXPECT_TRUE(TensorIs<float>(s0, {3}, {5, 7, 9}));
  ASSERT_OK_AND_ASSIGN(Tensor s1, RunReduce("Sum", x, T1<int32_t>({1}), false));
  EXPECT_TRUE(TensorIs<float>(s1, {2}, {6, 15}));
  ASSERT_OK_AND_ASSIGN(Tensor s1k, RunReduce("Sum", x, T1<int64_t>({-1}), true));
  EXPECT_TRUE(TensorIs<float>(s1k, {2, 1}, {6, 15}));
  ASSERT_OK_AND_ASSIGN(Tensor all, RunReduce("Sum", x, T1<int32_t>({0, -1}), false));
  EXPECT_TRUE(TensorIs<float>(all, {}, {21}));
  ASSERT_OK_AND_ASSIGN(Tensor allk, RunReduce("Sum", x, T1<int32_t>({1, 0}), true));
  EXPECT_TRUE(TensorIs<float>(allk, {1, 1}, {21}));
  ASSERT_OK_AND_ASSIGN(Tensor none, RunReduce("Sum", x, T1<int32_t>({}), false));
  EXPECT_TRUE(TensorIs<float>(none, {2, 3}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor m1, RunReduce("Mean", x, T1<int32_t>({1}), false));
  EXPECT_TRUE(TensorIs<float>(m1, {2}, {2, 5}));
  ASSERT_OK_AND_ASSIGN(Tensor m0k, RunReduce("Mean", x, T1<int32_t>({-2}), true));
  EXPECT_TRUE(TensorIs<float>(m0k, {1, 3}, {2.5f, 3.5f, 4.5f}));
  // Integer means truncate.
  ASSERT_OK_AND_ASSIGN(Tensor im,
                       RunReduce("Mean", Tensor::FromVector<int32_t>({2, 2}, {1, 2, 3, 6}),
                                 T1<int32_t>({1}), false));
  EXPECT_TRUE(TensorIs<int32_t>(im, {2}, {1, 4}));
  ASSERT_OK_AND_ASSIGN(
      Tensor is, RunReduce("Sum", T1<int64_t>({1, -2, int64_t{1} << 40}), T1<int32_t>({0}), false));
  EXPECT_TRUE(TensorIs<int64_t>(is, {}, {(int64_t{1} << 40) - 1}));
}

TEST(ReduceKernelTest, ThreeDimensionsMatchReferenceLoop) {
  const int64_t d0 = 2, d1 = 3, d2 = 4;
  std::vector<double> x(d0 * d1 * d2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i * i % 17) - 5.0;
  auto at = [&](int64_t i, int64_t j, int64_t k) { return x[(i * d1 + j) * d2 + k]; };
  Tensor t = Tensor::FromVector<double>({d0, d1, d2}, x);

  // Over axes {0, 2}: one value per j.
  std::vector<double> sum_02(d1, 0.0);
  for (int64_t i = 0; i < d0; ++i) {
    for (int64_t j = 0; j < d1; ++j) {
      for (int64_t k = 0; k < d2; ++k) sum_02[j] += at(i, j, k);
    }
  }
  std::vector<double> mean_02 = sum_02;
  for (double& v : mean_02) v /= d0 * d2;
  ASSERT_OK_AND_ASSIGN(Tensor s, RunReduce("Sum", t, T1<int32_t>({0, -1}), false));
  EXPECT_TRUE(TensorIs<double>(s, {d1}, sum_02, 1e-12));
  ASSERT_OK_AND_ASSIGN(Tensor m, RunReduce("Mean", t, T1<int32_t>({2, 0}), true));
  EXPECT_TRUE(TensorIs<double>(m, {1, d1, 1}, mean_02, 1e-12));

  // Over axis 1: one value per (i, k).
  std::vector<double> sum_1;
  for (int64_t i = 0; i < d0; ++i) {
    for (int64_t k = 0; k < d2; ++k) {
      double acc = 0;
      for (int64_t j = 0; j < d1; ++j) acc += at(i, j, k);
      sum_1.push_back(acc);
    }
  }
  ASSERT_OK_AND_ASSIGN(Tensor s1, RunReduce("Sum", t, Scalar<int64_t>(-2), true));
  EXPECT_TRUE(TensorIs<double>(s1, {d0, 1, d2}, sum_1, 1e-12));
}

TEST(ReduceKernelTest, EmptyBatch) {
  Tensor empty = Tensor::FromVector<float>({0, 3}, {});
  ASSERT_OK_AND_ASSIGN(Tensor s0, RunReduce("Sum", empty, T1<int32_t>({0}), false));
  EXPECT_TRUE(TensorIs<float>(s0, {3}, {0, 0, 0}));
  ASSERT_OK_AND_ASSIGN(Tensor s1, RunReduce("Sum", empty, T1<int32_t>({1}), true));
  EXPECT_TRUE(TensorIs<float>(s1, {0, 1}, {}));
  // The mean of nothing is NaN, as in TensorFlow.
  float nan = std::numeric_limits<float>::quiet_NaN();
  ASSERT_OK_AND_ASSIGN(Tensor m0, RunReduce("Mean", empty, T1<int32_t>({0}), false));
  EXPECT_TRUE(TensorIs<float>(m0, {3}, {nan, nan, nan}));
}

TEST(ReduceKernelTest, AxisOutOfRange) {
  Tensor x = Tensor::FromVector<float>({2, 3}, std::vector<float>(6));
  EXPECT_TRUE(IsError(RunReduce("Sum", x, T1<int32_t>({2}), false).status(), Code::kInvalidArgument,
                      {"'r'"}));
  EXPECT_FALSE(RunReduce("Mean", x, T1<int32_t>({-3}), false).ok());
  EXPECT_FALSE(RunReduce("Sum", x, T1<float>({0}), false).ok());
}

TEST(SoftmaxKernelTest, RowsSumToOneAndMatchReference) {
  std::vector<float> x = {1, 2, 3, -1, 0, 1, 1000, 1000, 999, 0, 0, 0};
  ASSERT_OK_AND_ASSIGN(Tensor y, RunUnary("Softmax", Tensor::FromVector<float>({4, 3}, x)));
  std::vector<float> expected;
  for (int r = 0; r < 4; ++r) {
    double mx = std::max({x[r * 3], x[r * 3 + 1], x[r * 3 + 2]});
    double sum = 0;
    for (int c = 0; c < 3; ++c) sum += std::exp(x[r * 3 + c] - mx);
    for (int c = 0; c < 3; ++c)
      expected.push_back(static_cast<float>(std::exp(x[r * 3 + c] - mx) / sum));
  }
  EXPECT_TRUE(TensorIs<float>(y, {4, 3}, expected, 1e-6));
  for (int r = 0; r < 4; ++r) {
    auto v = y.flat<float>();
    EXPECT_NEAR(v[r * 3] + v[r * 3 + 1] + v[r * 3 + 2], 1.0f, 1e-6) << r;
  }
  EXPECT_NEAR(y.flat<float>()[9], 1.0f / 3, 1e-7);

  ASSERT_OK_AND_ASSIGN(Tensor v1, RunUnary("Softmax", T1<double>({0, std::log(3.0)})));
  EXPECT_TRUE(TensorIs<double>(v1, {2}, {0.25, 0.75}, 1e-12));
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunUnary("Softmax", Tensor::FromVector<float>({0, 5}, {})));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 5}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor one, RunUnary("Softmax", Tensor::FromVector<float>({1, 1}, {-3})));
  EXPECT_TRUE(TensorIs<float>(one, {1, 1}, {1}));
  EXPECT_FALSE(RunUnary("Softmax", Scalar<float>(1)).ok());
  EXPECT_FALSE(RunUnary("Softmax", T1<int32_t>({1, 2})).ok());
}

// ---------------------------------------------------------------------------
// SparseSegment{Sum,Mean,SqrtN}[WithNumSegments].

absl::StatusOr<Tensor> RunSegment(const std::string& op, const Tensor& data, const Tensor& indices,
                                  const Tensor& segment_ids, const Tensor* num_segments = nullptr) {
  GraphBuilder g;
  std::vector<std::string> inputs = {g.Const("data", data), g.Const("indices", indices),
                                     g.Const("segment_ids", segment_ids)};
  Attrs attrs = {{"T", TypeAttr(data.dtype())}, {"Tidx", TypeAttr(indices.dtype())}};
  if (num_segments != nullptr) {
    inputs.push_back(g.Const("num_segments", *num_segments));
    attrs.emplace_back("Tnumsegments", TypeAttr(num_segments->dtype()));
  }
  g.Add("seg", op, inputs, attrs);
  return RunOne(g, "seg");
}

TEST(SparseSegmentKernelTest, SumMeanSqrtNWithAnEmptySegment) {
  // Rows d0..d3; segment 0 = d0 + d2, 1 = d1, 2 = empty, 3 = d3 + d3.
  Tensor data = Tensor::FromVector<float>({4, 2}, {1, 2, 10, 20, 100, 200, 1000, 2000});
  Tensor indices = T1<int32_t>({0, 2, 1, 3, 3});
  Tensor ids = T1<int32_t>({0, 0, 1, 3, 3});
  const float r2 = std::sqrt(2.0f);
  ASSERT_OK_AND_ASSIGN(Tensor sum, RunSegment("SparseSegmentSum", data, indices, ids));
  EXPECT_TRUE(TensorIs<float>(sum, {4, 2}, {101, 202, 10, 20, 0, 0, 2000, 4000}));
  ASSERT_OK_AND_ASSIGN(Tensor mean, RunSegment("SparseSegmentMean", data, indices, ids));
  EXPECT_TRUE(TensorIs<float>(mean, {4, 2}, {50.5f, 101, 10, 20, 0, 0, 1000, 2000}));
  ASSERT_OK_AND_ASSIGN(Tensor sqrtn, RunSegment("SparseSegmentSqrtN", data, indices, ids));
  EXPECT_TRUE(TensorIs<float>(sqrtn, {4, 2},
                              {101 / r2, 202 / r2, 10, 20, 0, 0, 2000 / r2, 4000 / r2}, 1e-6));

  // With num_segments, trailing segments are empty too.
  Tensor six = Scalar<int32_t>(6);
  ASSERT_OK_AND_ASSIGN(Tensor sum6,
                       RunSegment("SparseSegmentSumWithNumSegments", data, indices, ids, &six));
  EXPECT_TRUE(TensorIs<float>(sum6, {6, 2}, {101, 202, 10, 20, 0, 0, 2000, 4000, 0, 0, 0, 0}));
  Tensor six64 = Scalar<int64_t>(6);
  ASSERT_OK_AND_ASSIGN(
      Tensor mean6, RunSegment("SparseSegmentMeanWithNumSegments", data,
                               T1<int64_t>({0, 2, 1, 3, 3}), T1<int64_t>({0, 0, 1, 3, 3}), &six64));
  EXPECT_TRUE(TensorIs<float>(mean6, {6, 2}, {50.5f, 101, 10, 20, 0, 0, 1000, 2000, 0, 0, 0, 0}));
  ASSERT_OK_AND_ASSIGN(Tensor sqrtn6,
                       RunSegment("SparseSegmentSqrtNWithNumSegments", data, indices, ids, &six));
  EXPECT_TRUE(TensorIs<float>(
      sqrtn6, {6, 2}, {101 / r2, 202 / r2, 10, 20, 0, 0, 2000 / r2, 4000 / r2, 0, 0, 0, 0}, 1e-6));
}

TEST(SparseSegmentKernelTest, MatchesReferenceOnRandomBags) {
  std::mt19937 rng(5);
  const int64_t rows = 50, width = 3, bags = 20;
  std::vector<double> data(rows * width);
  for (double& v : data) v = std::uniform_real_distribution<double>(-1, 1)(rng);
  std::vector<int64_t> indices, ids;
  for (int64_t s = 0; s < bags; ++s) {
    int64_t n = static_cast<int64_t>(rng() % 4);  // 0 to 3 ids per bag.
    for (int64_t j = 0; j < n; ++j) {
      indices.push_back(static_cast<int64_t>(rng() % rows));
      ids.push_back(s);
    }
  }
  int64_t num_segments = bags + 2;
  std::vector<double> sum(num_segments * width, 0.0), count(num_segments, 0.0);
  for (size_t j = 0; j < indices.size(); ++j) {
    for (int64_t c = 0; c < width; ++c) sum[ids[j] * width + c] += data[indices[j] * width + c];
    count[ids[j]] += 1;
  }
  std::vector<double> mean = sum, sqrtn = sum;
  for (int64_t s = 0; s < num_segments; ++s) {
    for (int64_t c = 0; c < width; ++c) {
      if (count[s] > 0) {
        mean[s * width + c] /= count[s];
        sqrtn[s * width + c] /= std::sqrt(count[s]);
      }
    }
  }
  Tensor d = Tensor::FromVector<double>({rows, width}, data);
  Tensor n = Scalar<int64_t>(num_segments);
  const std::pair<const char*, const std::vector<double>*> cases[] = {
      {"SparseSegmentSumWithNumSegments", &sum},
      {"SparseSegmentMeanWithNumSegments", &mean},
      {"SparseSegmentSqrtNWithNumSegments", &sqrtn}};
  for (const auto& [op, expected] : cases) {
    ASSERT_OK_AND_ASSIGN(Tensor out, RunSegment(op, d, T1<int64_t>(indices), T1<int64_t>(ids), &n));
    EXPECT_TRUE(TensorIs<double>(out, {num_segments, width}, *expected, 1e-12)) << op;
  }
}

TEST(SparseSegmentKernelTest, EmptyInputs) {
  Tensor data = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor none = T1<int32_t>({});
  for (const char* op : {"SparseSegmentSum", "SparseSegmentMean", "SparseSegmentSqrtN"}) {
    ASSERT_OK_AND_ASSIGN(Tensor out, RunSegment(op, data, none, none));
    EXPECT_TRUE(TensorIs<float>(out, {0, 3}, {})) << op;
  }
  Tensor three = Scalar<int32_t>(3);
  ASSERT_OK_AND_ASSIGN(Tensor out,
                       RunSegment("SparseSegmentMeanWithNumSegments", data, none, none, &three));
  EXPECT_TRUE(TensorIs<float>(out, {3, 3}, std::vector<float>(9, 0.0f)));
  // No data rows at all.
  ASSERT_OK_AND_ASSIGN(
      Tensor nothing,
      RunSegment("SparseSegmentSum", Tensor::FromVector<float>({0, 3}, {}), none, none));
  EXPECT_TRUE(TensorIs<float>(nothing, {0, 3}, {}));
  // A batch of one bag with one id.
  ASSERT_OK_AND_ASSIGN(Tensor one,
                       RunSegment("SparseSegmentSqrtN", data, T1<int32_t>({1}), T1<int32_t>({0})));
  EXPECT_TRUE(TensorIs<float>(one, {1, 3}, {4, 5, 6}));
}

TEST(SparseSegmentKernelTest, Errors) {
  Tensor data = Tensor::FromVector<float>({2, 1}, {1, 2});
  EXPECT_TRUE(IsError(
      RunSegment("SparseSegmentSum", data, T1<int32_t>({0, 2}), T1<int32_t>({0, 0})).status(),
      Code::kInvalidArgument, {"'seg'", "indices[1] = 2"}));
  EXPECT_FALSE(
      RunSegment("SparseSegmentSum", data, T1<int32_t>({0, -1}), T1<int32_t>({0, 0})).ok());
  EXPECT_TRUE(IsError(
      RunSegment("SparseSegmentMean", data, T1<int32_t>({0, 1}), T1<int32_t>({1, 0})).status(),
      Code::kInvalidArgument, {"sorted"}));
  EXPECT_FALSE(RunSegment("SparseSegmentMean", data, T1<int32_t>({0}), T1<int32_t>({0, 0})).ok());
  Tensor one = Scalar<int32_t>(1);
  EXPECT_FALSE(RunSegment("SparseSegmentSumWithNumSegments", data, T1<int32_t>({0, 1}),
                          T1<int32_t>({0, 1}), &one)
                   .ok());
  EXPECT_FALSE(
      RunSegment("SparseSegmentSum", T1<int32_t>({1, 2}), T1<int32_t>({0}), T1<int32_t>({0})).ok());
}

// ---------------------------------------------------------------------------
// Array ops.

TEST(ArrayKernelTest, ConstIdentityAndStrings) {
  GraphBuilder g;
  g.Op("id", "Identity", {g.Const("c", Tensor::FromVector<int64_t>({2}, {7, -7}))}, DT_INT64);
  g.Op("sid", "Identity", {g.Const("s", Strings({"a", "", "ccc"}))}, DT_STRING);
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, RunGraph(g, {"c", "id", "sid"}));
  EXPECT_TRUE(TensorIs<int64_t>(out[0], {2}, {7, -7}));
  EXPECT_TRUE(TensorIs<int64_t>(out[1], {2}, {7, -7}));
  EXPECT_TRUE(StringsAre(out[2], {3}, {"a", "", "ccc"}));
}

absl::StatusOr<Tensor> RunReshape(const Tensor& x, const Tensor& shape) {
  GraphBuilder g;
  g.Add("reshape", "Reshape", {g.Const("x", x), g.Const("shape", shape)},
        {{"T", TypeAttr(x.dtype())}, {"Tshape", TypeAttr(shape.dtype())}});
  return RunOne(g, "reshape");
}

TEST(ArrayKernelTest, Reshape) {
  Tensor x = Tensor::FromVector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor a, RunReshape(x, T1<int32_t>({3, 2})));
  EXPECT_TRUE(TensorIs<int32_t>(a, {3, 2}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor b, RunReshape(x, T1<int64_t>({-1})));
  EXPECT_TRUE(TensorIs<int32_t>(b, {6}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor c, RunReshape(x, T1<int32_t>({1, -1, 2})));
  EXPECT_TRUE(TensorIs<int32_t>(c, {1, 3, 2}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor scalar, RunReshape(T1<float>({4}), T1<int32_t>({})));
  EXPECT_TRUE(TensorIs<float>(scalar, {}, {4}));
  ASSERT_OK_AND_ASSIGN(Tensor empty,
                       RunReshape(Tensor::FromVector<float>({0, 4}, {}), T1<int32_t>({-1, 2})));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 2}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor strings, RunReshape(Strings({"a", "b"}), T1<int32_t>({2, 1})));
  EXPECT_TRUE(StringsAre(strings, {2, 1}, {"a", "b"}));

  EXPECT_TRUE(
      IsError(RunReshape(x, T1<int32_t>({4, -1})).status(), Code::kInvalidArgument, {"'reshape'"}));
  EXPECT_FALSE(RunReshape(x, T1<int32_t>({-1, -1})).ok());
  EXPECT_FALSE(RunReshape(x, T1<int32_t>({5})).ok());
  EXPECT_FALSE(RunReshape(x, T1<int32_t>({-2, 3})).ok());
}

absl::StatusOr<Tensor> RunExpandDims(const Tensor& x, const Tensor& dim) {
  GraphBuilder g;
  g.Add("expand", "ExpandDims", {g.Const("x", x), g.Const("dim", dim)},
        {{"T", TypeAttr(x.dtype())}, {"Tdim", TypeAttr(dim.dtype())}});
  return RunOne(g, "expand");
}

TEST(ArrayKernelTest, ExpandDims) {
  Tensor x = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::pair<int32_t, TensorShape> cases[] = {
      {0, {1, 2, 3}}, {1, {2, 1, 3}}, {2, {2, 3, 1}}, {-1, {2, 3, 1}}, {-3, {1, 2, 3}}};
  for (const auto& [dim, shape] : cases) {
    ASSERT_OK_AND_ASSIGN(Tensor y, RunExpandDims(x, Scalar<int32_t>(dim)));
    EXPECT_TRUE(TensorIs<float>(y, shape, {1, 2, 3, 4, 5, 6})) << dim;
  }
  ASSERT_OK_AND_ASSIGN(Tensor s, RunExpandDims(Scalar<int64_t>(5), T1<int64_t>({0})));
  EXPECT_TRUE(TensorIs<int64_t>(s, {1}, {5}));
  EXPECT_TRUE(
      IsError(RunExpandDims(x, Scalar<int32_t>(3)).status(), Code::kInvalidArgument, {"'expand'"}));
  EXPECT_FALSE(RunExpandDims(x, Scalar<int32_t>(-4)).ok());
}

absl::StatusOr<Tensor> RunSqueeze(const Tensor& x, const std::vector<int64_t>& dims) {
  GraphBuilder g;
  g.Add("squeeze", "Squeeze", {g.Const("x", x)},
        {{"T", TypeAttr(x.dtype())}, {"squeeze_dims", IntListAttr(dims)}});
  return RunOne(g, "squeeze");
}

TEST(ArrayKernelTest, Squeeze) {
  Tensor x = Tensor::FromVector<float>({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor all, RunSqueeze(x, {}));
  EXPECT_TRUE(TensorIs<float>(all, {2, 3}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor neg, RunSqueeze(x, {-2}));
  EXPECT_TRUE(TensorIs<float>(neg, {1, 2, 3}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor first, RunSqueeze(x, {0}));
  EXPECT_TRUE(TensorIs<float>(first, {2, 1, 3}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor column,
                       RunSqueeze(Tensor::FromVector<int32_t>({3, 1}, {7, 8, 9}), {-1}));
  EXPECT_TRUE(TensorIs<int32_t>(column, {3}, {7, 8, 9}));
  // A batch of one with no dims given loses its batch dimension too.
  ASSERT_OK_AND_ASSIGN(Tensor one, RunSqueeze(Tensor::FromVector<int32_t>({1, 1}, {7}), {}));
  EXPECT_TRUE(TensorIs<int32_t>(one, {}, {7}));
  // An empty batch keeps it.
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunSqueeze(Tensor::FromVector<float>({0, 1}, {}), {1}));
  EXPECT_TRUE(TensorIs<float>(empty, {0}, {}));
  EXPECT_TRUE(IsError(RunSqueeze(x, {1}).status(), Code::kInvalidArgument, {"'squeeze'"}));
  EXPECT_FALSE(RunSqueeze(x, {4}).ok());
}

absl::StatusOr<Tensor> RunShape(const Tensor& x, DataType out_type) {
  GraphBuilder g;
  g.Add("shape", "Shape", {g.Const("x", x)},
        {{"T", TypeAttr(x.dtype())}, {"out_type", TypeAttr(out_type)}});
  return RunOne(g, "shape");
}

TEST(ArrayKernelTest, Shape) {
  ASSERT_OK_AND_ASSIGN(Tensor a, RunShape(Tensor::FromVector<float>({2, 0, 3}, {}), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(a, {3}, {2, 0, 3}));
  ASSERT_OK_AND_ASSIGN(Tensor b, RunShape(Strings({"x", "y"}), DT_INT64));
  EXPECT_TRUE(TensorIs<int64_t>(b, {1}, {2}));
  ASSERT_OK_AND_ASSIGN(Tensor c, RunShape(Scalar<float>(1), DT_INT32));
  EXPECT_TRUE(TensorIs<int32_t>(c, {0}, {}));
}

absl::StatusOr<Tensor> RunFill(const Tensor& dims, const Tensor& value) {
  GraphBuilder g;
  g.Add("fill", "Fill", {g.Const("dims", dims), g.Const("value", value)},
        {{"T", TypeAttr(value.dtype())}, {"index_type", TypeAttr(dims.dtype())}});
  return RunOne(g, "fill");
}

TEST(ArrayKernelTest, Fill) {
  ASSERT_OK_AND_ASSIGN(Tensor f, RunFill(T1<int32_t>({2, 3}), Scalar<float>(1.5f)));
  EXPECT_TRUE(TensorIs<float>(f, {2, 3}, std::vector<float>(6, 1.5f)));
  ASSERT_OK_AND_ASSIGN(Tensor i, RunFill(T1<int64_t>({4}), Scalar<int64_t>(-9)));
  EXPECT_TRUE(TensorIs<int64_t>(i, {4}, {-9, -9, -9, -9}));
  ASSERT_OK_AND_ASSIGN(Tensor s, RunFill(T1<int32_t>({2}), Tensor::FromStrings({}, {"hi"})));
  EXPECT_TRUE(StringsAre(s, {2}, {"hi", "hi"}));
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunFill(T1<int32_t>({0, 3}), Scalar<float>(2)));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 3}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor scalar, RunFill(T1<int32_t>({}), Scalar<int32_t>(3)));
  EXPECT_TRUE(TensorIs<int32_t>(scalar, {}, {3}));
  EXPECT_FALSE(RunFill(T1<int32_t>({-1}), Scalar<float>(2)).ok());
  EXPECT_FALSE(RunFill(T1<int32_t>({2}), T1<float>({1, 2})).ok());
}

absl::StatusOr<Tensor> RunConcat(const std::vector<Tensor>& parts, const Tensor& axis) {
  GraphBuilder g;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < parts.size(); ++i)
    inputs.push_back(g.Const(absl::StrCat("p", i), parts[i]));
  inputs.push_back(g.Const("axis", axis));
  g.Add("concat", "ConcatV2", inputs,
        {{"N", IntAttr(static_cast<int64_t>(parts.size()))},
         {"T", TypeAttr(parts[0].dtype())},
         {"Tidx", TypeAttr(axis.dtype())}});
  return RunOne(g, "concat");
}

TEST(ArrayKernelTest, ConcatV2) {
  Tensor a = Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::FromVector<float>({2, 1}, {5, 6});
  Tensor c = Tensor::FromVector<float>({1, 2}, {7, 8});
  ASSERT_OK_AND_ASSIGN(Tensor rows, RunConcat({a, c}, Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(rows, {3, 2}, {1, 2, 3, 4, 7, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor cols, RunConcat({a, b, a}, Scalar<int64_t>(1)));
  EXPECT_TRUE(TensorIs<float>(cols, {2, 5}, {1, 2, 5, 1, 2, 3, 4, 6, 3, 4}));
  ASSERT_OK_AND_ASSIGN(Tensor neg, RunConcat({b, a}, Scalar<int32_t>(-1)));
  EXPECT_TRUE(TensorIs<float>(neg, {2, 3}, {5, 1, 2, 6, 3, 4}));
  ASSERT_OK_AND_ASSIGN(Tensor with_empty,
                       RunConcat({Tensor::FromVector<float>({0, 2}, {}), c}, Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(with_empty, {1, 2}, {7, 8}));
  ASSERT_OK_AND_ASSIGN(Tensor empty_cols, RunConcat({Tensor::FromVector<float>({0, 2}, {}),
                                                     Tensor::FromVector<float>({0, 3}, {})},
                                                    Scalar<int32_t>(1)));
  EXPECT_TRUE(TensorIs<float>(empty_cols, {0, 5}, {}));
  ASSERT_OK_AND_ASSIGN(Tensor strings,
                       RunConcat({Strings({"a"}), Strings({"b", "c"})}, Scalar<int32_t>(0)));
  EXPECT_TRUE(StringsAre(strings, {3}, {"a", "b", "c"}));
  ASSERT_OK_AND_ASSIGN(Tensor single, RunConcat({a}, Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(single, {2, 2}, {1, 2, 3, 4}));

  EXPECT_TRUE(IsError(RunConcat({a, b}, Scalar<int32_t>(0)).status(), Code::kInvalidArgument,
                      {"'concat'"}));
  EXPECT_FALSE(RunConcat({a, T1<float>({1, 2})}, Scalar<int32_t>(0)).ok());
  EXPECT_FALSE(
      RunConcat({a, Tensor::FromVector<int32_t>({1, 2}, {1, 2})}, Scalar<int32_t>(0)).ok());
  EXPECT_FALSE(RunConcat({a, c}, Scalar<int32_t>(2)).ok());
}

absl::StatusOr<Tensor> RunPack(const std::vector<Tensor>& parts, int64_t axis) {
  GraphBuilder g;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < parts.size(); ++i)
    inputs.push_back(g.Const(absl::StrCat("p", i), parts[i]));
  g.Add("pack", "Pack", inputs,
        {{"N", IntAttr(static_cast<int64_t>(parts.size()))},
         {"T", TypeAttr(parts[0].dtype())},
         {"axis", IntAttr(axis)}});
  return RunOne(g, "pack");
}

TEST(ArrayKernelTest, Pack) {
  ASSERT_OK_AND_ASSIGN(Tensor scalars,
                       RunPack({Scalar<int32_t>(1), Scalar<int32_t>(2), Scalar<int32_t>(3)}, 0));
  EXPECT_TRUE(TensorIs<int32_t>(scalars, {3}, {1, 2, 3}));
  Tensor a = T1<float>({1, 2}), b = T1<float>({3, 4}), c = T1<float>({5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor rows, RunPack({a, b, c}, 0));
  EXPECT_TRUE(TensorIs<float>(rows, {3, 2}, {1, 2, 3, 4, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor cols, RunPack({a, b, c}, 1));
  EXPECT_TRUE(TensorIs<float>(cols, {2, 3}, {1, 3, 5, 2, 4, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor neg, RunPack({a, b, c}, -1));
  EXPECT_TRUE(TensorIs<float>(neg, {2, 3}, {1, 3, 5, 2, 4, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunPack({T1<float>({}), T1<float>({})}, 1));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 2}, {}));
  EXPECT_TRUE(
      IsError(RunPack({a, T1<float>({1, 2, 3})}, 0).status(), Code::kInvalidArgument, {"'pack'"}));
  EXPECT_FALSE(RunPack({a, b}, 2).ok());
}

absl::StatusOr<Tensor> RunGather(const Tensor& params, const Tensor& indices, const Tensor& axis) {
  GraphBuilder g;
  g.Add("gather", "GatherV2",
        {g.Const("params", params), g.Const("indices", indices), g.Const("axis", axis)},
        {{"Tparams", TypeAttr(params.dtype())},
         {"Tindices", TypeAttr(indices.dtype())},
         {"Taxis", TypeAttr(axis.dtype())},
         {"batch_dims", IntAttr(0)}});
  return RunOne(g, "gather");
}

TEST(ArrayKernelTest, GatherV2) {
  Tensor p = Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK_AND_ASSIGN(Tensor rows, RunGather(p, T1<int32_t>({2, 0, 2}), Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(rows, {3, 2}, {5, 6, 1, 2, 5, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor cols, RunGather(p, T1<int64_t>({1}), Scalar<int64_t>(1)));
  EXPECT_TRUE(TensorIs<float>(cols, {3, 1}, {2, 4, 6}));
  ASSERT_OK_AND_ASSIGN(Tensor neg, RunGather(p, T1<int32_t>({1, 1, 0}), Scalar<int32_t>(-1)));
  EXPECT_TRUE(TensorIs<float>(neg, {3, 3}, {2, 2, 1, 4, 4, 3, 6, 6, 5}));
  ASSERT_OK_AND_ASSIGN(
      Tensor matrix_idx,
      RunGather(p, Tensor::FromVector<int32_t>({2, 2}, {0, 1, 2, 0}), Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(matrix_idx, {2, 2, 2}, {1, 2, 3, 4, 5, 6, 1, 2}));
  ASSERT_OK_AND_ASSIGN(Tensor scalar_idx, RunGather(p, Scalar<int32_t>(1), Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(scalar_idx, {2}, {3, 4}));
  ASSERT_OK_AND_ASSIGN(Tensor empty, RunGather(p, T1<int64_t>({}), Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<float>(empty, {0, 2}, {}));
  ASSERT_OK_AND_ASSIGN(
      Tensor ids, RunGather(T1<int64_t>({10, 20, 30}), T1<int32_t>({2, 2, 1}), Scalar<int32_t>(0)));
  EXPECT_TRUE(TensorIs<int64_t>(ids, {3}, {30, 30, 20}));
  ASSERT_OK_AND_ASSIGN(Tensor strings,
                       RunGather(Strings({"a", "b"}), T1<int32_t>({1, 0, 1}), Scalar<int32_t>(0)));
  EXPECT_TRUE(StringsAre(strings, {3}, {"b", "a", "b"}));
}

TEST(ArrayKernelTest, GatherV2OutOfRangeNamesTheNode) {
  Tensor p = Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(IsError(RunGather(p, T1<int32_t>({0, 3}), Scalar<int32_t>(0)).status(),
                      Code::kInvalidArgument, {"'gather'", "GatherV2", "indices[1] = 3"}));
  EXPECT_TRUE(IsError(RunGather(p, T1<int64_t>({-1}), Scalar<int32_t>(0)).status(),
                      Code::kInvalidArgument, {"'gather'"}));
  EXPECT_TRUE(IsError(RunGather(p, T1<int32_t>({2}), Scalar<int32_t>(1)).status(),
                      Code::kInvalidArgument, {"'gather'"}));
  EXPECT_FALSE(RunGather(p, T1<int32_t>({0}), Scalar<int32_t>(2)).ok());
  EXPECT_FALSE(RunGather(p, T1<float>({0}), Scalar<int32_t>(0)).ok());
}

TEST(ArrayKernelTest, UniqueKeepsFirstOccurrenceOrder) {
  for (DataType out_idx : {DT_INT32, DT_INT64}) {
    GraphBuilder g;
    g.Add("u", "Unique", {g.Const("x", T1<int64_t>({4, 1, 4, -2, 1, 7, -2, 4}))},
          {{"T", TypeAttr(DT_INT64)}, {"out_idx", TypeAttr(out_idx)}});
    ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, RunGraph(g, {"u:0", "u:1"}));
    EXPECT_TRUE(TensorIs<int64_t>(out[0], {4}, {4, 1, -2, 7}));
    if (out_idx == DT_INT32) {
      EXPECT_TRUE(TensorIs<int32_t>(out[1], {8}, {0, 1, 0, 2, 1, 3, 2, 0}));
    } else {
      EXPECT_TRUE(TensorIs<int64_t>(out[1], {8}, {0, 1, 0, 2, 1, 3, 2, 0}));
    }
  }
  GraphBuilder g;
  g.Add("u", "Unique", {g.Const("x", T1<int32_t>({}))},
        {{"T", TypeAttr(DT_INT32)}, {"out_idx", TypeAttr(DT_INT32)}});
  g.Add("one", "Unique", {g.Const("y", T1<int32_t>({9}))},
        {{"T", TypeAttr(DT_INT32)}, {"out_idx", TypeAttr(DT_INT32)}});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, RunGraph(g, {"u", "u:1", "one", "one:1"}));
  EXPECT_TRUE(TensorIs<int32_t>(out[0], {0}, {}));
  EXPECT_TRUE(TensorIs<int32_t>(out[1], {0}, {}));
  EXPECT_TRUE(TensorIs<int32_t>(out[2], {1}, {9}));
  EXPECT_TRUE(TensorIs<int32_t>(out[3], {1}, {0}));
}

TEST(ArrayKernelTest, DynamicPartitionAndStitchRoundTrip) {
  std::vector<float> values = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41};
  GraphBuilder g;
  g.Const("data", Tensor::FromVector<float>({5, 2}, values));
  g.Const("partitions", T1<int32_t>({1, 0, 2, 1, 0}));
  g.Const("range", T1<int32_t>({0, 1, 2, 3, 4}));
  // Four partitions, the last of them empty.
  Attrs float_parts = {{"num_partitions", IntAttr(4)}, {"T", TypeAttr(DT_FLOAT)}};
  Attrs int_parts = {{"num_partitions", IntAttr(4)}, {"T", TypeAttr(DT_INT32)}};
  g.Add("pdata", "DynamicPartition", {"data", "partitions"}, float_parts);
  g.Add("pidx", "DynamicPartition", {"range", "partitions"}, int_parts);
  g.Add("stitch", "DynamicStitch",
        {"pidx:0", "pidx:1", "pidx:2", "pidx:3", "pdata:0", "pdata:1", "pdata:2", "pdata:3"},
        {{"N", IntAttr(4)}, {"T", TypeAttr(DT_FLOAT)}});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, RunGraph(g, {"pdata:0", "pdata:1", "pdata:2",
                                                             "pdata:3", "pidx:0", "stitch"}));
  EXPECT_TRUE(TensorIs<float>(out[0], {2, 2}, {10, 11, 40, 41}));
  EXPECT_TRUE(TensorIs<float>(out[1], {2, 2}, {0, 1, 30, 31}));
  EXPECT_TRUE(TensorIs<float>(out[2], {1, 2}, {20, 21}));
  EXPECT_TRUE(TensorIs<float>(out[3], {0, 2}, {}));
  EXPECT_TRUE(TensorIs<int32_t>(out[4], {2}, {1, 4}));
  EXPECT_TRUE(TensorIs<float>(out[5], {5, 2}, values));
}

TEST(ArrayKernelTest, DynamicPartitionOfElementsAndErrors) {
  GraphBuilder g;
  g.Add("p", "DynamicPartition",
        {g.Const("data", Tensor::FromVector<int64_t>({2, 2}, {1, 2, 3, 4})),
         g.Const("partitions", Tensor::FromVector<int32_t>({2, 2}, {1, 0, 0, 1}))},
        {{"num_partitions", IntAttr(2)}, {"T", TypeAttr(DT_INT64)}});
  g.Add("bad", "DynamicPartition",
        {g.Const("d2", T1<float>({1, 2})), g.Const("p2", T1<int32_t>({0, 2}))},
        {{"num_partitions", IntAttr(2)}, {"T", TypeAttr(DT_FLOAT)}});
  g.Add("empty", "DynamicPartition",
        {g.Const("d3", Tensor::FromVector<float>({0, 3}, {})), g.Const("p3", T1<int32_t>({}))},
        {{"num_partitions", IntAttr(2)}, {"T", TypeAttr(DT_FLOAT)}});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, RunGraph(g, {"p:0", "p:1", "empty:0", "empty:1"}));
  EXPECT_TRUE(TensorIs<int64_t>(out[0], {2}, {2, 3}));
  EXPECT_TRUE(TensorIs<int64_t>(out[1], {2}, {1, 4}));
  EXPECT_TRUE(TensorIs<float>(out[2], {0, 3}, {}));
  EXPECT_TRUE(TensorIs<float>(out[3], {0, 3}, {}));
  EXPECT_TRUE(IsError(RunGraph(g, {"bad:0"}).status(), Code::kInvalidArgument, {"'bad'"}));
}

TEST(ArrayKernelTest, DynamicStitchLaterIndicesWin) {
  GraphBuilder g;
  g.Add("stitch", "DynamicStitch",
        {g.Const("i0", T1<int32_t>({0, 2})),
         g.Const("i1", Tensor::FromVector<int32_t>({2, 1}, {2, 1})),
         g.Const("d0", Tensor::FromVector<float>({2, 1}, {1, 2})),
         g.Const("d1", Tensor::FromVector<float>({2, 1, 1}, {3, 4}))},
        {{"N", IntAttr(2)}, {"T", TypeAttr(DT_FLOAT)}});
  g.Add("bad", "DynamicStitch", {g.Const("i2", T1<int32_t>({-1})), g.Const("d2", T1<float>({1}))},
        {{"N", IntAttr(1)}, {"T", TypeAttr(DT_FLOAT)}});
  ASSERT_OK_AND_ASSIGN(Tensor out, RunOne(g, "stitch"));
  EXPECT_TRUE(TensorIs<float>(out, {3, 1}, {1, 4, 3}));
  EXPECT_TRUE(IsError(RunOne(g, "bad").status(), Code::kInvalidArgument, {"'bad'"}));
}

// ---------------------------------------------------------------------------
// Variables and checkpoints.

Attrs VarAttrs(const std::string& shared_name, DataType dtype) {
  return {{"container", StrAttr("")},
          {"shared_name", StrAttr(shared_name)},
          {"dtype", TypeAttr(dtype)},
          {"shape", UnknownShapeAttr()}};
}

TEST(StateKernelTest, AssignAndReadVariable) {
  GraphBuilder g;
  g.Add("v", "VarHandleOp", {}, VarAttrs("weights", DT_FLOAT));
  g.Add("v_again", "VarHandleOp", {}, VarAttrs("weights", DT_FLOAT));
  g.Add("assign", "AssignVariableOp",
        {"v", g.Const("init", Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4}))},
        {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("assign_int", "AssignVariableOp", {"v", g.Const("int_value", T1<int32_t>({1}))},
        {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read", "ReadVariableOp", {"v"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read_again", "ReadVariableOp", {"v_again"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Op("double", "AddV2", {"read", "read"}, DT_FLOAT);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));

  EXPECT_TRUE(IsError(session->Run({}, {"read"}, {}).status(), Code::kFailedPrecondition,
                      {"'read'", "variable 'weights'"}));
  ASSERT_OK(session->Run({}, {}, {"assign"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                       session->Run({}, {"read", "read_again", "double"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(TensorIs<float>(out[1], {2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(TensorIs<float>(out[2], {2, 2}, {2, 4, 6, 8}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"assign_int"}).status(), Code::kInvalidArgument,
                      {"'assign_int'", "weights"}));
  // A failed assign leaves the value alone.
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> still, session->Run({}, {"read"}, {}));
  EXPECT_TRUE(TensorIs<float>(still[0], {2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(session->resources().All().size(), 1u);
}

TEST(StateKernelTest, ReadOfUnnamedVariableUsesTheNodeName) {
  GraphBuilder g;
  g.Add("my_var", "VarHandleOp", {}, VarAttrs("", DT_INT64));
  g.Add("read", "ReadVariableOp", {"my_var"}, {{"dtype", TypeAttr(DT_INT64)}});
  EXPECT_TRUE(IsError(RunOne(g, "read").status(), Code::kFailedPrecondition, {"my_var"}));
}

TEST(StateKernelTest, SaveV2ThenRestoreV2) {
  TempDir dir;
  const std::string prefix = dir.Join("model");
  Tensor a = Tensor::FromVector<float>({2, 3}, {1.5f, -2, 3, 4, 5, 6});
  Tensor b = T1<int64_t>({std::numeric_limits<int64_t>::min(), 0, 42});
  Tensor s = Strings({"x", "yz"});
  {
    GraphBuilder g;
    // Names out of order: the writer sorts them.
    g.Add("save", "SaveV2",
          {g.Const("prefix", Tensor::FromStrings({}, {prefix})),
           g.Const("names", Strings({"w/b", "w/a", "vocab"})),
           g.Const("slices", Strings({"", "", ""})), g.Const("b", b), g.Const("a", a),
           g.Const("s", s)},
          {{"dtypes", TypeListAttr({DT_INT64, DT_FLOAT, DT_STRING})}});
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
    ASSERT_OK(session->Run({}, {}, {"save"}));
  }
  EXPECT_TRUE(::recship::testing::Exists(prefix + ".index"));

  GraphBuilder g;
  g.Const("prefix", Tensor::FromStrings({}, {prefix}));
  g.Add("restore", "RestoreV2",
        {"prefix", g.Const("names", Strings({"w/a", "vocab", "w/b"})),
         g.Const("slices", Strings({"", "", ""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT, DT_STRING, DT_INT64})}});
  g.Add("v", "VarHandleOp", {}, VarAttrs("a", DT_FLOAT));
  g.Add("assign", "AssignVariableOp", {"v", "restore:0"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read", "ReadVariableOp", {"v", "^assign"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("restore_bad_dtype", "RestoreV2",
        {"prefix", g.Const("names2", Strings({"w/a"})), g.Const("slices2", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_INT32})}});
  g.Add("restore_missing", "RestoreV2",
        {"prefix", g.Const("names3", Strings({"nope"})), g.Const("slices3", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT})}});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                       RunGraph(g, {"restore:0", "restore:1", "restore:2", "read"}));
  EXPECT_TRUE(out[0].Equals(a));
  EXPECT_TRUE(StringsAre(out[1], {2}, {"x", "yz"}));
  EXPECT_TRUE(out[2].Equals(b));
  EXPECT_TRUE(TensorIs<float>(out[3], {2, 3}, {1.5f, -2, 3, 4, 5, 6}));
  EXPECT_TRUE(IsError(RunOne(g, "restore_bad_dtype").status(), Code::kInvalidArgument,
                      {"'restore_bad_dtype'", "w/a"}));
  EXPECT_TRUE(IsAnyError(RunOne(g, "restore_missing").status(), {"'restore_missing'", "nope"}));
}

TEST(StateKernelTest, RestoreFromMissingCheckpointFails) {
  TempDir dir;
  GraphBuilder g;
  g.Add("restore", "RestoreV2",
        {g.Const("prefix", Tensor::FromStrings({}, {dir.Join("absent")})),
         g.Const("names", Strings({"a"})), g.Const("slices", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT})}});
  EXPECT_TRUE(IsAnyError(RunOne(g, "restore").status(), {"'restore'"}));
}

// ---------------------------------------------------------------------------
// Hash table ops.

Attrs TableAttrs(const std::string& shared_name, DataType key, DataType value,
                 const TensorShape& value_shape) {
  return {{"container", StrAttr("")},
          {"shared_name", StrAttr(shared_name)},
          {"use_node_name_sharing", BoolAttr(false)},
          {"key_dtype", TypeAttr(key)},
          {"value_dtype", TypeAttr(value)},
          {"value_shape", ShapeAttr(value_shape)}};
}

Attrs TableOpAttrs(DataType key, DataType value) {
  return {{"Tin", TypeAttr(key)}, {"Tout", TypeAttr(value)}};
}

TEST(TableKernelTest, MutableHashTableOfTensors) {
  GraphBuilder g;
  g.Add("table", "MutableHashTableOfTensorsV2", {},
        TableAttrs("embedding", DT_INT64, DT_FLOAT, {2}));
  Attrs op = TableOpAttrs(DT_INT64, DT_FLOAT);
  g.Add("import", "LookupTableImportV2",
        {"table", g.Const("keys", T1<int64_t>({1, -5, 100})),
         g.Const("values", Tensor::FromVector<float>({3, 2}, {1, 1.5f, -5, -5.5f, 100, 100.5f}))},
        op);
  g.Add("insert", "LookupTableInsertV2",
        {"table", g.Const("new_keys", T1<int64_t>({100, 7})),
         g.Const("new_values", Tensor::FromVector<float>({2, 2}, {-100, -100.5f, 7, 7.5f}))},
        op);
  g.Placeholder("query", DT_INT64);
  g.Add("find", "LookupTableFindV2", {"table", "query", g.Const("default", T1<float>({0, -1}))},
        op);
  g.Add("find_bad_default", "LookupTableFindV2",
        {"table", "query", g.Const("default3", T1<float>({0, -1, 2}))}, op);
  g.Add("size", "LookupTableSizeV2", {"table"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));

  Tensor query = Tensor::FromVector<int64_t>({2, 3}, {1, 7, 100, -5, 0, 1});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> before,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(before[0], {2, 3, 2}, {0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1}));
  EXPECT_TRUE(TensorIs<int64_t>(before[1], {}, {0}));

  ASSERT_OK(session->Run({}, {}, {"import"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> imported,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  // 7 and 0 are unseen: the default row.
  EXPECT_TRUE(TensorIs<float>(imported[0], {2, 3, 2},
                              {1, 1.5f, 0, -1, 100, 100.5f, -5, -5.5f, 0, -1, 1, 1.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(imported[1], {}, {3}));

  ASSERT_OK(session->Run({}, {}, {"insert"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> inserted,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  // 100 is overwritten, 7 is new.
  EXPECT_TRUE(TensorIs<float>(inserted[0], {2, 3, 2},
                              {1, 1.5f, 7, 7.5f, -100, -100.5f, -5, -5.5f, 0, -1, 1, 1.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(inserted[1], {}, {4}));

  // Importing again replaces the whole contents.
  ASSERT_OK(session->Run({}, {}, {"import"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> reimported,
                       session->Run({{"query", T1<int64_t>({7, 100})}}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(reimported[0], {2, 2}, {0, -1, 100, 100.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(reimported[1], {}, {3}));

  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> empty,
                       session->Run({{"query", T1<int64_t>({})}}, {"find"}, {}));
  EXPECT_TRUE(TensorIs<float>(empty[0], {0, 2}, {}));

  EXPECT_TRUE(IsError(session->Run({{"query", query}}, {"find_bad_default"}, {}).status(),
                      Code::kInvalidArgument, {"'find_bad_default'", "embedding"}));
  EXPECT_TRUE(IsError(session->Run({{"query", T1<int32_t>({1})}}, {"find"}, {}).status(),
                      Code::kInvalidArgument, {"'find'"}));
}

TEST(TableKernelTest, TwoHandlesWithOneSharedNameShareATable) {
  GraphBuilder g;
  g.Add("t1", "MutableHashTableOfTensorsV2", {}, TableAttrs("shared", DT_INT32, DT_INT64, {}));
  g.Add("t2", "MutableHashTableOfTensorsV2", {}, TableAttrs("shared", DT_INT32, DT_INT64, {}));
  Attrs op = TableOpAttrs(DT_INT32, DT_INT64);
  g.Add("insert", "LookupTableInsertV2",
        {"t1", g.Const("keys", T1<int32_t>({std::numeric_limits<int32_t>::min(), 3})),
         g.Const("values", T1<int64_t>({11, 33}))},
        op);
  g.Add("find", "LookupTableFindV2",
        {"t2", g.Const("query", T1<int32_t>({3, 4, std::numeric_limits<int32_t>::min()})),
         g.Const("default", Scalar<int64_t>(-1))},
        op);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK(session->Run({}, {}, {"insert"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"find"}, {}));
  EXPECT_TRUE(TensorIs<int64_t>(out[0], {3}, {33, -1, 11}));
}

TEST(TableKernelTest, MutableDenseHashTableRefusesReservedKeys) {
  GraphBuilder g;
  Attrs attrs = TableAttrs("dense", DT_INT64, DT_FLOAT, {2});
  attrs.emplace_back("initial_num_buckets", IntAttr(16));
  attrs.emplace_back("max_load_factor", FloatAttr(0.8f));
  g.Add("table", "MutableDenseHashTableV2",
        {g.Const("empty_key", Scalar<int64_t>(-1)), g.Const("deleted_key", Scalar<int64_t>(-2))},
        attrs);
  Attrs op = TableOpAttrs(DT_INT64, DT_FLOAT);
  g.Add("insert", "LookupTableInsertV2",
        {"table", g.Const("keys", T1<int64_t>({0, 5})),
         g.Const("values", Tensor::FromVector<float>({2, 2}, {0, 0.5f, 5, 5.5f}))},
        op);
  g.Add("insert_empty", "LookupTableInsertV2",
        {"table", g.Const("keys_e", T1<int64_t>({3, -1})),
         g.Const("values_e", Tensor::FromVector<float>({2, 2}, {3, 3, 1, 1}))},
        op);
  g.Add("insert_deleted", "LookupTableInsertV2",
        {"table", g.Const("keys_d", T1<int64_t>({-2})),
         g.Const("values_d", Tensor::FromVector<float>({1, 2}, {2, 2}))},
        op);
  g.Add("find", "LookupTableFindV2",
        {"table", g.Const("query", T1<int64_t>({5, 3, 0, -1})),
         g.Const("default", T1<float>({9, 9}))},
        op);
  g.Add("size", "LookupTableSizeV2", {"table"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK(session->Run({}, {}, {"insert"}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"insert_empty"}).status(), Code::kInvalidArgument,
                      {"'insert_empty'", "-1", "reserved"}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"insert_deleted"}).status(), Code::kInvalidArgument,
                      {"'insert_deleted'", "-2"}));
  // The failed inserts left the table alone (3 was not inserted either).
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {4, 2}, {5, 5.5f, 9, 9, 0, 0.5f, 9, 9}));
  EXPECT_TRUE(TensorIs<int64_t>(out[1], {}, {2}));
}

TEST(TableKernelTest, TableOpsNeedATableHandle) {
  GraphBuilder g;
  g.Add("v", "VarHandleOp", {}, VarAttrs("not_a_table", DT_INT64));
  g.Add("size", "LookupTableSizeV2", {"v"});
  EXPECT_TRUE(IsError(RunOne(g, "size").status(), Code::kInvalidArgument, {"'size'"}));
  // A table of strings is refused when the session is created.
  GraphBuilder strings;
  strings.Add("table", "MutableHashTableOfTensorsV2", {},
              TableAttrs("t", DT_STRING, DT_FLOAT, {1}));
  EXPECT_TRUE(IsAnyError(Session::Create(strings.graph()).status(), {"'table'"}));
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
}  // namespace recship::runtime
