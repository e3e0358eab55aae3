#include "recship/model/spec.h"

#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "spec_reader.h"

namespace recship {
namespace {

using internal::FieldError;
using internal::json;
using internal::ObjectReader;

// Names become graph scopes and output names: keep them to identifiers.
absl::Status CheckName(const std::string& field, const std::string& name) {
  bool ok = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) != 0);
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_');
  if (!ok) {
    return FieldError(field, absl::StrCat("'", name,
                                          "' must be a letter followed by letters, digits "
                                          "and underscores"));
  }
  return absl::OkStatus();
}

absl::Status ParseTables(const ObjectReader& root, ModelSpec& spec) {
  RECSHIP_ASSIGN_OR_RETURN(const json* tables, root.Child("tables", json::value_t::array));
  for (size_t i = 0; i < tables->size(); ++i) {
    RECSHIP_ASSIGN_OR_RETURN(ObjectReader t,
                             ObjectReader::Make((*tables)[i], absl::StrCat("tables[", i, "]")));
    HashTableSpec table;
    RECSHIP_ASSIGN_OR_RETURN(table.name, t.String("name"));
    RECSHIP_RETURN_IF_ERROR(CheckName(t.Path("name"), table.name));
    RECSHIP_ASSIGN_OR_RETURN(table.dim, t.Positive("dim"));
    RECSHIP_ASSIGN_OR_RETURN(int64_t shards, t.Positive("num_shards"));
    if (shards > 4096) return FieldError(t.Path("num_shards"), "must be at most 4096");
    table.num_shards = static_cast<int>(shards);
    RECSHIP_RETURN_IF_ERROR(t.CheckNoOtherFields("a table"));
    if (spec.FindTable(table.name) != nullptr) return FieldError(t.Path("name"), "is used twice");
    spec.tables.push_back(table);
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureSpec> ParseFeature(const ObjectReader& f, const ModelSpec& spec) {
  FeatureSpec feature;
  RECSHIP_ASSIGN_OR_RETURN(feature.name, f.String("name"));
  RECSHIP_RETURN_IF_ERROR(CheckName(f.Path("name"), feature.name));
  RECSHIP_ASSIGN_OR_RETURN(std::string type, f.String("type"));
  if (type == "dense") {
    feature.kind = FeatureSpec::Kind::kDense;
    RECSHIP_ASSIGN_OR_RETURN(feature.dim, f.Positive("dim"));
    RECSHIP_RETURN_IF_ERROR(f.CheckNoOtherFields("a dense feature"));
    return feature;
  }
  if (type != "id" && type != "id_bag") {
    return FieldError(f.Path("type"), absl::StrCat("'", type, "' is not id, id_bag or dense"));
  }
  feature.kind = type == "id" ? FeatureSpec::Kind::kId : FeatureSpec::Kind::kIdBag;
  RECSHIP_ASSIGN_OR_RETURN(feature.table, f.String("table"));
  if (spec.FindTable(feature.table) == nullptr) {
    return FieldError(f.Path("table"), absl::StrCat("no table named '", feature.table, "'"));
  }
  if (feature.kind == FeatureSpec::Kind::kIdBag) {
    RECSHIP_ASSIGN_OR_RETURN(std::string combiner, f.String("combiner", "sum"));
    auto parsed = ParseCombiner(combiner);
    if (!parsed.ok()) return FieldError(f.Path("combiner"), parsed.status().message());
    feature.combiner = *parsed;
  }
  RECSHIP_RETURN_IF_ERROR(f.CheckNoOtherFields(absl::StrCat("an ", type, " feature")));
  return feature;
}

absl::Status ParseFeatures(const ObjectReader& root, ModelSpec& spec) {
  RECSHIP_ASSIGN_OR_RETURN(const json* features, root.Child("features", json::value_t::array));
  if (features->empty()) return FieldError("features", "must list at least one feature");
  for (size_t i = 0; i < features->size(); ++i) {
    RECSHIP_ASSIGN_OR_RETURN(ObjectReader f,
                             ObjectReader::Make((*features)[i], absl::StrCat("features[", i, "]")));
    RECSHIP_ASSIGN_OR_RETURN(FeatureSpec feature, ParseFeature(f, spec));
    if (spec.FindFeature(feature.name) != nullptr) {
      return FieldError(f.Path("name"), "is used twice");
    }
    spec.features.push_back(std::move(feature));
  }
  return absl::OkStatus();
}

absl::StatusOr<Architecture> ParseArchitectureType(const ObjectReader& a) {
  static constexpr Architecture kAll[] = {Architecture::kDnn,          Architecture::kWideDeep,
                                          Architecture::kDeepFm,       Architecture::kDcnV2,
                                          Architecture::kSharedBottom, Architecture::kMmoe};
  RECSHIP_ASSIGN_OR_RETURN(std::string type, a.String("type"));
  std::vector<std::string> names;
  for (Architecture arch : kAll) {
    if (type == ArchitectureName(arch)) return arch;
    names.emplace_back(ArchitectureName(arch));
  }
  return FieldError(a.Path("type"),
                    absl::StrCat("'", type, "' is not one of ", absl::StrJoin(names, ", ")));
}

// Feature names listed under `key` must name features of `kinds`.
absl::StatusOr<std::vector<std::string>> FeatureList(const ObjectReader& a, const char* key,
                                                     bool required, const ModelSpec& spec,
                                                     bool ids_only) {
  RECSHIP_ASSIGN_OR_RETURN(std::vector<std::string> names, a.Strings(key, required));
  if (required && names.empty()) return FieldError(a.Path(key), "must name at least one feature");
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string field = absl::StrCat(a.Path(key), "[", i, "]");
    const FeatureSpec* f = spec.FindFeature(names[i]);
    if (f == nullptr) return FieldError(field, absl::StrCat("no feature named '", names[i], "'"));
    if (ids_only && f->kind == FeatureSpec::Kind::kDense) {
      return FieldError(field,
                        absl::StrCat("'", names[i], "' is dense; only id features interact"));
    }
    if (!seen.insert(names[i]).second) return FieldError(field, "is listed twice");
  }
  return names;
}

// DeepFM's pairwise interactions need every embedding to have one width.
absl::Status CheckFmFeatures(const ObjectReader& a, ModelSpec& spec) {
  ArchitectureSpec& arch = spec.architecture;
  if (arch.fm_features.empty()) {
    for (const FeatureSpec& f : spec.features) {
      if (f.kind != FeatureSpec::Kind::kDense) arch.fm_features.push_back(f.name);
    }
  }
  if (arch.fm_features.size() < 2) {
    return FieldError(a.Path("fm_features"), "deepfm needs at least two id features to interact");
  }
  int64_t dim = spec.Width(*spec.FindFeature(arch.fm_features[0]));
  for (const std::string& name : arch.fm_features) {
    int64_t width = spec.Width(*spec.FindFeature(name));
    if (width != dim) {
      return FieldError(
          a.Path("fm_features"),
          absl::StrCat("feature '", name, "' has dim ", width, " but '", arch.fm_features[0],
                       "' has ", dim, "; interacting embeddings need one dim"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TaskSpec>> ParseTasks(const ObjectReader& a) {
  RECSHIP_ASSIGN_OR_RETURN(const json* tasks, a.Child("tasks", json::value_t::array));
  if (tasks->empty()) return FieldError(a.Path("tasks"), "must list at least one task");
  std::vector<TaskSpec> out;
  std::set<std::string> names;
  for (size_t i = 0; i < tasks->size(); ++i) {
    RECSHIP_ASSIGN_OR_RETURN(
        ObjectReader t,
        ObjectReader::Make((*tasks)[i], absl::StrCat(a.Path("tasks"), "[", i, "]")));
    TaskSpec task;
    RECSHIP_ASSIGN_OR_RETURN(task.name, t.String("name"));
    RECSHIP_RETURN_IF_ERROR(CheckName(t.Path("name"), task.name));
    // Task towers are scopes of the graph, beside the architecture's own.
    static const std::set<std::string> kReserved = {"input_layer", "bottom", "experts"};
    if (kReserved.count(task.name) != 0 || task.name.rfind("expert_", 0) == 0) {
      return FieldError(t.Path("name"), absl::StrCat("'", task.name, "' is reserved"));
    }
    if (!names.insert(task.name).second) return FieldError(t.Path("name"), "is used twice");
    RECSHIP_ASSIGN_OR_RETURN(task.hidden_units, t.Units("hidden_units", false));
    RECSHIP_ASSIGN_OR_RETURN(task.output_activation,
                             t.ActivationField("output_activation", Activation::kSigmoid));
    RECSHIP_ASSIGN_OR_RETURN(task.output_units, t.Positive("output_units", 1));
    RECSHIP_RETURN_IF_ERROR(t.CheckNoOtherFields("a task"));
    out.push_back(std::move(task));
  }
  return out;
}

absl::Status ParseArchitecture(const ObjectReader& root, ModelSpec& spec) {
  if (root.Has("mlp") && !root.Has("architecture")) {
    return FieldError("mlp", "was replaced by \"architecture\": {\"type\": \"dnn\", ...}");
  }
  RECSHIP_ASSIGN_OR_RETURN(const json* value, root.Child("architecture", json::value_t::object));
  RECSHIP_ASSIGN_OR_RETURN(ObjectReader a, ObjectReader::Make(*value, "architecture"));
  ArchitectureSpec& arch = spec.architecture;
  RECSHIP_ASSIGN_OR_RETURN(arch.type, ParseArchitectureType(a));
  RECSHIP_ASSIGN_OR_RETURN(arch.activation, a.ActivationField("activation", Activation::kRelu));
  RECSHIP_ASSIGN_OR_RETURN(arch.device, a.String("device", ""));
  if (arch.type != Architecture::kMmoe) {
    RECSHIP_ASSIGN_OR_RETURN(arch.hidden_units, a.Units("hidden_units", true));
  }
  if (arch.multi_task()) {
    RECSHIP_ASSIGN_OR_RETURN(arch.tasks, ParseTasks(a));
  } else {
    RECSHIP_ASSIGN_OR_RETURN(arch.output_activation,
                             a.ActivationField("output_activation", Activation::kSigmoid));
    RECSHIP_ASSIGN_OR_RETURN(arch.output_units, a.Positive("output_units", 1));
  }
  if (arch.type == Architecture::kWideDeep) {
    RECSHIP_ASSIGN_OR_RETURN(arch.wide_features,
                             FeatureList(a, "wide_features", true, spec, false));
  }
  if (arch.type == Architecture::kDeepFm) {
    RECSHIP_ASSIGN_OR_RETURN(arch.fm_features, FeatureList(a, "fm_features", false, spec, true));
    RECSHIP_RETURN_IF_ERROR(CheckFmFeatures(a, spec));
  }
  if (arch.type == Architecture::kDcnV2) {
    RECSHIP_ASSIGN_OR_RETURN(arch.cross_layers, a.Positive("cross_layers"));
    RECSHIP_ASSIGN_OR_RETURN(std::string structure, a.String("structure", "stacked"));
    if (structure != "stacked" && structure != "parallel") {
      return FieldError(a.Path("structure"),
                        absl::StrCat("'", structure, "' is not stacked or parallel"));
    }
    arch.parallel = structure == "parallel";
  }
  if (arch.type == Architecture::kMmoe) {
    RECSHIP_ASSIGN_OR_RETURN(arch.num_experts, a.Positive("num_experts"));
    RECSHIP_ASSIGN_OR_RETURN(arch.expert_units, a.Units("expert_units", true));
    if (arch.expert_units.empty()) {
      return FieldError(a.Path("expert_units"), "must list at least one layer");
    }
  }
  return a.CheckNoOtherFields(absl::StrCat("a ", ArchitectureName(arch.type), " architecture"));
}

// The scopes the model's variables live in ("mlp/dense_0/kernel"). Inputs
// and tables are named at the graph's root before them, and a name taken
// there would push a scope to "mlp_1", renaming the variables a checkpoint
// must hold; so no feature, input or table may take one.
absl::Status CheckVariableScopesAreFree(const ModelSpec& spec) {
  std::map<std::string, std::string> scopes;  // scope -> what it is, for the message
  for (const char* scope :
       {"input_layer", "mlp", "head", "wide", "fm", "cross", "bottom", "experts"}) {
    scopes[scope] = "a scope of the model's variables";
  }
  const std::vector<TaskSpec>& tasks = spec.architecture.tasks;
  for (size_t i = 0; i < tasks.size(); ++i) {
    scopes[tasks[i].name] = absl::StrCat("the name of task architecture.tasks[", i, "]");
  }
  auto check = [&](const std::string& field, const std::string& name) -> absl::Status {
    auto it = scopes.find(name);
    if (it == scopes.end() && name.rfind("expert_", 0) != 0) return absl::OkStatus();
    return FieldError(
        field, absl::StrCat("'", name, "' is ",
                            it == scopes.end() ? "a scope of the model's variables" : it->second,
                            "; rename one (a clash would rename the variables)"));
  };
  for (size_t i = 0; i < spec.tables.size(); ++i) {
    RECSHIP_RETURN_IF_ERROR(check(absl::StrCat("tables[", i, "].name"), spec.tables[i].name));
  }
  for (size_t i = 0; i < spec.features.size(); ++i) {
    for (const std::string& input : spec.features[i].InputNames()) {
      RECSHIP_RETURN_IF_ERROR(check(absl::StrCat("features[", i, "].name"), input));
    }
  }
  return absl::OkStatus();
}

// No two features may give the signature the same input name.
absl::Status CheckInputNamesAreUnique(const ModelSpec& spec) {
  std::map<std::string, size_t> owner;
  for (size_t i = 0; i < spec.features.size(); ++i) {
    for (const std::string& input : spec.features[i].InputNames()) {
      auto [it, inserted] = owner.emplace(input, i);
      if (!inserted && it->second != i) {
        return FieldError(
            absl::StrCat("features[", i, "].name"),
            absl::StrCat("its input '", input, "' is also an input of features[", it->second, "]"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseInto(const json& value, ModelSpec& spec) {
  RECSHIP_ASSIGN_OR_RETURN(ObjectReader root, ObjectReader::Make(value, ""));
  RECSHIP_ASSIGN_OR_RETURN(spec.name, root.String("name"));
  RECSHIP_RETURN_IF_ERROR(CheckName("name", spec.name));
  RECSHIP_RETURN_IF_ERROR(ParseTables(root, spec));
  RECSHIP_RETURN_IF_ERROR(ParseFeatures(root, spec));
  RECSHIP_RETURN_IF_ERROR(ParseArchitecture(root, spec));
  RECSHIP_RETURN_IF_ERROR(CheckInputNamesAreUnique(spec));
  RECSHIP_RETURN_IF_ERROR(CheckVariableScopesAreFree(spec));
  return root.CheckNoOtherFields("a model spec");
}

}  // namespace

std::vector<std::string> FeatureSpec::InputNames() const {
  if (kind != Kind::kIdBag) return {name};
  return {name + "_indices", name + "_values", name + "_dense_shape"};
}

absl::string_view ArchitectureName(Architecture type) {
  switch (type) {
    case Architecture::kDnn:
      return "dnn";
    case Architecture::kWideDeep:
      return "wide_deep";
    case Architecture::kDeepFm:
      return "deepfm";
    case Architecture::kDcnV2:
      return "dcn_v2";
    case Architecture::kSharedBottom:
      return "shared_bottom";
    case Architecture::kMmoe:
      return "mmoe";
  }
  return "?";
}

const HashTableSpec* ModelSpec::FindTable(const std::string& table) const {
  for (const HashTableSpec& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

const FeatureSpec* ModelSpec::FindFeature(const std::string& feature) const {
  for (const FeatureSpec& f : features) {
    if (f.name == feature) return &f;
  }
  return nullptr;
}

int64_t ModelSpec::Width(const FeatureSpec& feature) const {
  return feature.kind == FeatureSpec::Kind::kDense ? feature.dim : FindTable(feature.table)->dim;
}

absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("model spec: not valid JSON");
  ModelSpec spec;
  RECSHIP_RETURN_IF_ERROR(ParseInto(root, spec));
  return spec;
}

absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 16 << 20));
  auto spec = ParseModelSpec(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  }
  return spec;
}

}  // namespace recship
