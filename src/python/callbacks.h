// Python functions as the C++ exporters' model_fn and
// serving_input_receiver_fn. A Python callback runs with the GIL taken and
// the graph's scope current; an exception it raises waits in a
// PythonErrorSlot while the export unwinds (failing with its message) and is
// raised again, unchanged, once the export has returned.
#ifndef RECSHIP_PYTHON_CALLBACKS_H_
#define RECSHIP_PYTHON_CALLBACKS_H_

#include <nanobind/nanobind.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "recship/model/estimator.h"

namespace recship::python {

namespace nb = nanobind;

// The first exception a callback raised during one call into the library.
// Create, use and destroy it with the GIL held.
class PythonErrorSlot {
 public:
  // Keeps `error` (the first one only) and returns the status the library
  // sees: CANCELLED for KeyboardInterrupt, else UNKNOWN, naming `where`.
  absl::Status Keep(nb::python_error& error, const std::string& where);
  // Raises the kept exception, if any.
  void RaiseIfAny();

 private:
  std::optional<nb::python_error> error_;
};

// A model_fn or receiver fn made in C++ (recship.zoo's): the exporters call
// it without going through Python.
struct NativeModelFn {
  ModelFn fn;
};
struct NativeReceiverFn {
  ServingInputReceiverFn fn;
};

// `fn` as the library's function type: a Native* as is, a Python callable
// wrapped as described above.
ModelFn ToModelFn(nb::handle fn, std::shared_ptr<PythonErrorSlot> slot);
ServingInputReceiverFn ToReceiverFn(nb::handle fn, std::shared_ptr<PythonErrorSlot> slot);

// A reference to `object` that any thread may copy and drop: the last
// owner releases it with the GIL taken.
std::shared_ptr<nb::object> SharedObject(nb::handle object);

}  // namespace recship::python

#endif  // RECSHIP_PYTHON_CALLBACKS_H_
