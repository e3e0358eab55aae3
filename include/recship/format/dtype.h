// TensorFlow data types: element sizes and names.
#ifndef RECSHIP_FORMAT_DTYPE_H_
#define RECSHIP_FORMAT_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/tensorflow/core/framework/types.pb.h"

namespace recship {

using DataType = tensorflow::DataType;

// Bytes per element of a fixed-size type; 0 for DT_STRING, DT_VARIANT,
// DT_RESOURCE and anything recship cannot store.
size_t DataTypeSize(DataType dtype);

// True for types whose tensors recship can read and write in a bundle:
// the fixed-size numeric ones, bool, half, bfloat16 and string.
bool IsStorableDataType(DataType dtype);

// "float32", "int64", "string", ... as numpy and tf.dtypes name them.
std::string DataTypeName(DataType dtype);

// "DT_FLOAT", ... as saved_model_cli prints them.
std::string DataTypeEnumName(DataType dtype);

// Parses either form of name.
absl::StatusOr<DataType> ParseDataType(absl::string_view name);

// The DataType of a C++ element type.
template <typename T>
constexpr DataType DataTypeOf();
template <>
constexpr DataType DataTypeOf<float>() {
  return tensorflow::DT_FLOAT;
}
template <>
constexpr DataType DataTypeOf<double>() {
  return tensorflow::DT_DOUBLE;
}
template <>
constexpr DataType DataTypeOf<int32_t>() {
  return tensorflow::DT_INT32;
}
template <>
constexpr DataType DataTypeOf<int64_t>() {
  return tensorflow::DT_INT64;
}
template <>
constexpr DataType DataTypeOf<uint8_t>() {
  return tensorflow::DT_UINT8;
}
template <>
constexpr DataType DataTypeOf<int8_t>() {
  return tensorflow::DT_INT8;
}
template <>
constexpr DataType DataTypeOf<int16_t>() {
  return tensorflow::DT_INT16;
}
template <>
constexpr DataType DataTypeOf<uint16_t>() {
  return tensorflow::DT_UINT16;
}
template <>
constexpr DataType DataTypeOf<uint32_t>() {
  return tensorflow::DT_UINT32;
}
template <>
constexpr DataType DataTypeOf<uint64_t>() {
  return tensorflow::DT_UINT64;
}
template <>
constexpr DataType DataTypeOf<bool>() {
  return tensorflow::DT_BOOL;
}

}  // namespace recship

#endif  // RECSHIP_FORMAT_DTYPE_H_
