// runtime/kernels/math_kernels: the element-wise binary ops (with
// broadcasting), the element-wise unary ops, MatMul (threaded and not),
// BiasAdd, Cast, Sum, Mean and Softmax, each run through a Session on small
// graphs built by hand and checked against values worked out here (by hand or
// by a plain reference loop), including empty batches, batches of one, special
// values and errors naming the node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/core/thread_pool.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/types.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::BoolAttr;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IsError;
using ::recship::testing::NaiveMatMul;
using ::recship::testing::RandomFloats;
using ::recship::testing::RunOne;
using ::recship::testing::Scalar;
using ::recship::testing::StrAttr;
using ::recship::testing::T1;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using tensorflow::DT_BOOL;
using tensorflow::DT_DOUBLE;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using Code = absl::StatusCode;

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

}  // namespace
}  // namespace recship
