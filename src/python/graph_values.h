// Python values inside graphs: outputs checked as they are made, features,
// constants from Python numbers and arrays, dtypes from names or numpy dtypes.
#ifndef RECSHIP_PYTHON_GRAPH_VALUES_H_
#define RECSHIP_PYTHON_GRAPH_VALUES_H_

#include <nanobind/nanobind.h>

#include "recship/graph/graph.h"
#include "recship/model/estimator.h"

namespace recship::python {

namespace nb = nanobind;

// `out`, after raising the graph's first error if building it failed.
Output Checked(const Scope& scope, Output out);

// An Output as is; a Python number as a scalar constant of `like`'s dtype
// when `like` is an Output (else float32 or int64); an array as a constant.
Output AsOutput(nb::handle value, nb::handle like = nb::handle());

// A dtype from its name ('float32', 'DT_INT64') or anything numpy.dtype takes.
DataType ParseDtype(nb::handle dtype);

// A feature: an Output is a single-valued (or dense) one, else a Feature bag.
Feature FeatureOf(nb::handle value);

// An int32 constant of an int or a list of ints (axes, shapes), or an
// Output as is.
Output IndexConst(const Scope& scope, nb::handle value, const char* name);

}  // namespace recship::python

#endif  // RECSHIP_PYTHON_GRAPH_VALUES_H_
