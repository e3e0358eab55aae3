// runtime/kernels/array_kernels: Const, Identity, Reshape, ExpandDims,
// Squeeze, Shape, Fill, ConcatV2, Pack, GatherV2, Unique, DynamicPartition and
// DynamicStitch, run through a Session on small graphs built by hand and
// checked against values worked out by hand, including strings, empty tensors
// and errors naming the node.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/types.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::Attrs;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IntAttr;
using ::recship::testing::IntListAttr;
using ::recship::testing::IsError;
using ::recship::testing::RunGraph;
using ::recship::testing::RunOne;
using ::recship::testing::Scalar;
using ::recship::testing::Strings;
using ::recship::testing::StringsAre;
using ::recship::testing::T1;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

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

}  // namespace
}  // namespace recship
