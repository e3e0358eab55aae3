// What the binding files of the _recship extension share: turning a Status
// into the Python exception of its code (recship.errors), and the Bind*
// functions module.cc calls, one per part of the API.
#ifndef RECSHIP_PYTHON_BINDINGS_H_
#define RECSHIP_PYTHON_BINDINGS_H_

#include <nanobind/nanobind.h>

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recship::python {

namespace nb = nanobind;

// Raises the recship.errors class of status.code() (InvalidArgumentError,
// NotFoundError, ...) carrying status.message(). Needs the GIL.
[[noreturn]] void ThrowStatus(const absl::Status& status);

inline void CheckOk(const absl::Status& status) {
  if (!status.ok()) ThrowStatus(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) ThrowStatus(value.status());
  return *std::move(value);
}

// options[key] as T, or nullopt when it is absent or None: the Python side
// passes an export's or a server's options as one dict.
template <typename T>
std::optional<T> Option(const nb::dict& options, const char* key) {
  if (!options.contains(key) || options[key].is_none()) return std::nullopt;
  return nb::cast<T>(options[key]);
}

void BindGraph(nb::module_& m);
void BindEstimator(nb::module_& m);
void BindExport(nb::module_& m);
void BindCheckpoint(nb::module_& m);
void BindServing(nb::module_& m);
// Parts of BindGraph.
void BindArrayOps(nb::module_& m);
void BindLayers(nb::module_& m);
// Parts of BindExport.
void BindDelta(nb::module_& m);
void BindZoo(nb::module_& m);

}  // namespace recship::python

#endif  // RECSHIP_PYTHON_BINDINGS_H_
