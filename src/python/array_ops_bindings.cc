// Inputs, constants and the shape ops as Python functions, named as
// TensorFlow's Python API names them.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "recship/graph/ops.h"
#include "src/python/bindings.h"
#include "src/python/current_scope.h"
#include "src/python/graph_values.h"
#include "src/python/numpy_tensor.h"

namespace recship::python {
namespace {

using namespace nb::literals;

// None for unknown rank, else a list with None (or -1) for unknown dims.
PartialShape ShapeFromPython(nb::handle shape) {
  if (shape.is_none()) return PartialShape::Unknown();
  std::vector<int64_t> dims;
  for (nb::handle d : shape) dims.push_back(d.is_none() ? -1 : nb::cast<int64_t>(d));
  return PartialShape::Of(std::move(dims));
}

std::vector<Output> OutputList(nb::handle values) {
  std::vector<Output> out;
  for (nb::handle v : values) out.push_back(AsOutput(v));
  return out;
}

void BindInputs(nb::module_& m) {
  m.def(
      "placeholder",
      [](nb::handle dtype, nb::handle shape, std::optional<std::string> name) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Placeholder(s, ParseDtype(dtype), ShapeFromPython(shape),
                                           name.value_or("Placeholder")));
      },
      "dtype"_a, "shape"_a = nb::none(), "name"_a = nb::none(),
      nb::sig("def placeholder(dtype: str | numpy.dtype, shape: "
              "collections.abc.Sequence[int | None] | None = None, name: str | None = None) "
              "-> Output"),
      "A serving input: its value comes with each request (tf.compat.v1.placeholder).");
  m.def(
      "placeholder_with_default",
      [](nb::handle input, nb::handle shape, std::optional<std::string> name) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::PlaceholderWithDefault(s, AsOutput(input), ShapeFromPython(shape),
                                                      name.value_or("PlaceholderWithDefault")));
      },
      "input"_a, "shape"_a, "name"_a = nb::none(),
      "An optional serving input that is `input` when a request leaves it out.");
  m.def(
      "constant",
      [](nb::handle value, nb::handle dtype, std::optional<std::string> name) {
        const Scope& s = CurrentScope();
        nb::object array = nb::module_::import_("numpy").attr("asarray")(
            value, dtype.is_none() ? nb::none()
                                   : nb::object(nb::str(DataTypeName(ParseDtype(dtype)).c_str())));
        Tensor t = ValueOrThrow(TensorFromPython(array, "constant"));
        return Checked(s, ops::Const(s, t, name.value_or("Const")));
      },
      "value"_a, "dtype"_a = nb::none(), "name"_a = nb::none(),
      "A constant of a number, list or array (tf.constant).");
  m.def(
      "identity",
      [](const Output& x, std::optional<std::string> name) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Identity(s, x, name.value_or("Identity")));
      },
      "input"_a, "name"_a = nb::none(), "x itself, as a node of its own name (tf.identity).");
}

void BindShapes(nb::module_& m) {
  m.def(
      "concat",
      [](nb::handle values, int axis) {
        const Scope& s = CurrentScope();
        std::vector<Output> inputs = OutputList(values);
        return Checked(s, ops::ConcatV2(s, inputs, IndexConst(s, nb::int_(axis), "axis")));
      },
      "values"_a, "axis"_a,
      nb::sig("def concat(values: collections.abc.Sequence[Output], axis: int) -> Output"),
      "The inputs joined along `axis` (ConcatV2).");
  m.def(
      "stack",
      [](nb::handle values, int64_t axis) {
        const Scope& s = CurrentScope();
        std::vector<Output> inputs = OutputList(values);
        return Checked(s, ops::Pack(s, inputs, axis));
      },
      "values"_a, "axis"_a = 0,
      nb::sig("def stack(values: collections.abc.Sequence[Output], axis: int = 0) -> Output"),
      "The inputs stacked along a new `axis` (Pack).");
  m.def(
      "reshape",
      [](const Output& x, nb::handle shape) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Reshape(s, x, IndexConst(s, shape, "shape")));
      },
      "tensor"_a, "shape"_a, "x with another shape of as many elements; -1 is inferred.");
  m.def(
      "expand_dims",
      [](const Output& x, int axis) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::ExpandDims(s, x, IndexConst(s, nb::int_(axis), "dim")));
      },
      "input"_a, "axis"_a, "x with a dimension of size 1 inserted at `axis`.");
  m.def(
      "squeeze",
      [](const Output& x, std::vector<int64_t> axis) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Squeeze(s, x, axis));
      },
      "input"_a, "axis"_a, "x without the size-1 dimensions `axis`.");
  m.def(
      "shape",
      [](const Output& x, nb::handle out_type) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Shape(s, x, ParseDtype(out_type)));
      },
      "input"_a, "out_type"_a = "int32", "The run-time shape of x.");
  m.def(
      "fill",
      [](nb::handle dims, nb::handle value) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Fill(s, IndexConst(s, dims, "dims"), AsOutput(value)));
      },
      "dims"_a, "value"_a, "A tensor of shape `dims` filled with the scalar `value`.");
  m.def(
      "gather",
      [](const Output& params, nb::handle indices, int axis) {
        const Scope& s = CurrentScope();
        return Checked(
            s, ops::GatherV2(s, params, AsOutput(indices), IndexConst(s, nb::int_(axis), "axis")));
      },
      "params"_a, "indices"_a, "axis"_a = 0, "Slices of params at `indices` (GatherV2).");
}

}  // namespace

void BindArrayOps(nb::module_& m) {
  BindInputs(m);
  BindShapes(m);
}

}  // namespace recship::python
