// Private helpers for writing kernels: the registry each kernel file adds
// to, dtype dispatch and input checks.
#ifndef RECSHIP_SRC_RUNTIME_KERNELS_KERNEL_UTIL_H_
#define RECSHIP_SRC_RUNTIME_KERNELS_KERNEL_UTIL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "recship/format/dtype.h"
#include "recship/runtime/kernel.h"

namespace recship {

using KernelFactory =
    std::function<absl::StatusOr<std::unique_ptr<OpKernel>>(const OpKernelConstruction&)>;
using KernelRegistry = absl::flat_hash_map<std::string, KernelFactory>;

// Each kernel file adds its ops.
void AddArrayKernels(KernelRegistry& registry);
void AddMathKernels(KernelRegistry& registry);
void AddSegmentKernels(KernelRegistry& registry);
void AddStateKernels(KernelRegistry& registry);
void AddTableKernels(KernelRegistry& registry);
void AddRemotePredictKernels(KernelRegistry& registry);

// The factory of a kernel that reads no attrs.
template <typename K>
KernelFactory NoAttrs() {
  return [](const OpKernelConstruction&) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    return std::make_unique<K>();
  };
}

// The factory of a kernel whose constructor takes the construction context
// and whose Init(ctx) checks the attrs.
template <typename K>
KernelFactory WithAttrs() {
  return [](const OpKernelConstruction& c) -> absl::StatusOr<std::unique_ptr<OpKernel>> {
    auto kernel = std::make_unique<K>();
    absl::Status status = kernel->Init(c);
    if (!status.ok()) return status;
    return kernel;
  };
}

// Calls f(T{}) with T the C++ type of `dtype`, among float, double, int32
// and int64; Unimplemented for any other dtype.
template <typename F>
absl::Status DispatchNumeric(DataType dtype, F&& f) {
  switch (dtype) {
    case tensorflow::DT_FLOAT:
      return f(float{});
    case tensorflow::DT_DOUBLE:
      return f(double{});
    case tensorflow::DT_INT32:
      return f(int32_t{});
    case tensorflow::DT_INT64:
      return f(int64_t{});
    default:
      return absl::UnimplementedError(
          absl::StrCat("dtype ", DataTypeName(dtype), " is not supported by this kernel"));
  }
}

// Calls f(T{}) for int32 or int64 (index types).
template <typename F>
absl::Status DispatchIndex(DataType dtype, F&& f) {
  switch (dtype) {
    case tensorflow::DT_INT32:
      return f(int32_t{});
    case tensorflow::DT_INT64:
      return f(int64_t{});
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("expected int32 or int64 indices, got ", DataTypeName(dtype)));
  }
}

// InvalidArgument unless input `i` has `dtype`.
absl::Status CheckInputType(const OpKernelContext& ctx, int i, DataType dtype);
// InvalidArgument unless input `i` has `rank` dimensions.
absl::Status CheckInputRank(const OpKernelContext& ctx, int i, size_t rank);
// An int32 or int64 tensor's elements as int64.
std::vector<int64_t> IndexValues(const Tensor& t);

}  // namespace recship

#endif  // RECSHIP_SRC_RUNTIME_KERNELS_KERNEL_UTIL_H_
