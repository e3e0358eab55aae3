// Tensors to and from numpy arrays (any object numpy can read: the buffer
// protocol, DLPack, lists). Numeric arrays are shared rather than copied
// where their layout allows; strings become bytes.
#ifndef RECSHIP_PYTHON_NUMPY_TENSOR_H_
#define RECSHIP_PYTHON_NUMPY_TENSOR_H_

#include <nanobind/nanobind.h>

#include <string>

#include "absl/status/statusor.h"
#include "recship/format/tensor.h"

namespace recship::python {

namespace nb = nanobind;

// A tensor of `value`'s dtype, shape and elements. A C-contiguous, aligned
// numeric array is viewed in place (the tensor keeps it alive and must not
// outlive the interpreter); anything else is copied. Errors name `what`.
absl::StatusOr<Tensor> TensorFromPython(nb::handle value, const std::string& what);

// A numpy array sharing the tensor's buffer (kept alive by the array);
// read-only when `read_only` (a mapped file's bytes). Strings give an
// object array of bytes.
nb::object TensorToNumpy(const Tensor& tensor, bool read_only = false);

}  // namespace recship::python

#endif  // RECSHIP_PYTHON_NUMPY_TENSOR_H_
