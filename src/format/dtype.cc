#include "recship/format/dtype.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace recship {
namespace {

struct TypeInfo {
  DataType dtype;
  size_t size;
  absl::string_view name;
};

// The types recship stores in bundles and tensors. Sizes follow TensorFlow's
// DataTypeSize; half and bfloat16 are kept as raw 16-bit words.
constexpr std::array<TypeInfo, 15> kTypes = {{
    {tensorflow::DT_FLOAT, 4, "float32"},
    {tensorflow::DT_DOUBLE, 8, "float64"},
    {tensorflow::DT_INT32, 4, "int32"},
    {tensorflow::DT_UINT8, 1, "uint8"},
    {tensorflow::DT_INT16, 2, "int16"},
    {tensorflow::DT_INT8, 1, "int8"},
    {tensorflow::DT_STRING, 0, "string"},
    {tensorflow::DT_INT64, 8, "int64"},
    {tensorflow::DT_BOOL, 1, "bool"},
    {tensorflow::DT_BFLOAT16, 2, "bfloat16"},
    {tensorflow::DT_UINT16, 2, "uint16"},
    {tensorflow::DT_HALF, 2, "float16"},
    {tensorflow::DT_UINT32, 4, "uint32"},
    {tensorflow::DT_UINT64, 8, "uint64"},
    {tensorflow::DT_COMPLEX64, 8, "complex64"},
}};

const TypeInfo* Find(DataType dtype) {
  for (const TypeInfo& info : kTypes) {
    if (info.dtype == dtype) return &info;
  }
  return nullptr;
}

}  // namespace

size_t DataTypeSize(DataType dtype) {
  const TypeInfo* info = Find(dtype);
  return info == nullptr ? 0 : info->size;
}

bool IsStorableDataType(DataType dtype) { return Find(dtype) != nullptr; }

std::string DataTypeName(DataType dtype) {
  const TypeInfo* info = Find(dtype);
  if (info != nullptr) return std::string(info->name);
  return absl::StrCat("dtype(", static_cast<int>(dtype), ")");
}

std::string DataTypeEnumName(DataType dtype) {
  const std::string& name = tensorflow::DataType_Name(dtype);
  return name.empty() ? absl::StrCat("DT_(", static_cast<int>(dtype), ")") : name;
}

absl::StatusOr<DataType> ParseDataType(absl::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.dtype;
  }
  DataType dtype;
  if (tensorflow::DataType_Parse(std::string(name), &dtype) && dtype != tensorflow::DT_INVALID) {
    return dtype;
  }
  if (name == "half") return tensorflow::DT_HALF;
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype '", name, "'"));
}

}  // namespace recship
