// Graph plumbing and shape ops: Const, Placeholder(WithDefault), Identity,
// NoOp, Bitcast, Reshape, ExpandDims, Squeeze, Shape, Fill, ConcatV2, Pack, GatherV2,
// Range, Unique, DynamicPartition and DynamicStitch.
//
// Data is moved as opaque elements (bytes, or std::strings for DT_STRING),
// so these kernels work for every dtype a Tensor holds.
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "recship/core/status_macros.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {
namespace {

// Copies `count` elements from src[src_offset] to dst[dst_offset] (element
// offsets), for any dtype.
void CopyElements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                  int64_t count) {
  if (count <= 0) return;
  if (src.dtype() == tensorflow::DT_STRING) {
    std::copy_n(src.strings().begin() + src_offset, count, dst.strings().begin() + dst_offset);
    return;
  }
  size_t size = DataTypeSize(src.dtype());
  std::memcpy(dst.data() + dst_offset * size, src.data() + src_offset * size, count * size);
}

// Normalizes `axis` into [0, rank); InvalidArgument when out of range.
absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  }
  return axis < 0 ? axis + rank : axis;
}

absl::StatusOr<int64_t> ScalarIndex(const OpKernelContext& ctx, int i, absl::string_view what) {
  const Tensor& t = ctx.input(i);
  if ((t.dtype() != tensorflow::DT_INT32 && t.dtype() != tensorflow::DT_INT64) ||
      t.num_elements() != 1) {
    return ctx.Error(absl::StrCat(what, " must be one int32 or int64 value"));
  }
  return IndexValues(t)[0];
}

int64_t Product(const TensorShape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

class Const : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    RECSHIP_ASSIGN_OR_RETURN(value_, c.GetTensor("value"));
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    ctx.set_output(0, value_);
    return absl::OkStatus();
  }

 private:
  Tensor value_;
};

// A Placeholder that runs was not fed.
class Placeholder : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    return ctx.Error(absl::StrCat("the input '", ctx.node().name(), "' must be fed"));
  }
};

class Identity : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    if (ctx.num_inputs() < 1) return ctx.Error("expects one input");
    ctx.set_output(0, ctx.input(0));
    return absl::OkStatus();
  }
};

class NoOp : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext&) const override { return absl::OkStatus(); }
};

// Bitcast to a type as wide (same shape) or narrower (a last dimension of
// sizeof(T) / sizeof(type) more); shares the input's buffer.
class Bitcast : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    RECSHIP_ASSIGN_OR_RETURN(from_, c.GetType("T"));
    RECSHIP_ASSIGN_OR_RETURN(to_, c.GetType("type"));
    const size_t from_size = DataTypeSize(from_), to_size = DataTypeSize(to_);
    if (from_size == 0 || to_size == 0 || from_size < to_size) {
      return absl::UnimplementedError(absl::StrCat("Bitcast from ", DataTypeName(from_), " to ",
                                                   DataTypeName(to_), " is not supported"));
    }
    ratio_ = static_cast<int64_t>(from_size / to_size);
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 0, from_));
    const Tensor& x = ctx.input(0);
    TensorShape shape = x.shape();
    if (ratio_ > 1) shape.push_back(ratio_);
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, x.BitcastTo(to_, std::move(shape)));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }

 private:
  DataType from_ = tensorflow::DT_INVALID, to_ = tensorflow::DT_INVALID;
  int64_t ratio_ = 1;
};

class Reshape : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& shape_in = ctx.input(1);
    if (shape_in.dtype() != tensorflow::DT_INT32 && shape_in.dtype() != tensorflow::DT_INT64) {
      return ctx.Error("the shape must be int32 or int64");
    }
    TensorShape shape = IndexValues(shape_in);
    int64_t known = 1;
    int unknown = -1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == -1 && unknown < 0) {
        unknown = static_cast<int>(d);
      } else if (shape[d] < 0) {
        return ctx.Error(absl::StrCat("bad target shape ", ShapeToString(shape)));
      } else {
        known *= shape[d];
      }
    }
    if (unknown >= 0) {
      if (known == 0 || x.num_elements() % known != 0) {
        return ctx.Error(absl::StrCat("cannot reshape ", ShapeToString(x.shape()), " to ",
                                      ShapeToString(shape)));
      }
      shape[unknown] = x.num_elements() / known;
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, x.Reshaped(std::move(shape)));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }
};

class ExpandDims : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    RECSHIP_ASSIGN_OR_RETURN(int64_t dim, ScalarIndex(ctx, 1, "dim"));
    int64_t rank = static_cast<int64_t>(x.shape().size());
    RECSHIP_ASSIGN_OR_RETURN(int64_t at, NormalizeAxis(dim, rank + 1));
    TensorShape shape = x.shape();
    shape.insert(shape.begin() + at, 1);
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, x.Reshaped(std::move(shape)));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }
};

class Squeeze : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    absl::StatusOr<std::vector<int64_t>> dims = c.GetIntList("squeeze_dims");
    if (dims.ok()) dims_ = *dims;
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    int64_t rank = static_cast<int64_t>(x.shape().size());
    std::vector<bool> drop(x.shape().size(), false);
    for (int64_t dim : dims_) {
      RECSHIP_ASSIGN_OR_RETURN(int64_t d, NormalizeAxis(dim, rank));
      if (x.shape()[d] != 1) {
        return ctx.Error(
            absl::StrCat("cannot squeeze dimension ", dim, " of shape ", ShapeToString(x.shape())));
      }
      drop[d] = true;
    }
    TensorShape shape;
    for (int64_t d = 0; d < rank; ++d) {
      bool squeeze = dims_.empty() ? x.shape()[d] == 1 : drop[d];
      if (!squeeze) shape.push_back(x.shape()[d]);
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, x.Reshaped(std::move(shape)));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }

 private:
  std::vector<int64_t> dims_;
};

class Shape : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    absl::StatusOr<DataType> t = c.GetType("out_type");
    if (t.ok()) out_type_ = *t;
    if (out_type_ != tensorflow::DT_INT32 && out_type_ != tensorflow::DT_INT64) {
      return c.Error("out_type must be int32 or int64");
    }
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const TensorShape& shape = ctx.input(0).shape();
    int64_t rank = static_cast<int64_t>(shape.size());
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, out_type_, {rank}));
    for (int64_t d = 0; d < rank; ++d) {
      if (out_type_ == tensorflow::DT_INT32) {
        if (shape[d] > std::numeric_limits<int32_t>::max()) {
          return ctx.Error("a dimension does not fit out_type int32");
        }
        out->flat<int32_t>()[d] = static_cast<int32_t>(shape[d]);
      } else {
        out->flat<int64_t>()[d] = shape[d];
      }
    }
    return absl::OkStatus();
  }

 private:
  DataType out_type_ = tensorflow::DT_INT32;
};

// Bounds what one op may allocate from values in a request, so a hostile
// shape fails instead of exhausting memory.
constexpr int64_t kMaxFillElements = int64_t{1} << 30;

class Fill : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& dims = ctx.input(0);
    const Tensor& value = ctx.input(1);
    if ((dims.dtype() != tensorflow::DT_INT32 && dims.dtype() != tensorflow::DT_INT64) ||
        dims.shape().size() != 1) {
      return ctx.Error("dims must be an int32 or int64 vector");
    }
    if (value.num_elements() != 1) return ctx.Error("value must be a scalar");
    TensorShape shape = IndexValues(dims);
    RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
    if (n > kMaxFillElements) return ctx.Error(absl::StrCat("too many elements: ", n));
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, value.dtype(), std::move(shape)));
    for (int64_t i = 0; i < n; ++i) CopyElements(value, 0, *out, i, 1);
    return absl::OkStatus();
  }
};

// Joins `parts` along `axis`; every part has the same rank and the same
// dimensions off the axis.
absl::StatusOr<Tensor> ConcatAlong(const OpKernelContext& ctx, const std::vector<Tensor>& parts,
                                   int64_t axis) {
  const Tensor& first = parts[0];
  TensorShape shape = first.shape();
  shape[axis] = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const Tensor& t = parts[p];
    bool same_rest = t.shape().size() == shape.size();
    for (size_t d = 0; same_rest && d < shape.size(); ++d) {
      same_rest = static_cast<int64_t>(d) == axis || t.shape()[d] == first.shape()[d];
    }
    if (t.dtype() != first.dtype() || !same_rest) {
      return ctx.Error(absl::StrCat("input ", p, " (", DataTypeName(t.dtype()), " ",
                                    ShapeToString(t.shape()), ") does not match input 0 (",
                                    DataTypeName(first.dtype()), " ", ShapeToString(first.shape()),
                                    ") off axis ", axis));
    }
    shape[axis] += t.shape()[axis];
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor out, ctx.allocate_tensor(first.dtype(), shape));
  int64_t outer = Product(shape, 0, axis);
  int64_t out_row = Product(shape, axis, shape.size());
  int64_t offset = 0;
  for (const Tensor& t : parts) {
    int64_t row = Product(t.shape(), axis, t.shape().size());
    for (int64_t o = 0; o < outer; ++o) CopyElements(t, o * row, out, o * out_row + offset, row);
    offset += row;
  }
  return out;
}

class ConcatV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    int n = ctx.num_inputs() - 1;
    if (n < 1) return ctx.Error("expects at least one value and the axis");
    RECSHIP_ASSIGN_OR_RETURN(int64_t axis, ScalarIndex(ctx, n, "axis"));
    std::vector<Tensor> parts;
    for (int i = 0; i < n; ++i) parts.push_back(ctx.input(i));
    RECSHIP_ASSIGN_OR_RETURN(axis,
                             NormalizeAxis(axis, static_cast<int64_t>(parts[0].shape().size())));
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, ConcatAlong(ctx, parts, axis));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }
};

class Pack : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    axis_ = c.GetInt("axis", 0);
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    if (ctx.num_inputs() < 1) return ctx.Error("expects at least one value");
    int64_t rank = static_cast<int64_t>(ctx.input(0).shape().size());
    RECSHIP_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_, rank + 1));
    std::vector<Tensor> parts;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.input(i);
      if (t.shape() != ctx.input(0).shape()) {
        return ctx.Error(absl::StrCat("input ", i, " has shape ", ShapeToString(t.shape()),
                                      ", input 0 ", ShapeToString(ctx.input(0).shape())));
      }
      TensorShape shape = t.shape();
      shape.insert(shape.begin() + axis, 1);
      RECSHIP_ASSIGN_OR_RETURN(Tensor expanded, t.Reshaped(std::move(shape)));
      parts.push_back(std::move(expanded));
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor out, ConcatAlong(ctx, parts, axis));
    ctx.set_output(0, std::move(out));
    return absl::OkStatus();
  }

 private:
  int64_t axis_ = 0;
};

class GatherV2 : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    if (c.GetInt("batch_dims", 0) != 0) return absl::UnimplementedError("batch_dims must be 0");
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& params = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    if (indices.dtype() != tensorflow::DT_INT32 && indices.dtype() != tensorflow::DT_INT64) {
      return ctx.Error("indices must be int32 or int64");
    }
    RECSHIP_ASSIGN_OR_RETURN(int64_t axis, ScalarIndex(ctx, 2, "axis"));
    int64_t rank = static_cast<int64_t>(params.shape().size());
    if (rank == 0) return ctx.Error("params must have rank 1 or more");
    RECSHIP_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis, rank));
    TensorShape shape(params.shape().begin(), params.shape().begin() + axis);
    shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
    shape.insert(shape.end(), params.shape().begin() + axis + 1, params.shape().end());
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out,
                             ctx.allocate_output(0, params.dtype(), std::move(shape)));
    int64_t outer = Product(params.shape(), 0, axis);
    int64_t limit = params.shape()[axis];
    int64_t inner = Product(params.shape(), axis + 1, params.shape().size());
    std::vector<int64_t> index = IndexValues(indices);
    for (size_t i = 0; i < index.size(); ++i) {
      if (index[i] < 0 || index[i] >= limit) {
        return ctx.Error(
            absl::StrCat("indices[", i, "] = ", index[i], " is not in [0, ", limit, ")"));
      }
    }
    int64_t n = static_cast<int64_t>(index.size());
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < n; ++i) {
        CopyElements(params, (o * limit + index[i]) * inner, *out, (o * n + i) * inner, inner);
      }
    }
    return absl::OkStatus();
  }
};

// Bounds the elements Range allocates from request values.
constexpr int64_t kMaxRangeElements = int64_t{1} << 31;

class Range : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    DataType dtype = ctx.input(0).dtype();
    for (int i = 1; i < 3; ++i) RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, i, dtype));
    RECSHIP_ASSIGN_OR_RETURN(int64_t start, ScalarIndex(ctx, 0, "start"));
    RECSHIP_ASSIGN_OR_RETURN(int64_t limit, ScalarIndex(ctx, 1, "limit"));
    RECSHIP_ASSIGN_OR_RETURN(int64_t delta, ScalarIndex(ctx, 2, "delta"));
    if (delta == 0) return ctx.Error("delta must not be 0");
    if ((delta > 0 && start > limit) || (delta < 0 && start < limit)) {
      return ctx.Error(
          absl::StrCat("start ", start, " does not reach limit ", limit, " by delta ", delta));
    }
    // Computed in unsigned arithmetic: the span may not fit in int64.
    uint64_t span = delta > 0 ? static_cast<uint64_t>(limit) - static_cast<uint64_t>(start)
                              : static_cast<uint64_t>(start) - static_cast<uint64_t>(limit);
    uint64_t step = delta > 0 ? static_cast<uint64_t>(delta) : 0 - static_cast<uint64_t>(delta);
    uint64_t n = (span + step - 1) / step;
    if (n > static_cast<uint64_t>(kMaxRangeElements)) {
      return ctx.Error(absl::StrCat("too many elements: ", n));
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out,
                             ctx.allocate_output(0, dtype, {static_cast<int64_t>(n)}));
    for (uint64_t i = 0; i < n; ++i) {
      // Wrapping arithmetic: every value lies between start and limit.
      auto v =
          static_cast<int64_t>(static_cast<uint64_t>(start) + i * static_cast<uint64_t>(delta));
      if (dtype == tensorflow::DT_INT32) {
        out->flat<int32_t>()[i] = static_cast<int32_t>(v);
      } else {
        out->flat<int64_t>()[i] = v;
      }
    }
    return absl::OkStatus();
  }
};

class Unique : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    absl::StatusOr<DataType> t = c.GetType("out_idx");
    if (t.ok()) out_idx_ = *t;
    if (out_idx_ != tensorflow::DT_INT32 && out_idx_ != tensorflow::DT_INT64) {
      return c.Error("out_idx must be int32 or int64");
    }
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 0, 1));
    return DispatchIndex(x.dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      auto values = x.flat<T>();
      absl::flat_hash_map<T, int64_t> first;
      first.reserve(values.size());
      std::vector<T> unique;
      RECSHIP_ASSIGN_OR_RETURN(Tensor * idx, ctx.allocate_output(1, out_idx_, x.shape()));
      for (size_t i = 0; i < values.size(); ++i) {
        auto [it, inserted] = first.try_emplace(values[i], static_cast<int64_t>(unique.size()));
        if (inserted) unique.push_back(values[i]);
        if (out_idx_ == tensorflow::DT_INT32) {
          idx->flat<int32_t>()[i] = static_cast<int32_t>(it->second);
        } else {
          idx->flat<int64_t>()[i] = it->second;
        }
      }
      ctx.set_output(0, Tensor::FromVector<T>({static_cast<int64_t>(unique.size())}, unique));
      return absl::OkStatus();
    });
  }

 private:
  DataType out_idx_ = tensorflow::DT_INT32;
};

class DynamicPartition : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    RECSHIP_ASSIGN_OR_RETURN(num_partitions_, c.GetInt("num_partitions"));
    if (num_partitions_ < 1) return c.Error("num_partitions must be at least 1");
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& partitions = ctx.input(1);
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 1, tensorflow::DT_INT32));
    const TensorShape& p_shape = partitions.shape();
    if (p_shape.size() > data.shape().size() ||
        !std::equal(p_shape.begin(), p_shape.end(), data.shape().begin())) {
      return ctx.Error(absl::StrCat("partitions of shape ", ShapeToString(p_shape),
                                    " must be a prefix of the data's shape ",
                                    ShapeToString(data.shape())));
    }
    auto p = partitions.flat<int32_t>();
    std::vector<int64_t> counts(num_partitions_, 0);
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] < 0 || p[i] >= num_partitions_) {
        return ctx.Error(
            absl::StrCat("partitions[", i, "] = ", p[i], " is not in [0, ", num_partitions_, ")"));
      }
      ++counts[p[i]];
    }
    int64_t inner = Product(data.shape(), p_shape.size(), data.shape().size());
    std::vector<Tensor*> outs(num_partitions_);
    // Highest output first: allocating output k grows the output list, which
    // would leave the pointers to lower outputs dangling.
    for (int64_t k = num_partitions_ - 1; k >= 0; --k) {
      TensorShape shape = {counts[k]};
      shape.insert(shape.end(), data.shape().begin() + p_shape.size(), data.shape().end());
      RECSHIP_ASSIGN_OR_RETURN(outs[k],
                               ctx.allocate_output(static_cast<int>(k), data.dtype(), shape));
    }
    std::vector<int64_t> next(num_partitions_, 0);
    for (size_t i = 0; i < p.size(); ++i) {
      CopyElements(data, static_cast<int64_t>(i) * inner, *outs[p[i]], next[p[i]]++ * inner, inner);
    }
    return absl::OkStatus();
  }

 private:
  int64_t num_partitions_ = 1;
};

// Bounds the rows DynamicStitch allocates from index values.
constexpr int64_t kMaxStitchRows = int64_t{1} << 31;

class DynamicStitch : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    if (ctx.num_inputs() % 2 != 0 || ctx.num_inputs() == 0) {
      return ctx.Error("expects N index tensors and N data tensors");
    }
    int n = ctx.num_inputs() / 2;
    int64_t rows = 0;
    TensorShape inner_shape;
    bool have_inner = false;
    for (int m = 0; m < n; ++m) {
      RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, m, tensorflow::DT_INT32));
      const TensorShape& is = ctx.input(m).shape();
      const Tensor& data = ctx.input(n + m);
      if (data.dtype() != ctx.input(n).dtype() || is.size() > data.shape().size() ||
          !std::equal(is.begin(), is.end(), data.shape().begin())) {
        return ctx.Error(absl::StrCat("data ", m, " (", ShapeToString(data.shape()),
                                      ") does not match indices ", m, " (", ShapeToString(is),
                                      ")"));
      }
      TensorShape inner(data.shape().begin() + is.size(), data.shape().end());
      if (have_inner && inner != inner_shape) {
        return ctx.Error("data tensors have different row shapes");
      }
      inner_shape = inner;
      have_inner = true;
      for (int32_t index : ctx.input(m).flat<int32_t>()) {
        if (index < 0) return ctx.Error(absl::StrCat("index ", index, " is negative"));
        rows = std::max<int64_t>(rows, int64_t{index} + 1);
      }
    }
    if (rows > kMaxStitchRows) return ctx.Error("indices too large");
    TensorShape shape = {rows};
    shape.insert(shape.end(), inner_shape.begin(), inner_shape.end());
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, ctx.input(n).dtype(), shape));
    int64_t inner = Product(inner_shape, 0, inner_shape.size());
    for (int m = 0; m < n; ++m) {
      auto indices = ctx.input(m).flat<int32_t>();
      for (size_t i = 0; i < indices.size(); ++i) {
        CopyElements(ctx.input(n + m), static_cast<int64_t>(i) * inner, *out, indices[i] * inner,
                     inner);
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

void AddArrayKernels(KernelRegistry& r) {
  r["Const"] = WithAttrs<Const>();
  r["Placeholder"] = NoAttrs<Placeholder>();
  // Unfed, it passes its default through.
  r["PlaceholderWithDefault"] = NoAttrs<Identity>();
  r["Identity"] = NoAttrs<Identity>();
  r["NoOp"] = NoAttrs<NoOp>();
  r["Reshape"] = NoAttrs<Reshape>();
  r["Bitcast"] = WithAttrs<Bitcast>();
  r["ExpandDims"] = NoAttrs<ExpandDims>();
  r["Squeeze"] = WithAttrs<Squeeze>();
  r["Shape"] = WithAttrs<Shape>();
  r["Fill"] = NoAttrs<Fill>();
  r["ConcatV2"] = NoAttrs<ConcatV2>();
  r["Pack"] = WithAttrs<Pack>();
  r["GatherV2"] = WithAttrs<GatherV2>();
  r["Range"] = NoAttrs<Range>();
  r["Unique"] = WithAttrs<Unique>();
  r["DynamicPartition"] = WithAttrs<DynamicPartition>();
  r["DynamicStitch"] = NoAttrs<DynamicStitch>();
}

}  // namespace recship
