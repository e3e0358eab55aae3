// A model described in JSON (examples/*.json; the schema is in the README):
// sparse id features on sharded hash tables, dense float features, and one
// of the built-in architectures (DNN, Wide & Deep, DeepFM, DCN-v2,
// shared-bottom and MMoE multi-task). ParseModelSpec checks everything a
// model build would trip on, and its errors name the field at fault
// ("features[2].table", "architecture.tasks[1].name"). model_zoo.h turns a
// spec into a model_fn.
#ifndef RECSHIP_MODEL_SPEC_H_
#define RECSHIP_MODEL_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/model/layers.h"

namespace recship {

struct FeatureSpec {
  enum class Kind { kId, kIdBag, kDense };
  std::string name;
  Kind kind = Kind::kId;
  std::string table;                   // kId, kIdBag
  Combiner combiner = Combiner::kSum;  // kIdBag
  int64_t dim = 0;                     // kDense

  // The serving signature's inputs: `name`, or for a bag (a SparseTensor)
  // name_indices, name_values and name_dense_shape.
  std::vector<std::string> InputNames() const;
};

enum class Architecture { kDnn, kWideDeep, kDeepFm, kDcnV2, kSharedBottom, kMmoe };

// One head of a multi-task model: an MLP tower on the shared representation,
// then `output_units` logits and the output activation. Its prediction is
// the output named after the task.
struct TaskSpec {
  std::string name;
  std::vector<int64_t> hidden_units;
  Activation output_activation = Activation::kSigmoid;
  int64_t output_units = 1;
};

struct ArchitectureSpec {
  Architecture type = Architecture::kDnn;
  // The deep tower (dnn, wide_deep, deepfm, dcn_v2) or the shared bottom
  // (shared_bottom); mmoe's experts use expert_units instead.
  std::vector<int64_t> hidden_units;
  Activation activation = Activation::kRelu;
  // Single-task architectures: the "prediction" output.
  Activation output_activation = Activation::kSigmoid;
  int64_t output_units = 1;
  // Where the dense network's nodes are placed ("/device:GPU:0"); empty: anywhere.
  std::string device;
  // wide_deep: the features of the linear (wide) part.
  std::vector<std::string> wide_features;
  // deepfm: the id features whose embeddings interact (default: all of them).
  std::vector<std::string> fm_features;
  // dcn_v2: full-rank cross layers, then the deep tower on top (stacked) or
  // beside it (parallel).
  int64_t cross_layers = 0;
  bool parallel = false;
  // mmoe: experts, each an MLP of expert_units, mixed per task by a softmax gate.
  int64_t num_experts = 0;
  std::vector<int64_t> expert_units;
  // shared_bottom, mmoe: the heads.
  std::vector<TaskSpec> tasks;

  bool multi_task() const {
    return type == Architecture::kSharedBottom || type == Architecture::kMmoe;
  }
};

struct ModelSpec {
  std::string name;
  std::vector<HashTableSpec> tables;
  std::vector<FeatureSpec> features;
  ArchitectureSpec architecture;

  const HashTableSpec* FindTable(const std::string& name) const;
  const FeatureSpec* FindFeature(const std::string& name) const;
  // Width of a feature's column in the model input: its table's dim or its own.
  int64_t Width(const FeatureSpec& feature) const;
};

absl::string_view ArchitectureName(Architecture type);

// Parses and checks a spec; errors name the offending field.
absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text);
// The same, with the file's path in front of any error.
absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path);

}  // namespace recship

#endif  // RECSHIP_MODEL_SPEC_H_
