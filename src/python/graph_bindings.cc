// Output (a node's output with its dtype and static shape), the current
// scope, name_scope/device blocks, and the ops of the op table as Python
// functions building into the current scope.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "recship/graph/ops.h"
#include "src/python/bindings.h"
#include "src/python/current_scope.h"
#include "src/python/graph_values.h"
#include "src/python/numpy_tensor.h"

namespace recship::python {
namespace {

using namespace nb::literals;

thread_local std::vector<Scope> scope_stack;

// A `with` block that builds in a child scope of the current one.
class ScopeBlock {
 public:
  ScopeBlock(std::string name, bool is_device) : name_(std::move(name)), is_device_(is_device) {}
  void Enter() {
    const Scope& outer = CurrentScope();
    scope_stack.push_back(is_device_ ? outer.WithDevice(name_) : outer.NewSubScope(name_));
    entered_ = true;
  }
  void Exit(nb::args) {
    if (entered_) scope_stack.pop_back();
    entered_ = false;
  }

 private:
  std::string name_;
  bool is_device_;
  bool entered_ = false;
};

nb::object ShapeToPython(const PartialShape& shape) {
  if (shape.unknown_rank) return nb::none();
  nb::list dims;
  for (int64_t d : shape.dims) dims.append(d < 0 ? nb::object(nb::none()) : nb::int_(d));
  return nb::tuple(dims);
}

std::string OutputRepr(const Output& o) {
  std::string shape = o.shape.unknown_rank ? "<unknown>" : o.shape.ToString();
  return absl::StrCat("<recship.Output '", o.tensor_name(), "' shape=", shape,
                      " dtype=", DataTypeName(o.dtype), ">");
}

using BinaryOp = Output (*)(const Scope&, const Output&, const Output&);

Output MatMulOf(const Scope& s, const Output& a, const Output& b) { return ops::MatMul(s, a, b); }

// op(x, y), a Python number on either side taking the other's dtype.
Output Binary(BinaryOp op, nb::handle x, nb::handle y) {
  const Scope& s = CurrentScope();
  return Checked(s, op(s, AsOutput(x, y), AsOutput(y, x)));
}

void BindOutput(nb::module_& m) {
  nb::class_<Output>(m, "Output",
                     "One output of a graph node: what ops take and return. Its dtype and "
                     "static shape are known when it is built.")
      .def_prop_ro("name", &Output::tensor_name, "'node:index', as a signature names it.")
      .def_prop_ro(
          "op_name", [](const Output& o) { return o.node; }, "The node's name.")
      .def_prop_ro("index", [](const Output& o) { return o.index; })
      .def_prop_ro(
          "dtype", [](const Output& o) { return DataTypeName(o.dtype); },
          "The element type's name: 'float32', 'int64', ...")
      .def_prop_ro(
          "shape", [](const Output& o) { return ShapeToPython(o.shape); },
          nb::sig("def shape(self) -> tuple[int | None, ...] | None"),
          "The static shape: a tuple with None for unknown dimensions, or None.")
      .def("__repr__", &OutputRepr)
      .def("__add__", [](nb::handle x, nb::handle y) { return Binary(ops::AddV2, x, y); })
      .def("__radd__", [](nb::handle x, nb::handle y) { return Binary(ops::AddV2, y, x); })
      .def("__sub__", [](nb::handle x, nb::handle y) { return Binary(ops::Sub, x, y); })
      .def("__rsub__", [](nb::handle x, nb::handle y) { return Binary(ops::Sub, y, x); })
      .def("__mul__", [](nb::handle x, nb::handle y) { return Binary(ops::Mul, x, y); })
      .def("__rmul__", [](nb::handle x, nb::handle y) { return Binary(ops::Mul, y, x); })
      .def("__truediv__", [](nb::handle x, nb::handle y) { return Binary(ops::RealDiv, x, y); })
      .def("__rtruediv__", [](nb::handle x, nb::handle y) { return Binary(ops::RealDiv, y, x); })
      .def("__matmul__", [](nb::handle x, nb::handle y) { return Binary(MatMulOf, x, y); });
}

void BindScopes(nb::module_& m) {
  nb::class_<ScopeBlock>(m, "_ScopeBlock")
      .def("__enter__", &ScopeBlock::Enter)
      .def("__exit__", &ScopeBlock::Exit);
  m.def(
      "name_scope", [](std::string name) { return ScopeBlock(std::move(name), false); }, "name"_a,
      "A `with` block whose nodes are named '<scope>/<name>/...' (a second block of the "
      "same name becomes <name>_1), as tf.name_scope.");
  m.def(
      "device", [](std::string name) { return ScopeBlock(std::move(name), true); }, "device_name"_a,
      "A `with` block whose nodes are placed on `device_name`, as tf.device.");
  m.def(
      "is_building", [] { return !scope_stack.empty(); },
      "True inside a model_fn or serving_input_receiver_fn that recship is calling.");
}

Output Unary(const char* op, const Output& x) {
  const Scope& s = CurrentScope();
  return Checked(s, ops::Unary(s, op, x));
}

void BindMath(nb::module_& m) {
  m.def(
      "add", [](nb::handle x, nb::handle y) { return Binary(ops::AddV2, x, y); }, "x"_a, "y"_a,
      "x + y, element-wise with broadcasting (AddV2).");
  m.def(
      "subtract", [](nb::handle x, nb::handle y) { return Binary(ops::Sub, x, y); }, "x"_a, "y"_a,
      "x - y (Sub).");
  m.def(
      "multiply", [](nb::handle x, nb::handle y) { return Binary(ops::Mul, x, y); }, "x"_a, "y"_a,
      "x * y (Mul).");
  m.def(
      "divide", [](nb::handle x, nb::handle y) { return Binary(ops::RealDiv, x, y); }, "x"_a, "y"_a,
      "x / y (RealDiv).");
  m.def(
      "maximum", [](nb::handle x, nb::handle y) { return Binary(ops::Maximum, x, y); }, "x"_a,
      "y"_a, "max(x, y) (Maximum).");
  m.def(
      "floormod", [](nb::handle x, nb::handle y) { return Binary(ops::FloorMod, x, y); }, "x"_a,
      "y"_a, "x mod y rounding down (FloorMod).");
  m.def(
      "matmul",
      [](const Output& a, const Output& b, bool transpose_a, bool transpose_b) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::MatMul(s, a, b, transpose_a, transpose_b));
      },
      "a"_a, "b"_a, "transpose_a"_a = false, "transpose_b"_a = false, "a · b of rank-2 a, b.");
  m.def(
      "bias_add",
      [](const Output& value, const Output& bias) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::BiasAdd(s, value, bias));
      },
      "value"_a, "bias"_a, "value + bias along the last dimension (BiasAdd).");
  for (const char* op :
       {"Relu", "Sigmoid", "Tanh", "Softmax", "Square", "Sqrt", "Rsqrt", "Exp", "Log"}) {
    std::string name = absl::AsciiStrToLower(op);
    m.def(
        name.c_str(), [op](const Output& x) { return Unary(op, x); }, "x"_a,
        absl::StrCat(op, "(x), element-wise (Softmax: over the last dimension).").c_str());
  }
  m.def(
      "cast",
      [](const Output& x, nb::handle dtype) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Cast(s, x, ParseDtype(dtype)));
      },
      "x"_a, "dtype"_a, "x as another dtype (Cast).");
}

void BindReductions(nb::module_& m) {
  m.def(
      "reduce_sum",
      [](const Output& x, nb::handle axis, bool keepdims) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Sum(s, x, IndexConst(s, axis, "reduction_indices"), keepdims));
      },
      "input_tensor"_a, "axis"_a, "keepdims"_a = false, "The sum over `axis` (int or list).");
  m.def(
      "reduce_mean",
      [](const Output& x, nb::handle axis, bool keepdims) {
        const Scope& s = CurrentScope();
        return Checked(s, ops::Mean(s, x, IndexConst(s, axis, "reduction_indices"), keepdims));
      },
      "input_tensor"_a, "axis"_a, "keepdims"_a = false, "The mean over `axis` (int or list).");
}

}  // namespace

const Scope& CurrentScope() {
  if (scope_stack.empty()) {
    ThrowStatus(absl::FailedPreconditionError(
        "no graph is being built: call recship ops inside a model_fn or "
        "serving_input_receiver_fn while an exporter runs it"));
  }
  return scope_stack.back();
}

ScopePush::ScopePush(Scope scope) { scope_stack.push_back(std::move(scope)); }
ScopePush::~ScopePush() { scope_stack.pop_back(); }

void CheckGraph(const Scope& scope) {
  if (!scope.ok()) ThrowStatus(scope.graph()->status());
}

void BindGraph(nb::module_& m) {
  BindOutput(m);
  BindScopes(m);
  BindMath(m);
  BindReductions(m);
  BindArrayOps(m);
  BindLayers(m);
}

}  // namespace recship::python
