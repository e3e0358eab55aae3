// runtime/kernels/segment_kernels: SparseSegmentSum, SparseSegmentMean and
// SparseSegmentSqrtN, with and without num_segments, run through a Session on
// small graphs built by hand and checked against values worked out by hand and
// against a plain reference loop on random bags, including empty segments,
// empty inputs and errors naming the node.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/format/tensor.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::Attrs;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IsError;
using ::recship::testing::RunOne;
using ::recship::testing::Scalar;
using ::recship::testing::T1;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using Code = absl::StatusCode;

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

}  // namespace
}  // namespace recship
