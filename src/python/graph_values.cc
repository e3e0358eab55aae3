#include "src/python/graph_values.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/format/dtype.h"
#include "recship/graph/ops.h"
#include "src/python/bindings.h"
#include "src/python/current_scope.h"
#include "src/python/numpy_tensor.h"

namespace recship::python {
namespace {

// A scalar of `dtype` holding the Python number `value`.
absl::StatusOr<Tensor> Scalar(nb::handle value, DataType dtype) {
  switch (dtype) {
    case tensorflow::DT_FLOAT:
      return Tensor::FromVector<float>({}, {nb::cast<float>(value)});
    case tensorflow::DT_DOUBLE:
      return Tensor::FromVector<double>({}, {nb::cast<double>(value)});
    case tensorflow::DT_INT32:
      return Tensor::FromVector<int32_t>({}, {nb::cast<int32_t>(value)});
    case tensorflow::DT_INT64:
      return Tensor::FromVector<int64_t>({}, {nb::cast<int64_t>(value)});
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("a Python number cannot be a constant of ", DataTypeName(dtype)));
  }
}

}  // namespace

Output Checked(const Scope& scope, Output out) {
  CheckGraph(scope);
  return out;
}

Output AsOutput(nb::handle value, nb::handle like) {
  if (nb::isinstance<Output>(value)) return nb::cast<Output>(value);
  const Scope& s = CurrentScope();
  bool is_number = nb::isinstance<nb::float_>(value) || nb::isinstance<nb::int_>(value);
  if (is_number && !nb::isinstance<nb::bool_>(value)) {
    DataType dtype =
        nb::isinstance<nb::float_>(value) ? tensorflow::DT_FLOAT : tensorflow::DT_INT64;
    if (like.is_valid() && nb::isinstance<Output>(like)) dtype = nb::cast<Output>(like).dtype;
    return Checked(s, ops::Const(s, ValueOrThrow(Scalar(value, dtype))));
  }
  return Checked(s, ops::Const(s, ValueOrThrow(TensorFromPython(value, "constant"))));
}

Feature FeatureOf(nb::handle value) {
  if (nb::isinstance<Output>(value)) return Feature{.dense = nb::cast<Output>(value)};
  return nb::cast<Feature>(value);
}

DataType ParseDtype(nb::handle dtype) {
  std::string name;
  if (nb::isinstance<nb::str>(dtype)) {
    name = nb::cast<std::string>(dtype);
  } else {
    name = nb::cast<std::string>(nb::module_::import_("numpy").attr("dtype")(dtype).attr("name"));
  }
  return ValueOrThrow(ParseDataType(name));
}

Output IndexConst(const Scope& scope, nb::handle value, const char* name) {
  if (nb::isinstance<Output>(value)) return nb::cast<Output>(value);
  if (nb::isinstance<nb::int_>(value)) {
    return Checked(scope, ops::ScalarConst(scope, nb::cast<int32_t>(value), name));
  }
  std::vector<int32_t> values = nb::cast<std::vector<int32_t>>(value);
  TensorShape shape = {static_cast<int64_t>(values.size())};
  return Checked(scope, ops::Const(scope, Tensor::FromVector<int32_t>(shape, values), name));
}

}  // namespace recship::python
