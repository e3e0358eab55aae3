#include "kernel_test_util.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph_builder.h"
#include "recship/core/thread_pool.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/runtime/session.h"

namespace recship::testing {

absl::StatusOr<std::vector<Tensor>> RunGraph(const GraphBuilder& g,
                                             const std::vector<std::string>& fetches,
                                             const std::vector<NamedTensor>& feeds,
                                             const ThreadPool* pool) {
  SessionOptions options;
  options.thread_pool = pool;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g.graph(), options);
  if (!session.ok()) return session.status();
  return (*session)->Run(feeds, fetches, {});
}

absl::StatusOr<Tensor> RunOne(const GraphBuilder& g, const std::string& fetch,
                              const std::vector<NamedTensor>& feeds, const ThreadPool* pool) {
  absl::StatusOr<std::vector<Tensor>> out = RunGraph(g, {fetch}, feeds, pool);
  if (!out.ok()) return out.status();
  return (*out)[0];
}

Tensor Strings(const std::vector<std::string>& values) {
  return Tensor::FromStrings({static_cast<int64_t>(values.size())}, values);
}

::testing::AssertionResult StringsAre(const Tensor& t, const TensorShape& shape,
                                      const std::vector<std::string>& values) {
  if (t.dtype() != tensorflow::DT_STRING || t.shape() != shape || t.strings() != values) {
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

Attrs VarAttrs(const std::string& shared_name, DataType dtype) {
  return {{"container", StrAttr("")},
          {"shared_name", StrAttr(shared_name)},
          {"dtype", TypeAttr(dtype)},
          {"shape", UnknownShapeAttr()}};
}

}  // namespace recship::testing
