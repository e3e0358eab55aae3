// The tf.estimator vocabulary of model/estimator.h: ModeKeys, RunConfig,
// Feature (a SparseTensor-like bag), Features, PredictOutput, EstimatorSpec
// and ServingInputReceiver.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/model/estimator.h"
#include "src/python/bindings.h"
#include "src/python/current_scope.h"
#include "src/python/graph_values.h"

namespace recship::python {
namespace {

using namespace nb::literals;

// A dict of name -> Output, or one Output named `single_name` (as
// tf.estimator turns a lone tensor into a dict).
std::map<std::string, Output> OutputMap(nb::handle value, const char* single_name) {
  if (value.is_none()) return {};
  if (nb::isinstance<Output>(value)) return {{single_name, nb::cast<Output>(value)}};
  return nb::cast<std::map<std::string, Output>>(value);
}

nb::object FeatureToPython(const Feature& f) {
  return f.is_sparse() ? nb::cast(f) : nb::cast(f.dense);
}

void BindFeature(nb::module_& m) {
  nb::class_<Feature>(m, "Feature",
                      "A multi-valued id feature in tf.SparseTensor form: indices int64 "
                      "[n, 2] (row, position), values int64 [n] (the ids) and dense_shape "
                      "int64 [2] (batch, longest bag).")
      .def(
          "__init__",
          [](Feature* f, Output indices, Output values, Output dense_shape) {
            new (f) Feature{.indices = indices, .values = values, .dense_shape = dense_shape};
          },
          "indices"_a, "values"_a, "dense_shape"_a)
      .def_ro("indices", &Feature::indices)
      .def_ro("values", &Feature::values)
      .def_ro("dense_shape", &Feature::dense_shape);

  nb::class_<Features>(m, "Features",
                       "What a model_fn reads: features by name, an Output for dense and "
                       "single-id features, a Feature for id bags.")
      .def("__getitem__",
           [](const Features& features, const std::string& name) {
             auto it = features.all().find(name);
             if (it == features.all().end()) {
               std::vector<std::string> names;
               for (const auto& [n, f] : features.all()) names.push_back(n);
               PyErr_SetString(PyExc_KeyError, absl::StrCat("no feature '", name,
                                                            "'; the serving input receiver "
                                                            "gives: ",
                                                            absl::StrJoin(names, ", "))
                                                   .c_str());
               throw nb::python_error();
             }
             return FeatureToPython(it->second);
           })
      .def("__contains__", [](const Features& features,
                              const std::string& name) { return features.all().contains(name); })
      .def("__len__", [](const Features& features) { return features.all().size(); })
      .def("keys", [](const Features& features) {
        nb::list names;
        for (const auto& [name, f] : features.all()) names.append(name);
        return names;
      });
}

void BindSpecs(nb::module_& m) {
  nb::enum_<Mode>(m, "ModeKeys", "The mode a model_fn builds for; exports use PREDICT.")
      .value("TRAIN", Mode::kTrain)
      .value("EVAL", Mode::kEval)
      .value("PREDICT", Mode::kPredict);
  nb::class_<RunConfig>(m, "RunConfig", "What a model_fn is told: the training folder.")
      .def_ro("model_dir", &RunConfig::model_dir);
  nb::class_<ExportOutput>(m, "PredictOutput",
                           "One extra serving signature's outputs (tf.estimator.export."
                           "PredictOutput).")
      .def(
          "__init__",
          [](ExportOutput* out, nb::handle outputs) {
            new (out) ExportOutput{OutputMap(outputs, "output")};
          },
          "outputs"_a)
      .def_ro("outputs", &ExportOutput::outputs);
  nb::class_<EstimatorSpec>(m, "EstimatorSpec",
                            "What a model_fn returns: the predictions (the serving_default "
                            "signature's outputs) and optional extra signatures.")
      .def(
          "__init__",
          [](EstimatorSpec* spec, Mode mode, nb::handle predictions, nb::handle export_outputs) {
            new (spec) EstimatorSpec{mode, OutputMap(predictions, "output"), {}};
            if (!export_outputs.is_none()) {
              spec->export_outputs = nb::cast<std::map<std::string, ExportOutput>>(export_outputs);
            }
          },
          "mode"_a, "predictions"_a = nb::none(), "export_outputs"_a = nb::none())
      .def_ro("mode", &EstimatorSpec::mode)
      .def_ro("predictions", &EstimatorSpec::predictions)
      .def_ro("export_outputs", &EstimatorSpec::export_outputs);
}

void BindReceiver(nb::module_& m) {
  nb::class_<ServingInputReceiver>(
      m, "ServingInputReceiver",
      "What a serving_input_receiver_fn returns: the features the model_fn reads (an Output "
      "or Feature each) and the signature's inputs (placeholders).")
      .def(
          "__init__",
          [](ServingInputReceiver* r, nb::handle features, nb::handle receiver_tensors) {
            new (r) ServingInputReceiver{Features(CurrentScope()), {}};
            if (nb::isinstance<Output>(features)) {
              r->features.Set("feature", FeatureOf(features));
            } else {
              for (auto [name, value] : nb::cast<nb::dict>(features)) {
                r->features.Set(nb::cast<std::string>(name), FeatureOf(value));
              }
            }
            r->receiver_tensors = OutputMap(receiver_tensors, "input");
          },
          "features"_a, "receiver_tensors"_a)
      .def_prop_ro("receiver_tensors",
                   [](const ServingInputReceiver& r) { return r.receiver_tensors; });
}

}  // namespace

void BindEstimator(nb::module_& m) {
  BindFeature(m);
  BindSpecs(m);
  BindReceiver(m);
}

}  // namespace recship::python
