// Arithmetic: element-wise binary ops with NumPy broadcasting, element-wise
// unary ops, MatMul (Eigen), BiasAdd, Cast, Sum, Mean and Softmax.
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#define EIGEN_USE_THREADS
#include "Eigen/Core"
#include "recship/core/status_macros.h"
#include "src/runtime/kernels/kernel_util.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace recship {
namespace {

// How a binary op's inputs broadcast to its output: per output dimension,
// each input's stride (0 where it broadcasts).
struct Broadcast {
  TensorShape shape;
  std::vector<int64_t> a_strides, b_strides;
};

absl::StatusOr<Broadcast> MakeBroadcast(const TensorShape& a, const TensorShape& b) {
  size_t rank = std::max(a.size(), b.size());
  Broadcast bc;
  bc.shape.resize(rank);
  bc.a_strides.resize(rank);
  bc.b_strides.resize(rank);
  int64_t a_stride = 1, b_stride = 1;
  for (size_t k = 0; k < rank; ++k) {
    size_t d = rank - 1 - k;
    int64_t ad = k < a.size() ? a[a.size() - 1 - k] : 1;
    int64_t bd = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (ad != bd && ad != 1 && bd != 1) {
      return absl::InvalidArgumentError(absl::StrCat("shapes ", ShapeToString(a), " and ",
                                                     ShapeToString(b), " do not broadcast"));
    }
    bc.shape[d] = ad == 1 ? bd : ad;
    bc.a_strides[d] = ad == 1 ? 0 : a_stride;
    bc.b_strides[d] = bd == 1 ? 0 : b_stride;
    a_stride *= ad;
    b_stride *= bd;
  }
  return bc;
}

template <typename T, typename F>
void ApplyBroadcast(const Broadcast& bc, const T* a, const T* b, T* out, int64_t n, F f) {
  size_t rank = bc.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t ai = 0, bi = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = f(a[ai], b[bi]);
    // Advance the multi-index like an odometer.
    for (size_t k = rank; k-- > 0;) {
      ai += bc.a_strides[k];
      bi += bc.b_strides[k];
      if (++index[k] < bc.shape[k]) break;
      ai -= bc.a_strides[k] * bc.shape[k];
      bi -= bc.b_strides[k] * bc.shape[k];
      index[k] = 0;
    }
  }
}

template <typename T>
T FloorModOf(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    T r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  } else {
    T r = std::fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  }
}

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMaximum, kFloorMod };

template <BinaryOp kOp>
class BinaryKernel : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 1, a.dtype()));
    return DispatchNumeric(a.dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T>) {
        if constexpr (kOp == BinaryOp::kDiv || kOp == BinaryOp::kFloorMod) {
          for (T v : b.flat<T>()) {
            if (v == 0) return ctx.Error("integer division by zero");
          }
        }
      }
      auto f = [](T x, T y) -> T {
        if constexpr (kOp == BinaryOp::kAdd) return x + y;
        if constexpr (kOp == BinaryOp::kSub) return x - y;
        if constexpr (kOp == BinaryOp::kMul) return x * y;
        if constexpr (kOp == BinaryOp::kDiv) {
          // The one overflowing integer quotient wraps as in TensorFlow.
          if constexpr (std::is_integral_v<T>) {
            if (y == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x));
          }
          return x / y;
        }
        if constexpr (kOp == BinaryOp::kMaximum) return x > y || std::isnan(double(x)) ? x : y;
        if constexpr (kOp == BinaryOp::kFloorMod) {
          if constexpr (std::is_integral_v<T>) {
            if (y == -1) return 0;
          }
          return FloorModOf(x, y);
        }
      };
      RECSHIP_ASSIGN_OR_RETURN(Broadcast bc, MakeBroadcast(a.shape(), b.shape()));
      RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, a.dtype(), bc.shape));
      const T* pa = a.flat<T>().data();
      const T* pb = b.flat<T>().data();
      T* po = out->flat<T>().data();
      int64_t n = out->num_elements();
      if (a.shape() == b.shape()) {
        for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
      } else if (b.num_elements() == 1 && a.num_elements() == n) {
        for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[0]);
      } else if (a.num_elements() == 1 && b.num_elements() == n) {
        for (int64_t i = 0; i < n; ++i) po[i] = f(pa[0], pb[i]);
      } else {
        ApplyBroadcast(bc, pa, pb, po, n, f);
      }
      return absl::OkStatus();
    });
  }
};

enum class UnaryOp { kRelu, kSigmoid, kTanh, kSquare, kSqrt, kRsqrt, kExp, kLog };

template <UnaryOp kOp>
class UnaryKernel : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    constexpr bool kFloatOnly = kOp != UnaryOp::kRelu && kOp != UnaryOp::kSquare;
    return DispatchNumeric(x.dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      if constexpr (kFloatOnly && std::is_integral_v<T>) {
        return ctx.Error(absl::StrCat("needs a float input, not ", DataTypeName(x.dtype())));
      } else {
        RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x.dtype(), x.shape()));
        using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
        Eigen::Map<const Array> in(x.flat<T>().data(), x.num_elements());
        Eigen::Map<Array> o(out->flat<T>().data(), x.num_elements());
        if constexpr (kOp == UnaryOp::kRelu) o = in.max(T(0));
        if constexpr (kOp == UnaryOp::kSquare) o = in * in;
        if constexpr (kFloatOnly) {
          if constexpr (kOp == UnaryOp::kSigmoid) o = (T(1) + (-in).exp()).inverse();
          if constexpr (kOp == UnaryOp::kTanh) o = in.tanh();
          if constexpr (kOp == UnaryOp::kSqrt) o = in.sqrt();
          if constexpr (kOp == UnaryOp::kRsqrt) o = in.rsqrt();
          if constexpr (kOp == UnaryOp::kExp) o = in.exp();
          if constexpr (kOp == UnaryOp::kLog) o = in.log();
        }
        return absl::OkStatus();
      }
    });
  }
};

// Below this many multiply-adds a product runs on the calling thread, where
// Eigen's plain GEMM beats the cost of handing work to the pool.
constexpr int64_t kThreadedMatMulFlops = int64_t{1} << 18;

class MatMul : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    transpose_a_ = c.GetBool("transpose_a", false);
    transpose_b_ = c.GetBool("transpose_b", false);
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 1, a.dtype()));
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 0, 2));
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 1, 2));
    int64_t m = a.shape()[transpose_a_ ? 1 : 0], k = a.shape()[transpose_a_ ? 0 : 1];
    int64_t kb = b.shape()[transpose_b_ ? 1 : 0], n = b.shape()[transpose_b_ ? 0 : 1];
    if (k != kb) {
      return ctx.Error(absl::StrCat("cannot multiply ", ShapeToString(a.shape()), " by ",
                                    ShapeToString(b.shape()), transpose_a_ ? " (a transposed)" : "",
                                    transpose_b_ ? " (b transposed)" : ""));
    }
    if (a.dtype() == tensorflow::DT_FLOAT) return Multiply<float>(ctx, a, b, m, k, n);
    if (a.dtype() == tensorflow::DT_DOUBLE) return Multiply<double>(ctx, a, b, m, k, n);
    return ctx.Error(absl::StrCat("MatMul of ", DataTypeName(a.dtype()), " is not supported"));
  }

 private:
  template <typename T>
  absl::Status Multiply(OpKernelContext& ctx, const Tensor& a, const Tensor& b, int64_t m,
                        int64_t k, int64_t n) const {
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, a.dtype(), {m, n}));
    if (m == 0 || n == 0) return absl::OkStatus();
    using Tensor2 = Eigen::TensorMap<Eigen::Tensor<const T, 2, Eigen::RowMajor>>;
    Tensor2 ta(a.flat<T>().data(), a.shape()[0], a.shape()[1]);
    Tensor2 tb(b.flat<T>().data(), b.shape()[0], b.shape()[1]);
    Eigen::TensorMap<Eigen::Tensor<T, 2, Eigen::RowMajor>> to(out->flat<T>().data(), m, n);
    Eigen::array<Eigen::IndexPair<Eigen::Index>, 1> dims = {
        Eigen::IndexPair<Eigen::Index>(transpose_a_ ? 0 : 1, transpose_b_ ? 1 : 0)};
    if (m * n * k < kThreadedMatMulFlops) {
      to = ta.contract(tb, dims);
    } else {
      to.device(ctx.device()) = ta.contract(tb, dims);
    }
    return absl::OkStatus();
  }

  bool transpose_a_ = false, transpose_b_ = false;
};

class BiasAdd : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    if (c.GetString("data_format", "NHWC") != "NHWC") {
      return absl::UnimplementedError("only data_format NHWC is supported");
    }
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& bias = ctx.input(1);
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 1, x.dtype()));
    RECSHIP_RETURN_IF_ERROR(CheckInputRank(ctx, 1, 1));
    if (x.shape().size() < 2 || x.shape().back() != bias.shape()[0]) {
      return ctx.Error(absl::StrCat("bias of shape ", ShapeToString(bias.shape()),
                                    " does not match the last dimension of ",
                                    ShapeToString(x.shape())));
    }
    return DispatchNumeric(x.dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x.dtype(), x.shape()));
      int64_t c = bias.num_elements();
      const T* px = x.flat<T>().data();
      const T* pb = bias.flat<T>().data();
      T* po = out->flat<T>().data();
      for (int64_t i = 0, n = x.num_elements(); i < n; i += c) {
        for (int64_t j = 0; j < c; ++j) po[i + j] = px[i + j] + pb[j];
      }
      return absl::OkStatus();
    });
  }
};

class Cast : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    RECSHIP_ASSIGN_OR_RETURN(src_, c.GetType("SrcT"));
    RECSHIP_ASSIGN_OR_RETURN(dst_, c.GetType("DstT"));
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 0, src_));
    if (src_ == dst_) {
      ctx.set_output(0, x);
      return absl::OkStatus();
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, dst_, x.shape()));
    // Integers that do not fit the narrower type are an error, where
    // TensorFlow would wrap them: ids and indices never change silently.
    auto convert = [&](auto src_tag, auto dst_tag) -> absl::Status {
      using S = decltype(src_tag);
      using D = decltype(dst_tag);
      auto in = x.flat<S>();
      auto o = out->flat<D>();
      for (size_t i = 0; i < in.size(); ++i) {
        if constexpr (std::is_integral_v<S> && std::is_integral_v<D> && !std::is_same_v<S, bool> &&
                      !std::is_same_v<D, bool>) {
          if (!std::in_range<D>(in[i])) {
            return ctx.Error(absl::StrCat("value ", in[i], " at position ", i, " does not fit ",
                                          DataTypeName(dst_), " (recship never wraps integers)"));
          }
        }
        o[i] = static_cast<D>(in[i]);
      }
      return absl::OkStatus();
    };
    auto with_src = [&](auto dst_tag) -> absl::Status {
      switch (src_) {
        case tensorflow::DT_BOOL:
          return convert(bool{}, dst_tag);
        case tensorflow::DT_INT8:  // The compressed embeddings' types.
          return convert(int8_t{}, dst_tag);
        case tensorflow::DT_HALF:
          return convert(Eigen::half{}, dst_tag);
        case tensorflow::DT_BFLOAT16:
          return convert(Eigen::bfloat16{}, dst_tag);
        default:
          return DispatchNumeric(src_, [&](auto src_tag) { return convert(src_tag, dst_tag); });
      }
    };
    if (dst_ == tensorflow::DT_BOOL) return with_src(bool{});
    return DispatchNumeric(dst_, with_src);
  }

 private:
  DataType src_ = tensorflow::DT_INVALID, dst_ = tensorflow::DT_INVALID;
};

// Sum and Mean over the axes given by input 1.
template <bool kMean>
class Reduce : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    keep_dims_ = c.GetBool("keep_dims", false);
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& axes = ctx.input(1);
    if (axes.dtype() != tensorflow::DT_INT32 && axes.dtype() != tensorflow::DT_INT64) {
      return ctx.Error("the reduction axes must be int32 or int64");
    }
    int64_t rank = static_cast<int64_t>(x.shape().size());
    std::vector<bool> reduced(x.shape().size(), false);
    for (int64_t axis : IndexValues(axes)) {
      if (axis < -rank || axis >= rank) {
        return ctx.Error(
            absl::StrCat("axis ", axis, " is out of range for shape ", ShapeToString(x.shape())));
      }
      reduced[axis < 0 ? axis + rank : axis] = true;
    }
    TensorShape shape, kept;
    std::vector<int64_t> strides(x.shape().size());
    int64_t stride = 1, count = 1;
    for (size_t d = x.shape().size(); d-- > 0;) {
      strides[d] = reduced[d] ? 0 : stride;
      if (!reduced[d]) stride *= x.shape()[d];
      if (reduced[d]) count *= x.shape()[d];
    }
    for (size_t d = 0; d < x.shape().size(); ++d) {
      if (!reduced[d]) shape.push_back(x.shape()[d]);
      kept.push_back(reduced[d] ? 1 : x.shape()[d]);
    }
    return DispatchNumeric(x.dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      RECSHIP_ASSIGN_OR_RETURN(Tensor * out,
                               ctx.allocate_output(0, x.dtype(), keep_dims_ ? kept : shape));
      T* po = out->flat<T>().data();
      const T* px = x.flat<T>().data();
      std::vector<int64_t> index(x.shape().size(), 0);
      int64_t oi = 0;
      for (int64_t i = 0, n = x.num_elements(); i < n; ++i) {
        po[oi] += px[i];
        for (size_t k = index.size(); k-- > 0;) {
          oi += strides[k];
          if (++index[k] < x.shape()[k]) break;
          oi -= strides[k] * x.shape()[k];
          index[k] = 0;
        }
      }
      if (kMean && count > 0) {
        for (int64_t i = 0; i < out->num_elements(); ++i) po[i] /= static_cast<T>(count);
      }
      if (kMean && count == 0 && std::is_floating_point_v<T>) {
        for (int64_t i = 0; i < out->num_elements(); ++i) {
          po[i] = std::numeric_limits<T>::quiet_NaN();
        }
      }
      return absl::OkStatus();
    });
  }

 private:
  bool keep_dims_ = false;
};

class Softmax : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.shape().empty()) return ctx.Error("needs an input of rank 1 or more");
    auto run = [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      RECSHIP_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x.dtype(), x.shape()));
      int64_t c = x.shape().back();
      const T* px = x.flat<T>().data();
      T* po = out->flat<T>().data();
      for (int64_t i = 0, n = x.num_elements(); i < n; i += c) {
        T max = px[i];
        for (int64_t j = 1; j < c; ++j) max = std::max(max, px[i + j]);
        T sum = 0;
        for (int64_t j = 0; j < c; ++j) sum += po[i + j] = std::exp(px[i + j] - max);
        for (int64_t j = 0; j < c; ++j) po[i + j] /= sum;
      }
      return absl::OkStatus();
    };
    if (x.dtype() == tensorflow::DT_FLOAT) return run(float{});
    if (x.dtype() == tensorflow::DT_DOUBLE) return run(double{});
    return ctx.Error(absl::StrCat("needs a float input, not ", DataTypeName(x.dtype())));
  }
};

}  // namespace

void AddMathKernels(KernelRegistry& r) {
  r["AddV2"] = NoAttrs<BinaryKernel<BinaryOp::kAdd>>();
  r["Sub"] = NoAttrs<BinaryKernel<BinaryOp::kSub>>();
  r["Mul"] = NoAttrs<BinaryKernel<BinaryOp::kMul>>();
  r["RealDiv"] = NoAttrs<BinaryKernel<BinaryOp::kDiv>>();
  r["Maximum"] = NoAttrs<BinaryKernel<BinaryOp::kMaximum>>();
  r["FloorMod"] = NoAttrs<BinaryKernel<BinaryOp::kFloorMod>>();
  r["Relu"] = NoAttrs<UnaryKernel<UnaryOp::kRelu>>();
  r["Sigmoid"] = NoAttrs<UnaryKernel<UnaryOp::kSigmoid>>();
  r["Tanh"] = NoAttrs<UnaryKernel<UnaryOp::kTanh>>();
  r["Square"] = NoAttrs<UnaryKernel<UnaryOp::kSquare>>();
  r["Sqrt"] = NoAttrs<UnaryKernel<UnaryOp::kSqrt>>();
  r["Rsqrt"] = NoAttrs<UnaryKernel<UnaryOp::kRsqrt>>();
  r["Exp"] = NoAttrs<UnaryKernel<UnaryOp::kExp>>();
  r["Log"] = NoAttrs<UnaryKernel<UnaryOp::kLog>>();
  r["MatMul"] = WithAttrs<MatMul>();
  r["BiasAdd"] = WithAttrs<BiasAdd>();
  r["Cast"] = WithAttrs<Cast>();
  r["Sum"] = WithAttrs<Reduce<false>>();
  r["Mean"] = WithAttrs<Reduce<true>>();
  r["Softmax"] = NoAttrs<Softmax>();
}

}  // namespace recship
