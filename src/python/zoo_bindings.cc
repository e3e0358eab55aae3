// The built-in architectures (model/model_zoo.h) for recship.zoo: a JSON
// spec becomes a model_fn and a serving_input_receiver_fn that the
// exporters call natively and Python code may call too (inside a model_fn,
// to build on a zoo model).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "recship/model/model_zoo.h"
#include "recship/model/spec.h"
#include "src/python/bindings.h"
#include "src/python/callbacks.h"
#include "src/python/current_scope.h"

namespace recship::python {

using namespace nb::literals;

void BindZoo(nb::module_& m) {
  nb::class_<ModelSpec>(m, "ModelSpec", "A model described in JSON (the README's schema).")
      .def_ro("name", &ModelSpec::name);
  m.def(
      "_parse_model_spec",
      [](const std::string& json_text) { return ValueOrThrow(ParseModelSpec(json_text)); },
      "json_text"_a);
  m.def(
      "_load_model_spec", [](const std::string& path) { return ValueOrThrow(LoadModelSpec(path)); },
      "path"_a);
  m.def(
      "_zoo_model_fn", [](const ModelSpec& spec) { return NativeModelFn{MakeModelFn(spec)}; },
      "spec"_a);
  m.def(
      "_zoo_receiver_fn",
      [](const ModelSpec& spec) { return NativeReceiverFn{MakeServingInputReceiverFn(spec)}; },
      "spec"_a);
  nb::class_<NativeModelFn>(m, "NativeModelFn", "A model_fn built in C++ (recship.zoo).")
      .def(
          "__call__",
          [](const NativeModelFn& f, const Features& features, Mode mode, const RunConfig& config) {
            return ValueOrThrow(f.fn(features, mode, config));
          },
          "features"_a, "mode"_a, "config"_a);
  nb::class_<NativeReceiverFn>(m, "NativeReceiverFn",
                               "A serving_input_receiver_fn built in C++ (recship.zoo).")
      .def("__call__",
           [](const NativeReceiverFn& f) { return ValueOrThrow(f.fn(CurrentScope())); });
}

}  // namespace recship::python
