#include "src/python/numpy_tensor.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/dtype.h"
#include "src/python/bindings.h"

namespace recship::python {
namespace {

using namespace nb::literals;

using nb::dlpack::dtype_code;

struct DtypePair {
  DataType dtype;
  dtype_code code;
  uint8_t bits;
};

constexpr DtypePair kDtypes[] = {
    {tensorflow::DT_FLOAT, dtype_code::Float, 32},
    {tensorflow::DT_DOUBLE, dtype_code::Float, 64},
    {tensorflow::DT_HALF, dtype_code::Float, 16},
    {tensorflow::DT_BFLOAT16, dtype_code::Bfloat, 16},
    {tensorflow::DT_INT8, dtype_code::Int, 8},
    {tensorflow::DT_INT16, dtype_code::Int, 16},
    {tensorflow::DT_INT32, dtype_code::Int, 32},
    {tensorflow::DT_INT64, dtype_code::Int, 64},
    {tensorflow::DT_UINT8, dtype_code::UInt, 8},
    {tensorflow::DT_UINT16, dtype_code::UInt, 16},
    {tensorflow::DT_UINT32, dtype_code::UInt, 32},
    {tensorflow::DT_UINT64, dtype_code::UInt, 64},
    {tensorflow::DT_BOOL, dtype_code::Bool, 8},
};

absl::StatusOr<DataType> FromDlpack(nb::dlpack::dtype d, const std::string& what,
                                    const std::string& numpy_dtype) {
  for (const DtypePair& pair : kDtypes) {
    if (static_cast<uint8_t>(pair.code) == d.code && pair.bits == d.bits && d.lanes == 1) {
      return pair.dtype;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": numpy dtype ", numpy_dtype, " has no TensorFlow dtype recship stores"));
}

nb::dlpack::dtype ToDlpack(DataType dtype) {
  for (const DtypePair& pair : kDtypes) {
    if (pair.dtype == dtype) return {static_cast<uint8_t>(pair.code), pair.bits, 1};
  }
  return {};
}

absl::StatusOr<Tensor> StringTensor(nb::handle array, const TensorShape& shape,
                                    const std::string& what) {
  std::vector<std::string> values;
  for (nb::handle item : array.attr("ravel")().attr("tolist")()) {
    if (nb::isinstance<nb::bytes>(item)) {
      nb::bytes b = nb::borrow<nb::bytes>(item);
      values.emplace_back(b.c_str(), b.size());
    } else if (nb::isinstance<nb::str>(item)) {
      values.push_back(nb::cast<std::string>(item));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(what, ": a string array holds ",
                                                     nb::type_name(item.type()).c_str(),
                                                     "; give str or bytes"));
    }
  }
  return Tensor::FromStrings(shape, std::move(values));
}

// Shares the array's buffer: the tensor's owner holds a reference, released
// with the GIL.
absl::StatusOr<Tensor> ViewOrCopy(nb::handle array, DataType dtype, const TensorShape& shape,
                                  const std::byte* data, size_t bytes) {
  size_t align = DataTypeSize(dtype);
  if (bytes > 0 && reinterpret_cast<uintptr_t>(data) % align == 0) {
    auto* ref = new nb::object(nb::borrow(array));
    std::shared_ptr<std::byte> owner(const_cast<std::byte*>(data), [ref](std::byte*) {
      nb::gil_scoped_acquire gil;
      delete ref;
    });
    return Tensor::View(dtype, shape, std::move(owner), bytes);
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor copy, Tensor::Create(dtype, shape));
  if (bytes > 0) std::memcpy(copy.data(), data, bytes);
  return copy;
}

// numpy has no bfloat16; ml_dtypes (which TensorFlow uses) adds it.
nb::object Bfloat16Dtype() {
  try {
    return nb::module_::import_("ml_dtypes").attr("bfloat16");
  } catch (nb::python_error&) {
    ThrowStatus(absl::UnimplementedError(
        "bfloat16 tensors as numpy arrays need the ml_dtypes package (pip install ml_dtypes)"));
  }
}

}  // namespace

absl::StatusOr<Tensor> TensorFromPython(nb::handle value, const std::string& what) {
  nb::object numpy = nb::module_::import_("numpy");
  nb::object array;
  try {
    array = numpy.attr("ascontiguousarray")(value);
  } catch (nb::python_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an array: ", e.what()));
  }
  TensorShape shape;
  for (nb::handle dim : array.attr("shape")) shape.push_back(nb::cast<int64_t>(dim));
  std::string kind = nb::cast<std::string>(array.attr("dtype").attr("kind"));
  if (kind == "U" || kind == "S" || kind == "O") return StringTensor(array, shape, what);
  using Array = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
  std::string numpy_dtype = nb::cast<std::string>(array.attr("dtype").attr("name"));
  // An ml_dtypes bfloat16 array travels as its 16-bit patterns.
  bool bfloat16 = numpy_dtype == "bfloat16";
  if (bfloat16) array = array.attr("view")("uint16");
  Array nd;
  if (!nb::try_cast<Array>(array, nd)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": numpy dtype ", numpy_dtype,
                                                   " has no TensorFlow dtype recship stores"));
  }
  RECSHIP_ASSIGN_OR_RETURN(DataType dtype, FromDlpack(nd.dtype(), what, numpy_dtype));
  if (bfloat16) dtype = tensorflow::DT_BFLOAT16;
  return ViewOrCopy(array, dtype, shape, static_cast<const std::byte*>(nd.data()), nd.nbytes());
}

nb::object TensorToNumpy(const Tensor& tensor, bool read_only) {
  nb::object numpy = nb::module_::import_("numpy");
  nb::tuple shape = nb::tuple(nb::cast(tensor.shape()));
  if (tensor.dtype() == tensorflow::DT_STRING) {
    nb::list items;
    for (const std::string& s : tensor.strings()) items.append(nb::bytes(s.data(), s.size()));
    nb::object array = numpy.attr("empty")(tensor.num_elements(), "dtype"_a = "object");
    for (size_t i = 0; i < tensor.strings().size(); ++i) array[nb::int_(i)] = items[i];
    return array.attr("reshape")(shape);
  }
  if (tensor.dtype() == tensorflow::DT_BFLOAT16) {
    Tensor bits = ValueOrThrow(tensor.BitcastTo(tensorflow::DT_UINT16, tensor.shape()));
    return TensorToNumpy(bits, read_only).attr("view")(Bfloat16Dtype());
  }
  nb::dlpack::dtype dtype = ToDlpack(tensor.dtype());
  if (dtype.bits == 0) {
    ThrowStatus(absl::UnimplementedError(
        absl::StrCat("tensors of ", DataTypeName(tensor.dtype()), " have no numpy form")));
  }
  if (tensor.num_elements() == 0) {
    return numpy.attr("zeros")(shape, "dtype"_a = DataTypeName(tensor.dtype()));
  }
  std::vector<size_t> dims(tensor.shape().begin(), tensor.shape().end());
  auto* kept = new Tensor(tensor);
  nb::capsule owner(kept, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  void* data = const_cast<std::byte*>(kept->data());
  if (read_only) {
    return nb::ndarray<nb::numpy, nb::ro>(data, dims.size(), dims.data(), owner, nullptr, dtype)
        .cast();
  }
  return nb::ndarray<nb::numpy>(data, dims.size(), dims.data(), owner, nullptr, dtype).cast();
}

}  // namespace recship::python
