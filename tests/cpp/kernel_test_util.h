// Helpers shared by the runtime's kernel and Session tests: running a graph
// built with GraphBuilder through a Session, small tensors (T1, Scalar,
// Strings), checks of a result's dtype, shape and values (TensorIs,
// StringsAre), seeded random inputs and a reference matrix product, and the
// attrs of a VarHandleOp. Definitions are in kernel_test_util.cc; the
// templates are here.
#ifndef RECSHIP_TESTS_CPP_KERNEL_TEST_UTIL_H_
#define RECSHIP_TESTS_CPP_KERNEL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "graph_builder.h"
#include "recship/core/thread_pool.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/runtime/session.h"

namespace recship::testing {

// Runs `fetches` of the graph in a new Session (its kernels on `pool` when
// given), feeding `feeds`.
absl::StatusOr<std::vector<Tensor>> RunGraph(const GraphBuilder& g,
                                             const std::vector<std::string>& fetches,
                                             const std::vector<NamedTensor>& feeds = {},
                                             const ThreadPool* pool = nullptr);

// RunGraph with a single fetch.
absl::StatusOr<Tensor> RunOne(const GraphBuilder& g, const std::string& fetch,
                              const std::vector<NamedTensor>& feeds = {},
                              const ThreadPool* pool = nullptr);

// A 1-D tensor of `values`.
template <typename T>
Tensor T1(const std::vector<T>& values) {
  return Tensor::FromVector<T>({static_cast<int64_t>(values.size())}, values);
}
template <typename T>
Tensor Scalar(T value) {
  return Tensor::FromVector<T>({}, {value});
}
// A 1-D tensor of strings.
Tensor Strings(const std::vector<std::string>& values);

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

// Success when `t` is a string tensor of `shape` holding `values`.
::testing::AssertionResult StringsAre(const Tensor& t, const TensorShape& shape,
                                      const std::vector<std::string>& values);

// `n` floats drawn uniformly from [-1, 1) by a generator seeded with `seed`.
std::vector<float> RandomFloats(size_t n, uint32_t seed);

// C = op(A) * op(B) with A stored [rows_a, cols_a], by a triple loop.
std::vector<float> NaiveMatMul(const std::vector<float>& a, int64_t rows_a, int64_t cols_a,
                               const std::vector<float>& b, int64_t rows_b, int64_t cols_b,
                               bool transpose_a, bool transpose_b);

// The attrs of a VarHandleOp of `dtype` and unknown shape named `shared_name`.
Attrs VarAttrs(const std::string& shared_name, DataType dtype);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_KERNEL_TEST_UTIL_H_
