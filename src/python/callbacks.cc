#include "src/python/callbacks.h"

#include <nanobind/stl/string.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/python/current_scope.h"

namespace recship::python {

absl::Status PythonErrorSlot::Keep(nb::python_error& error, const std::string& where) {
  std::string message = absl::StrCat(where, " raised ", error.what());
  bool interrupted = error.matches(PyExc_KeyboardInterrupt);
  if (!error_) error_.emplace(error);
  return interrupted ? absl::CancelledError("interrupted") : absl::UnknownError(message);
}

void PythonErrorSlot::RaiseIfAny() {
  if (!error_) return;
  nb::python_error error = *std::move(error_);
  error_.reset();
  throw error;
}

std::shared_ptr<nb::object> SharedObject(nb::handle object) {
  return std::shared_ptr<nb::object>(new nb::object(nb::borrow(object)), [](nb::object* p) {
    nb::gil_scoped_acquire gil;
    delete p;
  });
}

namespace {

std::string TypeName(nb::handle value) { return nb::type_name(value.type()).c_str(); }

}  // namespace

ModelFn ToModelFn(nb::handle fn, std::shared_ptr<PythonErrorSlot> slot) {
  if (nb::isinstance<NativeModelFn>(fn)) return nb::cast<NativeModelFn&>(fn).fn;
  std::shared_ptr<nb::object> callable = SharedObject(fn);
  return [callable, slot](const Features& features, Mode mode,
                          const RunConfig& config) -> absl::StatusOr<EstimatorSpec> {
    nb::gil_scoped_acquire gil;
    ScopePush push(features.scope());
    try {
      nb::object result = (*callable)(features, mode, config);
      EstimatorSpec spec;
      if (!nb::try_cast<EstimatorSpec>(result, spec)) {
        return absl::InvalidArgumentError(
            absl::StrCat("model_fn returned ", TypeName(result), ", not an EstimatorSpec"));
      }
      return spec;
    } catch (nb::python_error& e) {
      return slot->Keep(e, "model_fn");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("model_fn: ", e.what()));
    }
  };
}

ServingInputReceiverFn ToReceiverFn(nb::handle fn, std::shared_ptr<PythonErrorSlot> slot) {
  if (nb::isinstance<NativeReceiverFn>(fn)) return nb::cast<NativeReceiverFn&>(fn).fn;
  std::shared_ptr<nb::object> callable = SharedObject(fn);
  return [callable, slot](const Scope& scope) -> absl::StatusOr<ServingInputReceiver> {
    nb::gil_scoped_acquire gil;
    ScopePush push(scope);
    try {
      nb::object result = (*callable)();
      ServingInputReceiver* receiver = nullptr;
      if (!nb::try_cast<ServingInputReceiver*>(result, receiver) || receiver == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("serving_input_receiver_fn returned ",
                                                       TypeName(result),
                                                       ", not a ServingInputReceiver"));
      }
      return *receiver;
    } catch (nb::python_error& e) {
      return slot->Keep(e, "serving_input_receiver_fn");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("serving_input_receiver_fn: ", e.what()));
    }
  };
}

}  // namespace recship::python
