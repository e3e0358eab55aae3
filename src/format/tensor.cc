#include "recship/format/tensor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

constexpr std::align_val_t kAlignment{64};

// nullptr when the memory cannot be had.
// `owner` lives as long as the buffer.
std::shared_ptr<std::byte> AllocateZeroed(size_t bytes, std::shared_ptr<const void> owner) {
  auto* p =
      static_cast<std::byte*>(::operator new(bytes == 0 ? 1 : bytes, kAlignment, std::nothrow));
  if (p == nullptr) return nullptr;
  std::memset(p, 0, bytes);
  return std::shared_ptr<std::byte>(
      p, [owner = std::move(owner)](std::byte* q) { ::operator delete(q, kAlignment); });
}

}  // namespace

absl::StatusOr<int64_t> NumElements(const TensorShape& shape) {
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has a negative dimension"));
    }
  }
  // With a zero dimension there are no elements, whatever the others are.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t dim : shape) {
    if (n > std::numeric_limits<int64_t>::max() / dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has too many elements"));
    }
    n *= dim;
  }
  return n;
}

std::string ShapeToString(const TensorShape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<TensorShape> ShapeFromProto(const tensorflow::TensorShapeProto& proto) {
  if (proto.unknown_rank()) return absl::InvalidArgumentError("shape has unknown rank");
  TensorShape shape;
  shape.reserve(proto.dim_size());
  for (const auto& dim : proto.dim()) {
    if (dim.size() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("shape has dimension ", dim.size()));
    }
    shape.push_back(dim.size());
  }
  RECSHIP_RETURN_IF_ERROR(NumElements(shape).status());
  return shape;
}

tensorflow::TensorShapeProto ShapeToProto(const TensorShape& shape) {
  tensorflow::TensorShapeProto proto;
  for (int64_t dim : shape) proto.add_dim()->set_size(dim);
  return proto;
}

absl::StatusOr<Tensor> Tensor::Create(DataType dtype, TensorShape shape) {
  return Create(dtype, std::move(shape), nullptr);
}

absl::StatusOr<Tensor> Tensor::Create(DataType dtype, TensorShape shape,
                                      std::shared_ptr<const void> owner) {
  if (!IsStorableDataType(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot hold a tensor of dtype ", DataTypeName(dtype)));
  }
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.num_elements_ = n;
  if (dtype == tensorflow::DT_STRING) {
    t.strings_.resize(static_cast<size_t>(n));
    return t;
  }
  size_t element_size = DataTypeSize(dtype);
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / element_size) {
    return absl::InvalidArgumentError("tensor too large");
  }
  t.byte_size_ = static_cast<size_t>(n) * element_size;
  t.buffer_ = AllocateZeroed(t.byte_size_, std::move(owner));
  if (t.buffer_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", t.byte_size_,
                                                     " bytes for a tensor of shape ",
                                                     ShapeToString(t.shape_)));
  }
  return t;
}

absl::StatusOr<Tensor> Tensor::View(DataType dtype, TensorShape shape,
                                    std::shared_ptr<std::byte> data, size_t bytes) {
  size_t element = DataTypeSize(dtype);
  if (element == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a view cannot hold a tensor of dtype ", DataTypeName(dtype)));
  }
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  if (static_cast<uint64_t>(n) * element != bytes ||
      reinterpret_cast<uintptr_t>(data.get()) % element != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a view of ", bytes, " bytes at offset ", reinterpret_cast<uintptr_t>(data.get()) % 64,
        " of a 64-byte line cannot hold a ", DataTypeName(dtype), " tensor of shape ",
        ShapeToString(shape)));
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.num_elements_ = n;
  t.byte_size_ = bytes;
  t.is_view_ = true;
  t.buffer_ = std::move(data);
  return t;
}

void internal::CheckElementCount(const Tensor& t, size_t values) {
  if (static_cast<uint64_t>(t.num_elements()) != values) {
    std::fprintf(stderr, "recship: Tensor of shape %s given %zu values\n",
                 ShapeToString(t.shape()).c_str(), values);
    std::abort();
  }
}

Tensor Tensor::FromStrings(TensorShape shape, std::vector<std::string> values) {
  Tensor t = Create(tensorflow::DT_STRING, std::move(shape)).value();
  internal::CheckElementCount(t, values.size());
  t.strings_ = std::move(values);
  return t;
}

absl::StatusOr<Tensor> Tensor::Reshaped(TensorShape shape) const {
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  if (n != num_elements_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot reshape a tensor of shape ", ShapeToString(shape_), " to ", ShapeToString(shape)));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

absl::StatusOr<Tensor> Tensor::BitcastTo(DataType dtype, TensorShape shape) const {
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  const size_t size = DataTypeSize(dtype);
  if (dtype_ == tensorflow::DT_STRING || size == 0 || static_cast<size_t>(n) * size != byte_size_) {
    return absl::InvalidArgumentError(absl::StrCat("cannot bitcast a ", DataTypeName(dtype_), " ",
                                                   ShapeToString(shape_), " tensor to ",
                                                   DataTypeName(dtype), " ", ShapeToString(shape)));
  }
  Tensor t = *this;
  t.dtype_ = dtype;
  t.num_elements_ = n;
  t.shape_ = std::move(shape);
  return t;
}

bool Tensor::Equals(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (dtype_ == tensorflow::DT_STRING) return strings_ == other.strings_;
  return byte_size_ == other.byte_size_ &&
         (byte_size_ == 0 || std::memcmp(data(), other.data(), byte_size_) == 0);
}

}  // namespace recship
