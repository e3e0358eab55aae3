// The _recship extension module: recship's C++ library for Python. The
// public API is the recship package (python/recship), which documents it;
// this module is its native half.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "src/python/bindings.h"

namespace recship::python {

[[noreturn]] void ThrowStatus(const absl::Status& status) {
  // recship.errors names one class per canonical code ("INVALID_ARGUMENT").
  nb::object errors = nb::module_::import_("recship.errors");
  nb::object cls = errors.attr("error_class")(absl::StatusCodeToString(status.code()));
  std::string message(status.message());
  PyErr_SetObject(cls.ptr(), nb::str(message.data(), message.size()).ptr());
  throw nb::python_error();
}

}  // namespace recship::python

NB_MODULE(_recship, m) {
  m.doc() = "recship's C++ library; use it through the recship package.";
  recship::python::BindGraph(m);
  recship::python::BindEstimator(m);
  recship::python::BindExport(m);
  recship::python::BindCheckpoint(m);
  recship::python::BindServing(m);
}
