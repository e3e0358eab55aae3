#include "recship/model/spec.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/graph/ops.h"

namespace recship::model {
namespace {

namespace ops = graph::ops;
using graph::Output;
using graph::PartialShape;
using json = nlohmann::json;

absl::Status FieldError(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("model spec: ", field, ": ", problem));
}

// Reads a required field of the given JSON type.
absl::StatusOr<json> Field(const json& object, const std::string& path, const char* key,
                           json::value_t type) {
  std::string field = path.empty() ? key : absl::StrCat(path, ".", key);
  if (!object.is_object() || !object.contains(key)) return FieldError(field, "is required");
  const json& value = object.at(key);
  bool ok =
      value.type() == type || (type == json::value_t::number_integer && value.is_number_unsigned());
  if (!ok) return FieldError(field, absl::StrCat("must be a ", json(type).type_name()));
  return value;
}

absl::StatusOr<std::string> StringField(const json& o, const std::string& path, const char* key) {
  ASSIGN_OR_RETURN(json v, Field(o, path, key, json::value_t::string));
  if (v.get<std::string>().empty()) {
    return FieldError(path.empty() ? key : absl::StrCat(path, ".", key), "may not be empty");
  }
  return v.get<std::string>();
}

absl::StatusOr<int64_t> PositiveField(const json& o, const std::string& path, const char* key) {
  ASSIGN_OR_RETURN(json v, Field(o, path, key, json::value_t::number_integer));
  if (v.get<int64_t>() <= 0) {
    return FieldError(path.empty() ? key : absl::StrCat(path, ".", key), "must be positive");
  }
  return v.get<int64_t>();
}

absl::StatusOr<FeatureSpec> ParseFeature(const json& f, const std::string& path,
                                         const ModelSpec& spec) {
  FeatureSpec feature;
  ASSIGN_OR_RETURN(feature.name, StringField(f, path, "name"));
  ASSIGN_OR_RETURN(std::string type, StringField(f, path, "type"));
  if (type == "dense") {
    feature.kind = FeatureSpec::Kind::kDense;
    ASSIGN_OR_RETURN(feature.dim, PositiveField(f, path, "dim"));
    return feature;
  }
  if (type != "id" && type != "id_bag") {
    return FieldError(path + ".type", absl::StrCat("'", type, "' is not id, id_bag or dense"));
  }
  feature.kind = type == "id" ? FeatureSpec::Kind::kId : FeatureSpec::Kind::kIdBag;
  ASSIGN_OR_RETURN(feature.table, StringField(f, path, "table"));
  if (spec.FindTable(feature.table) == nullptr) {
    return FieldError(path + ".table", absl::StrCat("no table named '", feature.table, "'"));
  }
  if (feature.kind == FeatureSpec::Kind::kIdBag) {
    std::string combiner = f.value("combiner", "sum");
    auto parsed = ParseCombiner(combiner);
    if (!parsed.ok()) return FieldError(path + ".combiner", parsed.status().message());
    feature.combiner = *parsed;
  }
  return feature;
}

absl::Status ParseInto(const json& root, ModelSpec& spec) {
  ASSIGN_OR_RETURN(spec.name, StringField(root, "", "name"));
  ASSIGN_OR_RETURN(json tables, Field(root, "", "tables", json::value_t::array));
  std::set<std::string> names;
  for (size_t i = 0; i < tables.size(); ++i) {
    std::string path = absl::StrCat("tables[", i, "]");
    HashTableSpec table;
    ASSIGN_OR_RETURN(table.name, StringField(tables[i], path, "name"));
    ASSIGN_OR_RETURN(table.dim, PositiveField(tables[i], path, "dim"));
    ASSIGN_OR_RETURN(int64_t shards, PositiveField(tables[i], path, "num_shards"));
    table.num_shards = static_cast<int>(shards);
    if (!names.insert(table.name).second) return FieldError(path + ".name", "is used twice");
    spec.tables.push_back(table);
  }
  ASSIGN_OR_RETURN(json features, Field(root, "", "features", json::value_t::array));
  if (features.empty()) return FieldError("features", "must list at least one feature");
  names.clear();
  for (size_t i = 0; i < features.size(); ++i) {
    std::string path = absl::StrCat("features[", i, "]");
    ASSIGN_OR_RETURN(FeatureSpec feature, ParseFeature(features[i], path, spec));
    if (!names.insert(feature.name).second) return FieldError(path + ".name", "is used twice");
    spec.features.push_back(std::move(feature));
  }
  ASSIGN_OR_RETURN(json mlp, Field(root, "", "mlp", json::value_t::object));
  ASSIGN_OR_RETURN(json units, Field(mlp, "mlp", "hidden_units", json::value_t::array));
  for (size_t i = 0; i < units.size(); ++i) {
    if (!units[i].is_number_integer() || units[i].get<int64_t>() <= 0) {
      return FieldError(absl::StrCat("mlp.hidden_units[", i, "]"), "must be a positive integer");
    }
    spec.hidden_units.push_back(units[i].get<int64_t>());
  }
  auto hidden = ParseActivation(mlp.value("activation", "relu"));
  if (!hidden.ok()) return FieldError("mlp.activation", hidden.status().message());
  spec.hidden_activation = *hidden;
  auto output = ParseActivation(mlp.value("output_activation", "sigmoid"));
  if (!output.ok()) return FieldError("mlp.output_activation", output.status().message());
  spec.output_activation = *output;
  spec.output_units = mlp.value("output_units", int64_t{1});
  if (spec.output_units <= 0) return FieldError("mlp.output_units", "must be positive");
  if (mlp.contains("device")) {
    if (!mlp["device"].is_string()) return FieldError("mlp.device", "must be a string");
    spec.mlp_device = mlp["device"].get<std::string>();
  }
  return absl::OkStatus();
}

int64_t InputWidth(const ModelSpec& spec) {
  int64_t width = 0;
  for (const FeatureSpec& f : spec.features) {
    width += f.kind == FeatureSpec::Kind::kDense ? f.dim : spec.FindTable(f.table)->dim;
  }
  return width;
}

}  // namespace

const HashTableSpec* ModelSpec::FindTable(const std::string& table) const {
  for (const HashTableSpec& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

std::vector<std::pair<std::string, TensorShape>> ModelSpec::DenseVariables() const {
  std::vector<std::pair<std::string, TensorShape>> vars;
  int64_t in = InputWidth(*this);
  for (size_t i = 0; i < hidden_units.size(); ++i) {
    std::string layer = absl::StrCat("mlp/dense_", i);
    vars.push_back({layer + "/kernel", {in, hidden_units[i]}});
    vars.push_back({layer + "/bias", {hidden_units[i]}});
    in = hidden_units[i];
  }
  vars.push_back({"mlp/logits/kernel", {in, output_units}});
  vars.push_back({"mlp/logits/bias", {output_units}});
  return vars;
}

absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("model spec: not valid JSON");
  ModelSpec spec;
  RETURN_IF_ERROR(ParseInto(root, spec));
  return spec;
}

absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 16 << 20));
  auto spec = ParseModelSpec(text);
  if (!spec.ok())
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  return spec;
}

ServingInputReceiverFn MakeServingInputReceiverFn(const ModelSpec& spec) {
  return [spec](const graph::Scope& root) -> absl::StatusOr<ServingInputReceiver> {
    ServingInputReceiver receiver{Features(root), {}};
    for (const FeatureSpec& f : spec.features) {
      Feature feature;
      if (f.kind == FeatureSpec::Kind::kDense) {
        feature.dense =
            ops::Placeholder(root, tensorflow::DT_FLOAT, PartialShape::Of({-1, f.dim}), f.name);
        receiver.receiver_tensors[f.name] = feature.dense;
      } else if (f.kind == FeatureSpec::Kind::kId) {
        feature.dense =
            ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1}), f.name);
        receiver.receiver_tensors[f.name] = feature.dense;
      } else {
        feature.indices = ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1, 2}),
                                           f.name + "_indices");
        feature.values = ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1}),
                                          f.name + "_values");
        feature.dense_shape = ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({2}),
                                               f.name + "_dense_shape");
        receiver.receiver_tensors[f.name + "_indices"] = feature.indices;
        receiver.receiver_tensors[f.name + "_values"] = feature.values;
        receiver.receiver_tensors[f.name + "_dense_shape"] = feature.dense_shape;
      }
      receiver.features.Set(f.name, feature);
    }
    RETURN_IF_ERROR(root.graph()->status());
    return receiver;
  };
}

ModelFn MakeModelFn(const ModelSpec& spec) {
  return [spec](const Features& features, Mode, const RunConfig&) -> absl::StatusOr<EstimatorSpec> {
    const graph::Scope& root = features.scope();
    std::vector<Output> columns;
    graph::Scope input = root.NewSubScope("input_layer");
    for (const FeatureSpec& f : spec.features) {
      ASSIGN_OR_RETURN(Feature feature, features.Get(f.name));
      if (f.kind == FeatureSpec::Kind::kDense) {
        columns.push_back(feature.dense);
      } else {
        columns.push_back(HashEmbeddingBag(input, *spec.FindTable(f.table), feature, f.combiner));
      }
    }
    Output x = columns.size() == 1
                   ? columns[0]
                   : ops::ConcatV2(input, columns, ops::ScalarConst(input, int32_t{1}, "axis"));
    graph::Scope mlp = root.NewSubScope("mlp").WithDevice(spec.mlp_device);
    for (size_t i = 0; i < spec.hidden_units.size(); ++i) {
      x = Dense(mlp, x, spec.hidden_units[i], spec.hidden_activation, absl::StrCat("dense_", i));
    }
    Output logits = Dense(mlp, x, spec.output_units, Activation::kNone, "logits");
    graph::Scope head = root.NewSubScope("head");
    Output prediction = logits;
    if (spec.output_activation != Activation::kNone) {
      static constexpr absl::string_view kOps[] = {"", "Relu", "Sigmoid", "Tanh", "Softmax"};
      prediction = ops::Unary(head, kOps[static_cast<int>(spec.output_activation)], logits);
    }
    RETURN_IF_ERROR(root.graph()->status());
    EstimatorSpec estimator;
    estimator.predictions["prediction"] = ops::Identity(head, prediction, "prediction");
    return estimator;
  };
}

}  // namespace recship::model
