// An n-dimensional array of one DataType, as stored in bundles and protos.
//
// Numeric tensors own a 64-byte-aligned, zero-initialised buffer of
// num_elements() * DataTypeSize(dtype()) bytes; copies share it (copy-on-
// nothing: mutate only a tensor you made). String tensors hold std::strings.
#ifndef RECSHIP_FORMAT_TENSOR_H_
#define RECSHIP_FORMAT_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/dtype.h"
#include "recship/tensorflow/core/framework/tensor.pb.h"
#include "recship/tensorflow/core/framework/tensor_shape.pb.h"

namespace recship {

using TensorShape = std::vector<int64_t>;

// The product of the dimensions, or an error when a dimension is negative or
// the product overflows int64.
absl::StatusOr<int64_t> NumElements(const TensorShape& shape);

// "[2, 3]", "[]" for a scalar.
std::string ShapeToString(const TensorShape& shape);

// Converts a fully known TensorShapeProto; unknown dimensions are an error.
absl::StatusOr<TensorShape> ShapeFromProto(const tensorflow::TensorShapeProto& proto);
tensorflow::TensorShapeProto ShapeToProto(const TensorShape& shape);

class Tensor {
 public:
  // An empty float scalar-less tensor (dtype DT_INVALID).
  Tensor() = default;

  // Allocates a zeroed tensor. Fails for a bad shape or an unstorable dtype.
  static absl::StatusOr<Tensor> Create(DataType dtype, TensorShape shape);
  // The same, with `owner` kept alive until the last tensor sharing the
  // buffer is gone (a memory budget's charge for these bytes, say).
  static absl::StatusOr<Tensor> Create(DataType dtype, TensorShape shape,
                                       std::shared_ptr<const void> owner);

  // A numeric tensor over bytes that something else owns, a mapped file
  // say: `data` keeps them alive and must hold exactly the shape's bytes,
  // aligned for the dtype. No copy is made.
  static absl::StatusOr<Tensor> View(DataType dtype, TensorShape shape,
                                     std::shared_ptr<std::byte> data, size_t bytes);

  // Tensors of known values, for constants and tests. The number of values
  // must equal the shape's element count: anything else is a programming
  // error and aborts.
  template <typename T>
  static Tensor FromVector(TensorShape shape, const std::vector<T>& values);
  static Tensor FromStrings(TensorShape shape, std::vector<std::string> values);

  DataType dtype() const { return dtype_; }
  const TensorShape& shape() const { return shape_; }
  int64_t num_elements() const { return num_elements_; }
  // Bytes of a numeric tensor's buffer; 0 for strings.
  size_t byte_size() const { return byte_size_; }
  // True when the buffer is a View's rather than the heap's.
  bool is_view() const { return is_view_; }

  std::byte* data() { return buffer_.get(); }
  const std::byte* data() const { return buffer_.get(); }

  template <typename T>
  std::span<T> flat() {
    return {reinterpret_cast<T*>(buffer_.get()), static_cast<size_t>(num_elements_)};
  }
  template <typename T>
  std::span<const T> flat() const {
    return {reinterpret_cast<const T*>(buffer_.get()), static_cast<size_t>(num_elements_)};
  }

  std::vector<std::string>& strings() { return strings_; }
  const std::vector<std::string>& strings() const { return strings_; }

  // The same elements under another shape with as many elements. Numeric
  // tensors share the buffer (no copy); strings are copied.
  absl::StatusOr<Tensor> Reshaped(TensorShape shape) const;
  // The same bytes as another numeric dtype and shape of as many bytes, as
  // TensorFlow's Bitcast sees them. Shares the buffer (no copy).
  absl::StatusOr<Tensor> BitcastTo(DataType dtype, TensorShape shape) const;

  // Same dtype, shape and contents.
  bool Equals(const Tensor& other) const;

 private:
  DataType dtype_ = tensorflow::DT_INVALID;
  TensorShape shape_;
  int64_t num_elements_ = 0;
  size_t byte_size_ = 0;
  bool is_view_ = false;
  std::shared_ptr<std::byte> buffer_;
  std::vector<std::string> strings_;
};

namespace internal {
// Aborts with a message unless `t` has exactly `values` elements.
void CheckElementCount(const Tensor& t, size_t values);
}  // namespace internal

template <typename T>
Tensor Tensor::FromVector(TensorShape shape, const std::vector<T>& values) {
  Tensor t = Create(DataTypeOf<T>(), std::move(shape)).value();
  internal::CheckElementCount(t, values.size());
  std::copy(values.begin(), values.end(), t.flat<T>().begin());
  return t;
}

}  // namespace recship

#endif  // RECSHIP_FORMAT_TENSOR_H_
