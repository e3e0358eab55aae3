// Models described in JSON (examples/ctr.json; schema in the README): sparse
// id features on sharded hash tables, dense float features, an MLP tower and
// an output activation. A ModelSpec gives a ModelFn and a
// ServingInputReceiverFn through the C++ API.
#ifndef RECSHIP_MODEL_SPEC_H_
#define RECSHIP_MODEL_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/model/estimator.h"
#include "recship/model/layers.h"

namespace recship::model {

struct FeatureSpec {
  enum class Kind { kId, kIdBag, kDense };
  std::string name;
  Kind kind = Kind::kId;
  std::string table;                   // kId, kIdBag
  Combiner combiner = Combiner::kSum;  // kIdBag
  int64_t dim = 0;                     // kDense
};

struct ModelSpec {
  std::string name;
  std::vector<HashTableSpec> tables;
  std::vector<FeatureSpec> features;
  std::vector<int64_t> hidden_units;
  Activation hidden_activation = Activation::kRelu;
  Activation output_activation = Activation::kSigmoid;
  int64_t output_units = 1;
  // Where the MLP's nodes are placed ("/device:GPU:0"); empty: anywhere.
  std::string mlp_device;

  const HashTableSpec* FindTable(const std::string& name) const;
  // Names and shapes of the dense variables, in build order.
  std::vector<std::pair<std::string, TensorShape>> DenseVariables() const;
};

// Parses and checks a spec; errors name the offending field ("features[2].table").
absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text);
absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path);

ModelFn MakeModelFn(const ModelSpec& spec);
ServingInputReceiverFn MakeServingInputReceiverFn(const ModelSpec& spec);

}  // namespace recship::model

#endif  // RECSHIP_MODEL_SPEC_H_
