// The tf.estimator vocabulary in C++: what a model function receives and
// returns. A ModelFn builds the model's graph from Features in a Mode and
// returns an EstimatorSpec; a ServingInputReceiverFn builds the serving
// inputs. Both build into the graph of the Scope they are given.
#ifndef RECSHIP_MODEL_ESTIMATOR_H_
#define RECSHIP_MODEL_ESTIMATOR_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "recship/graph/graph.h"

namespace recship {

enum class Mode { kTrain, kEval, kPredict };

struct RunConfig {
  std::string model_dir;
};

// One input feature. Dense float features and single-valued id features
// (int64 [batch]) use `dense`. Multi-valued id features use TensorFlow's
// SparseTensor form: `indices` int64 [n, 2] (row, position) in row-major
// order, `values` int64 [n] (the ids) and `dense_shape` int64 [2]
// (batch, max bag size); this is what tf.sparse and tf.io.parse_example
// produce, and a row with no entries is an empty bag.
struct Feature {
  Output dense;
  Output indices;
  Output values;
  Output dense_shape;

  bool is_sparse() const { return values.valid(); }
};

// The features a model function reads, and the scope to build into.
class Features {
 public:
  explicit Features(Scope scope) : scope_(std::move(scope)) {}

  const Scope& scope() const { return scope_; }
  // Error naming the feature when it is absent.
  absl::StatusOr<Feature> Get(const std::string& name) const;
  void Set(const std::string& name, Feature feature) { features_[name] = std::move(feature); }
  const std::map<std::string, Feature>& all() const { return features_; }

 private:
  Scope scope_;
  std::map<std::string, Feature> features_;
};

// One named output head for serving, as tf.estimator.export.PredictOutput.
struct ExportOutput {
  std::map<std::string, Output> outputs;
};

struct EstimatorSpec {
  Mode mode = Mode::kPredict;
  std::map<std::string, Output> predictions;
  // Extra signatures by name; serving_default is made from `predictions`
  // unless one is given here.
  std::map<std::string, ExportOutput> export_outputs;
};

// Maps a serving request to the model's inputs: receiver_tensors are the
// signature inputs (placeholders), features what the model function reads.
struct ServingInputReceiver {
  Features features;
  std::map<std::string, Output> receiver_tensors;
};

using ModelFn =
    std::function<absl::StatusOr<EstimatorSpec>(const Features&, Mode, const RunConfig&)>;
using ServingInputReceiverFn = std::function<absl::StatusOr<ServingInputReceiver>(const Scope&)>;

}  // namespace recship

#endif  // RECSHIP_MODEL_ESTIMATOR_H_
