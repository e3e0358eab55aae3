// SparseSegment{Sum,Mean,SqrtN}[WithNumSegments]: output row s reduces the
// rows data[indices[j]] for every j with segment_ids[j] == s. Segment ids are
// sorted; empty segments are zero.
#include <cmath>

#include "recship/core/status_macros.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {
namespace {

enum class Combiner { kSum, kMean, kSqrtN };

// Bounds the output rows a request's num_segments may ask for.
constexpr int64_t kMaxSegments = int64_t{1} << 31;

template <Combiner kCombiner, bool kWithNumSegments>
class SparseSegmentReduce : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& segment_ids = ctx.input(2);
    if (data.shape().empty()) return ctx.Error("data must have rank 1 or more");
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 1, 1));
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 2, 1));
    if (indices.dtype() != tensorflow::DT_INT32 && indices.dtype() != tensorflow::DT_INT64) {
      return ctx.Error("indices must be int32 or int64");
    }
    if (segment_ids.dtype() != tensorflow::DT_INT32 &&
        segment_ids.dtype() != tensorflow::DT_INT64) {
      return ctx.Error("segment_ids must be int32 or int64");
    }
    if (indices.num_elements() != segment_ids.num_elements()) {
      return ctx.Error(absl::StrCat("indices (", indices.num_elements(), ") and segment_ids (",
                                    segment_ids.num_elements(), ") differ in length"));
    }
    std::vector<int64_t> index = IndexValues(indices);
    std::vector<int64_t> segment = IndexValues(segment_ids);
    int64_t rows = data.shape()[0];
    for (size_t j = 0; j < index.size(); ++j) {
      if (index[j] < 0 || index[j] >= rows) {
        return ctx.Error(
            absl::StrCat("indices[", j, "] = ", index[j], " is not in [0, ", rows, ")"));
      }
      if (segment[j] < 0 || (j > 0 && segment[j] < segment[j - 1])) {
        return ctx.Error("segment_ids must be non-negative and sorted");
      }
    }
    int64_t num_segments = segment.empty() ? 0 : segment.back() + 1;
    if constexpr (kWithNumSegments) {
      const Tensor& n = ctx.input(3);
      if ((n.dtype() != tensorflow::DT_INT32 && n.dtype() != tensorflow::DT_INT64) ||
          n.num_elements() != 1) {
        return ctx.Error("num_segments must be one int32 or int64 value");
      }
      int64_t given = IndexValues(n)[0];
      if (given < num_segments) {
        return ctx.Error(
            absl::StrCat("segment id ", num_segments - 1, " is not below num_segments ", given));
      }
      num_segments = given;
    }
    if (num_segments > kMaxSegments) return ctx.Error("num_segments too large");
    auto run = [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      TensorShape shape = data.shape();
      shape[0] = num_segments;
      RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), shape));
      int64_t width = 1;
      for (size_t d = 1; d < shape.size(); ++d) width *= shape[d];
      const T* in = data.flat<T>().data();
      T* o = out->flat<T>().data();
      for (size_t j = 0; j < index.size();) {
        size_t end = j;
        T* row = o + segment[j] * width;
        for (; end < index.size() && segment[end] == segment[j]; ++end) {
          const T* src = in + index[end] * width;
          for (int64_t c = 0; c < width; ++c) row[c] += src[c];
        }
        T count = static_cast<T>(end - j);
        T scale = kCombiner == Combiner::kMean    ? T(1) / count
                  : kCombiner == Combiner::kSqrtN ? T(1) / std::sqrt(count)
                                                  : T(1);
        if (kCombiner != Combiner::kSum) {
          for (int64_t c = 0; c < width; ++c) row[c] *= scale;
        }
        j = end;
      }
      return absl::OkStatus();
    };
    if (data.dtype() == tensorflow::DT_FLOAT) return run(float{});
    if (data.dtype() == tensorflow::DT_DOUBLE) return run(double{});
    return ctx.Error(
        absl::StrCat("data must be float or double, not ", DataTypeName(data.dtype())));
  }
};

}  // namespace

void AddSegmentKernels(KernelRegistry& r) {
  r["SparseSegmentSum"] = NoAttrs<SparseSegmentReduce<Combiner::kSum, false>>();
  r["SparseSegmentMean"] = NoAttrs<SparseSegmentReduce<Combiner::kMean, false>>();
  r["SparseSegmentSqrtN"] = NoAttrs<SparseSegmentReduce<Combiner::kSqrtN, false>>();
  r["SparseSegmentSumWithNumSegments"] = NoAttrs<SparseSegmentReduce<Combiner::kSum, true>>();
  r["SparseSegmentMeanWithNumSegments"] = NoAttrs<SparseSegmentReduce<Combiner::kMean, true>>();
  r["SparseSegmentSqrtNWithNumSegments"] = NoAttrs<SparseSegmentReduce<Combiner::kSqrtN, true>>();
}

}  // namespace recship
