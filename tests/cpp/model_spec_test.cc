// Model specs: every example parses and builds, each architecture names its
// variables as the README says, and a bad spec's error names the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "nlohmann/json.hpp"
#include "recship/model/model_zoo.h"
#include "recship/model/spec.h"

namespace recship {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json BaseSpec() {
  return json::parse(R"({
    "name": "m",
    "tables": [{"name": "user", "dim": 4, "num_shards": 2},
               {"name": "item", "dim": 4, "num_shards": 2}],
    "features": [{"name": "user", "type": "id", "table": "user"},
                 {"name": "items", "type": "id_bag", "table": "item", "combiner": "sqrtn"},
                 {"name": "context", "type": "dense", "dim": 3}],
    "architecture": {"type": "dnn", "hidden_units": [8]}
  })");
}

std::string ErrorOf(const json& spec) {
  auto parsed = ParseModelSpec(spec.dump());
  EXPECT_FALSE(parsed.ok()) << spec.dump();
  return std::string(parsed.status().message());
}

std::map<std::string, TensorShape> Variables(const json& spec) {
  auto parsed = ParseModelSpec(spec.dump());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  auto variables = DenseVariables(*parsed);
  EXPECT_TRUE(variables.ok()) << variables.status();
  return {variables->begin(), variables->end()};
}

TEST(ModelSpecTest, EveryExampleParsesAndBuilds) {
  for (const char* name : {"ctr", "wide_deep", "deepfm", "dcn_v2", "mmoe", "shared_bottom"}) {
    auto spec = LoadModelSpec(std::string(RECSHIP_EXAMPLES_DIR) + "/" + name + ".json");
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    auto variables = DenseVariables(*spec);
    ASSERT_TRUE(variables.ok()) << name << ": " << variables.status();
    EXPECT_FALSE(variables->empty()) << name;
  }
}

TEST(ModelSpecTest, EachArchitectureNamesItsVariables) {
  // Input width: user 4 + items 4 + context 3.
  json spec = BaseSpec();
  auto vars = Variables(spec);
  EXPECT_EQ(vars["mlp/dense_0/kernel"], (TensorShape{11, 8}));
  EXPECT_EQ(vars["mlp/logits/kernel"], (TensorShape{8, 1}));

  spec["architecture"] = {
      {"type", "wide_deep"}, {"hidden_units", {8}}, {"wide_features", {"user", "context"}}};
  vars = Variables(spec);
  EXPECT_EQ(vars["wide/logits/kernel"], (TensorShape{7, 1}));
  EXPECT_EQ(vars["mlp/logits/kernel"], (TensorShape{8, 1}));

  spec["architecture"] = {{"type", "deepfm"}, {"hidden_units", {8}}};
  vars = Variables(spec);
  EXPECT_EQ(vars["fm/linear/kernel"], (TensorShape{11, 1}));
  EXPECT_EQ(vars.size(), 6u);  // fm/linear, mlp/dense_0, mlp/logits.

  spec["architecture"] = {
      {"type", "dcn_v2"}, {"hidden_units", {8}}, {"cross_layers", 2}, {"structure", "parallel"}};
  vars = Variables(spec);
  EXPECT_EQ(vars["cross/layer_1/kernel"], (TensorShape{11, 11}));
  EXPECT_EQ(vars["mlp/logits/kernel"], (TensorShape{19, 1}));  // [cross 11, deep 8]

  spec["architecture"] = {{"type", "mmoe"},
                          {"num_experts", 3},
                          {"expert_units", {6}},
                          {"tasks", {{{"name", "ctr"}}, {{"name", "cvr"}, {"hidden_units", {5}}}}}};
  vars = Variables(spec);
  EXPECT_EQ(vars["expert_2/dense_0/kernel"], (TensorShape{11, 6}));
  EXPECT_EQ(vars["cvr/gate/kernel"], (TensorShape{11, 3}));
  EXPECT_EQ(vars["cvr/dense_0/kernel"], (TensorShape{6, 5}));
  EXPECT_EQ(vars["ctr/logits/kernel"], (TensorShape{6, 1}));

  spec["architecture"] = {
      {"type", "shared_bottom"},
      {"hidden_units", {8}},
      {"tasks", {{{"name", "a"}, {"output_units", 3}, {"output_activation", "softmax"}}}}};
  vars = Variables(spec);
  EXPECT_EQ(vars["bottom/dense_0/kernel"], (TensorShape{11, 8}));
  EXPECT_EQ(vars["a/logits/kernel"], (TensorShape{8, 3}));
}

TEST(ModelSpecTest, MultiTaskModelsPredictOneOutputPerTask) {
  json spec = BaseSpec();
  spec["architecture"] = {{"type", "shared_bottom"},
                          {"hidden_units", {8}},
                          {"tasks", {{{"name", "ctr"}}, {{"name", "watch_time"}}}}};
  auto parsed = ParseModelSpec(spec.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Graph g;
  Scope root(&g);
  auto receiver = MakeServingInputReceiverFn(*parsed)(root);
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  EXPECT_EQ(receiver->receiver_tensors.count("items_dense_shape"), 1u);
  auto estimator = MakeModelFn(*parsed)(receiver->features, Mode::kPredict, RunConfig{});
  ASSERT_TRUE(estimator.ok()) << estimator.status();
  EXPECT_EQ(estimator->predictions.size(), 2u);
  EXPECT_EQ(estimator->predictions.count("watch_time"), 1u);
}

TEST(ModelSpecTest, ErrorsNameTheField) {
  EXPECT_THAT(std::string(ParseModelSpec("{").status().message()), HasSubstr("not valid JSON"));
  struct Case {
    const char* pointer;  // JSON pointer to change
    json value;           // null removes it
    const char* message;
  };
  const Case cases[] = {
      {"/name", nullptr, "name: is required"},
      {"/name", "my model", "name: 'my model' must be a letter"},
      {"/tables/1/dim", -1, "tables[1].dim: must be a positive integer"},
      {"/tables/1/name", "user", "tables[1].name: is used twice"},
      {"/tables/0/shards", 2, "tables[0].shards: is not a field of a table"},
      {"/features/1/table", "nope", "features[1].table: no table named 'nope'"},
      {"/features/1/combiner", "max", "features[1].combiner: unknown combiner 'max'"},
      {"/features/2/type", "float", "features[2].type: 'float' is not id, id_bag or dense"},
      {"/features/0/combiner", "sum", "features[0].combiner: is not a field of an id feature"},
      {"/features", json::array(), "features: must list at least one feature"},
      {"/architecture", nullptr, "architecture: is required"},
      {"/architecture/type", "xgboost", "architecture.type: 'xgboost' is not one of dnn"},
      {"/architecture/hiden_units", json::array({8}),
       "architecture.hiden_units: is not a field of a dnn architecture"},
      {"/architecture/hidden_units/0", 0, "architecture.hidden_units[0]: must be a positive"},
      {"/architecture/activation", "gelu", "architecture.activation: unknown activation 'gelu'"},
      {"/architecture/cross_layers", 2,
       "architecture.cross_layers: is not a field of a dnn architecture"},
      {"/extra", 1, "extra: is not a field of a model spec"},
      {"/features/2/name", "items_values",
       "features[2].name: its input 'items_values' is also an input of features[1]"},
  };
  for (const Case& c : cases) {
    json spec = BaseSpec();
    json::json_pointer pointer(c.pointer);
    if (c.value.is_null()) {
      spec[pointer.parent_pointer()].erase(pointer.back());
    } else {
      spec[pointer] = c.value;
    }
    EXPECT_THAT(ErrorOf(spec), HasSubstr(c.message)) << c.pointer;
  }
}

TEST(ModelSpecTest, ArchitectureErrorsNameTheField) {
  json spec = BaseSpec();
  spec["architecture"] = {{"type", "wide_deep"}, {"hidden_units", {8}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.wide_features: is required"));
  spec["architecture"]["wide_features"] = {"user", "ghost"};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.wide_features[1]: no feature named 'ghost'"));

  spec["architecture"] = {
      {"type", "deepfm"}, {"hidden_units", {8}}, {"fm_features", {"user", "context"}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.fm_features[1]: 'context' is dense"));
  spec["tables"][1]["dim"] = 6;
  spec["architecture"].erase("fm_features");
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.fm_features: feature 'items' has dim 6"));
  spec["tables"][1]["dim"] = 4;

  spec["architecture"] = {
      {"type", "dcn_v2"}, {"hidden_units", {8}}, {"cross_layers", 1}, {"structure", "diagonal"}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.structure: 'diagonal' is not stacked"));

  spec["architecture"] = {{"type", "mmoe"}, {"num_experts", 2}, {"expert_units", {4}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.tasks: is required"));
  spec["architecture"]["tasks"] = {{{"name", "ctr"}}, {{"name", "ctr"}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.tasks[1].name: is used twice"));
  spec["architecture"]["tasks"] = {{{"name", "expert_0"}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.tasks[0].name: 'expert_0' is reserved"));
  spec["architecture"]["tasks"] = {{{"name", "ctr"}, {"units", 2}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.tasks[0].units: is not a field of a task"));
  spec["architecture"]["tasks"] = {{{"name", "ctr"}}};
  spec["architecture"]["output_activation"] = "sigmoid";
  EXPECT_THAT(ErrorOf(spec),
              HasSubstr("architecture.output_activation: is not a field of a mmoe architecture"));

  spec["architecture"]["tasks"] = {{{"name", "experts"}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("architecture.tasks[0].name: 'experts' is reserved"));

  // A feature, input or table named like a variable scope would rename it.
  spec["architecture"]["tasks"] = {{{"name", "user"}}};
  spec["architecture"].erase("output_activation");
  EXPECT_THAT(ErrorOf(spec),
              HasSubstr("tables[0].name: 'user' is the name of task architecture.tasks[0]"));
  spec["architecture"] = {{"type", "dnn"}, {"hidden_units", {8}}};
  spec["features"][0]["name"] = "mlp";
  EXPECT_THAT(ErrorOf(spec),
              HasSubstr("features[0].name: 'mlp' is a scope of the model's variables"));
  spec["features"][0]["name"] = "user";
  spec["tables"][1]["name"] = "expert_3";
  spec["features"][1]["table"] = "expert_3";
  EXPECT_THAT(ErrorOf(spec), HasSubstr("tables[1].name: 'expert_3' is a scope"));
  spec["tables"][1]["name"] = "item";
  spec["features"][1]["table"] = "item";
  spec["features"][1]["name"] = "head";  // its inputs are head_indices, ...: no clash
  EXPECT_TRUE(ParseModelSpec(spec.dump()).ok());

  spec.erase("architecture");
  spec["mlp"] = {{"hidden_units", {8}}};
  EXPECT_THAT(ErrorOf(spec), HasSubstr("mlp: was replaced by \"architecture\""));
}

}  // namespace
}  // namespace recship
