#include "recship/format/tensor_proto.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

// Copies typed values into `out`, repeating the last one as TensorFlow does.
// Always OK; returns a Status so the dtype dispatch stays uniform.
template <typename To, typename Field>
absl::Status FillFromField(const Field& field, Tensor* out) {
  auto flat = out->flat<To>();
  if (flat.empty()) return absl::OkStatus();
  if (field.empty()) return absl::OkStatus();  // All zeros.
  // As TensorFlow's Tensor::FromProto: extra values are ignored.
  size_t i = 0;
  for (auto v : field) {
    if (i == flat.size()) break;
    flat[i++] = static_cast<To>(v);
  }
  for (To last = flat[i - 1]; i < flat.size(); ++i) flat[i] = last;
  return absl::OkStatus();
}

absl::Status FillTyped(const tensorflow::TensorProto& proto, Tensor* out) {
  switch (proto.dtype()) {
    case tensorflow::DT_FLOAT:
      return FillFromField<float>(proto.float_val(), out);
    case tensorflow::DT_DOUBLE:
      return FillFromField<double>(proto.double_val(), out);
    case tensorflow::DT_INT32:
      return FillFromField<int32_t>(proto.int_val(), out);
    case tensorflow::DT_INT16:
      return FillFromField<int16_t>(proto.int_val(), out);
    case tensorflow::DT_INT8:
      return FillFromField<int8_t>(proto.int_val(), out);
    case tensorflow::DT_UINT8:
      return FillFromField<uint8_t>(proto.int_val(), out);
    case tensorflow::DT_UINT16:
      return FillFromField<uint16_t>(proto.int_val(), out);
    case tensorflow::DT_INT64:
      return FillFromField<int64_t>(proto.int64_val(), out);
    case tensorflow::DT_UINT32:
      return FillFromField<uint32_t>(proto.uint32_val(), out);
    case tensorflow::DT_UINT64:
      return FillFromField<uint64_t>(proto.uint64_val(), out);
    case tensorflow::DT_BOOL:
      return FillFromField<bool>(proto.bool_val(), out);
    case tensorflow::DT_HALF:
    case tensorflow::DT_BFLOAT16:
      return FillFromField<uint16_t>(proto.half_val(), out);
    default:
      return absl::UnimplementedError(
          absl::StrCat("tensor proto of dtype ", DataTypeName(proto.dtype()), " is not supported"));
  }
}

}  // namespace

tensorflow::TensorProto TensorToProto(const Tensor& tensor) {
  tensorflow::TensorProto proto;
  proto.set_dtype(tensor.dtype());
  *proto.mutable_tensor_shape() = ShapeToProto(tensor.shape());
  if (tensor.dtype() == tensorflow::DT_STRING) {
    for (const std::string& s : tensor.strings()) proto.add_string_val(s);
  } else {
    proto.set_tensor_content(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size());
  }
  return proto;
}

absl::StatusOr<Tensor> TensorFromProto(const tensorflow::TensorProto& proto, uint64_t max_bytes) {
  if (!IsStorableDataType(proto.dtype()) || proto.dtype() == tensorflow::DT_COMPLEX64) {
    return absl::UnimplementedError(
        absl::StrCat("tensors of dtype ", DataTypeName(proto.dtype()), " are not supported"));
  }
  RECSHIP_ASSIGN_OR_RETURN(TensorShape shape, ShapeFromProto(proto.tensor_shape()));
  RECSHIP_ASSIGN_OR_RETURN(int64_t elements, NumElements(shape));
  if (proto.dtype() == tensorflow::DT_STRING) {
    if (proto.string_val_size() != elements) {
      return absl::InvalidArgumentError(absl::StrCat("string tensor of shape ",
                                                     ShapeToString(shape), " holds ",
                                                     proto.string_val_size(), " strings"));
    }
    return Tensor::FromStrings(shape, {proto.string_val().begin(), proto.string_val().end()});
  }
  uint64_t elements_u = static_cast<uint64_t>(elements);
  uint64_t element_size = DataTypeSize(proto.dtype());
  // A tensor_content that disagrees with the shape is malformed, whatever
  // its size; only then is the size weighed against the limit.
  if (!proto.tensor_content().empty() &&
      (elements_u > UINT64_MAX / element_size ||
       proto.tensor_content().size() != elements_u * element_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor_content holds ", proto.tensor_content().size(), " bytes; shape ",
        ShapeToString(shape), " of ", DataTypeName(proto.dtype()), " needs ",
        elements_u > UINT64_MAX / element_size ? "more than 2^64"
                                               : absl::StrCat(elements_u * element_size)));
  }
  if (elements_u > max_bytes / element_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tensor of shape ", ShapeToString(shape), " exceeds the limit of ", max_bytes, " bytes"));
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Create(proto.dtype(), shape));
  if (!proto.tensor_content().empty()) {
    std::memcpy(tensor.data(), proto.tensor_content().data(), tensor.byte_size());
    return tensor;
  }
  RECSHIP_RETURN_IF_ERROR(FillTyped(proto, &tensor));
  return tensor;
}

}  // namespace recship
