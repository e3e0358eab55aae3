// `recship inspect PATH`: what a checkpoint or SavedModel holds, like
// tf.train.list_variables and `saved_model_cli show --all`.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "commands.h"
#include "nlohmann/json.hpp"
#include "recship/core/status_macros.h"
#include "recship/format/checkpoint_state.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_bundle.h"
#include "recship/format/warmup.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct InspectOptions {
  std::string path;
  bool json = false;
  bool verify = false;
};

// What PATH names, once resolved.
struct Target {
  enum Kind { kCheckpoint, kSavedModel } kind;
  std::string path;  // A bundle prefix or a SavedModel folder.
};

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// The highest numeric version folder of an export base that holds a
// SavedModel, as TensorFlow Serving's "latest" policy would pick it.
std::string LatestVersion(const std::string& dir) {
  std::string best;
  long long best_version = -1;
  std::error_code ec;
  for (const auto& child : fs::directory_iterator(dir, ec)) {
    std::string name = child.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit) || name.size() > 18) {
      continue;
    }
    if (IsSavedModelDirectory(child.path().string()) && std::stoll(name) > best_version) {
      best_version = std::stoll(name);
      best = child.path().string();
    }
  }
  return best;
}

absl::StatusOr<Target> Resolve(const std::string& path) {
  if (IsSavedModelDirectory(path)) return Target{Target::kSavedModel, path};
  if (Exists(fs::path(path) / kCheckpointStateFilename)) {
    RECSHIP_ASSIGN_OR_RETURN(std::string prefix, LatestCheckpoint(path));
    return Target{Target::kCheckpoint, prefix};
  }
  if (Exists(BundleIndexPath(path))) return Target{Target::kCheckpoint, path};
  if (absl::EndsWith(path, ".index") && Exists(path)) {
    return Target{Target::kCheckpoint, path.substr(0, path.size() - 6)};
  }
  if (std::string latest = LatestVersion(path); !latest.empty()) {
    return Target{Target::kSavedModel, latest};
  }
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file or folder"));
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": not a SavedModel, an export folder, a checkpoint folder or a checkpoint prefix"));
}

json ShapeJson(const TensorShape& shape) { return json(shape); }

// Lists a bundle's tensors; with `verify`, reads each and checks its crc32c.
absl::StatusOr<json> DescribeBundle(const std::string& prefix, bool verify) {
  RECSHIP_ASSIGN_OR_RETURN(auto reader, BundleReader::Open(prefix));
  json tensors = json::array();
  uint64_t total = 0;
  for (const BundleEntry& entry : reader->entries()) {
    if (verify) RECSHIP_RETURN_IF_ERROR(reader->Verify(entry.name));
    tensors.push_back({{"name", entry.name},
                       {"dtype", DataTypeName(entry.dtype)},
                       {"shape", ShapeJson(entry.shape)},
                       {"bytes", entry.size},
                       {"shard", entry.shard_id}});
    total += entry.size;
  }
  return json{{"prefix", prefix},
              {"num_shards", reader->num_shards()},
              {"bytes", total},
              {"verified", verify},
              {"tensors", std::move(tensors)}};
}

json TensorInfoJson(const tensorflow::TensorInfo& info) {
  json shape = nullptr;  // Unknown rank.
  if (!info.tensor_shape().unknown_rank()) {
    shape = json::array();
    for (const auto& dim : info.tensor_shape().dim()) shape.push_back(dim.size());
  }
  return {{"name", info.name()}, {"dtype", DataTypeEnumName(info.dtype())}, {"shape", shape}};
}

json SignatureJson(const tensorflow::SignatureDef& signature) {
  json inputs = json::object(), outputs = json::object();
  std::map<std::string, json> sorted_inputs, sorted_outputs;
  for (const auto& [key, info] : signature.inputs()) sorted_inputs[key] = TensorInfoJson(info);
  for (const auto& [key, info] : signature.outputs()) sorted_outputs[key] = TensorInfoJson(info);
  for (auto& [key, value] : sorted_inputs) inputs[key] = std::move(value);
  for (auto& [key, value] : sorted_outputs) outputs[key] = std::move(value);
  return {{"method_name", signature.method_name()}, {"inputs", inputs}, {"outputs", outputs}};
}

// The hash tables of a graph: per shared_name, the encoding of its rows
// (format/embedding_dtype.h) and the dtype and width they are stored as.
json TablesJson(const tensorflow::GraphDef& graph) {
  const std::map<std::string, EmbeddingDtype> compressed = CompressedTables(graph);
  json tables = json::object();
  for (const auto& node : graph.node()) {
    if (node.op() != "MutableHashTableOfTensorsV2" && node.op() != "MutableDenseHashTableV2") {
      continue;
    }
    const std::string& name = node.attr().at("shared_name").s();
    auto it = compressed.find(name);
    const auto& shape = node.attr().at("value_shape").shape();
    tables[name] = {{"embedding_dtype", it == compressed.end()
                                            ? DataTypeName(node.attr().at("value_dtype").type())
                                            : std::string(EmbeddingDtypeName(it->second))},
                    {"stored_as", DataTypeName(node.attr().at("value_dtype").type())},
                    {"row_width", shape.dim_size() == 1 ? shape.dim(0).size() : -1}};
  }
  return tables;
}

json MetaGraphJson(const tensorflow::MetaGraphDef& meta_graph) {
  std::map<std::string, int> ops;
  for (const auto& node : meta_graph.graph_def().node()) ++ops[node.op()];
  std::map<std::string, json> signatures;
  for (const auto& [key, signature] : meta_graph.signature_def()) {
    signatures[key] = SignatureJson(signature);
  }
  json signatures_json = json::object();
  for (auto& [key, value] : signatures) signatures_json[key] = std::move(value);
  return {{"tags", meta_graph.meta_info_def().tags()},
          {"signatures", signatures_json},
          {"nodes", meta_graph.graph_def().node_size()},
          {"ops", ops},
          {"tables", TablesJson(meta_graph.graph_def())}};
}

// Counts the warmup records by kind; every record must frame and parse.
absl::StatusOr<json> DescribeWarmup(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(WarmupSummary summary, ReadWarmupSummary(path));
  return json{{"records", summary.records},
              {"kinds", summary.kinds},
              {"over_limit", summary.records > kMaxWarmupRecords}};
}

absl::StatusOr<json> DescribeSavedModel(const std::string& dir, bool verify) {
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::SavedModel saved_model, ReadSavedModel(dir));
  json meta_graphs = json::array();
  json assets = json::array();
  for (const auto& meta_graph : saved_model.meta_graphs()) {
    meta_graphs.push_back(MetaGraphJson(meta_graph));
    for (const auto& asset : meta_graph.asset_file_def()) {
      if (std::find(assets.begin(), assets.end(), asset.filename()) == assets.end()) {
        assets.push_back(asset.filename());
      }
    }
  }
  json out{{"kind", "saved_model"},
           {"path", dir},
           {"schema_version", saved_model.saved_model_schema_version()},
           {"meta_graphs", std::move(meta_graphs)},
           {"assets", std::move(assets)}};
  std::string variables = VariablesPrefix(dir);
  if (Exists(BundleIndexPath(variables))) {
    RECSHIP_ASSIGN_OR_RETURN(out["variables"], DescribeBundle(variables, verify));
  } else {
    out["variables"] = nullptr;
  }
  std::string warmup = (fs::path(dir) / kExtraAssetsDirectory / kWarmupFilename).string();
  if (Exists(warmup)) {
    RECSHIP_ASSIGN_OR_RETURN(out["warmup"], DescribeWarmup(warmup));
  } else {
    out["warmup"] = nullptr;
  }
  return out;
}

std::string ShapeText(const json& shape) {
  if (shape.is_null()) return "unknown_rank";
  std::vector<std::string> dims;
  for (const auto& d : shape) dims.push_back(std::to_string(d.get<int64_t>()));
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

void PrintTensors(const json& bundle) {
  std::cout << "checkpoint " << bundle["prefix"].get<std::string>() << " (" << bundle["num_shards"]
            << " data shard(s)"
            << (bundle["verified"].get<bool>() ? ", all checksums verified" : "") << ")\n";
  for (const auto& t : bundle["tensors"]) {
    std::vector<std::string> dims;
    for (const auto& d : t["shape"]) dims.push_back(std::to_string(d.get<int64_t>()));
    std::cout << "  " << t["name"].get<std::string>() << "  " << t["dtype"].get<std::string>()
              << " [" << absl::StrJoin(dims, ",") << "]  " << t["bytes"] << " bytes\n";
  }
  std::cout << "  total: " << bundle["tensors"].size() << " tensors, " << bundle["bytes"]
            << " bytes\n";
}

// The layout of `saved_model_cli show --all`, then recship's extras.
void PrintSavedModel(const json& model) {
  for (const auto& meta_graph : model["meta_graphs"]) {
    std::vector<std::string> tags = meta_graph["tags"];
    std::cout << "\nMetaGraphDef with tag-set: '" << absl::StrJoin(tags, ", ")
              << "' contains the following SignatureDefs:\n";
    for (const auto& [key, signature] : meta_graph["signatures"].items()) {
      std::cout << "\nsignature_def['" << key << "']:\n";
      for (const char* side : {"input", "output"}) {
        std::cout << "  The given SavedModel SignatureDef contains the following " << side
                  << "(s):\n";
        for (const auto& [name, info] : signature[std::string(side) + "s"].items()) {
          std::cout << "    " << side << "s['" << name << "'] tensor_info:\n"
                    << "        dtype: " << info["dtype"].get<std::string>() << "\n"
                    << "        shape: " << ShapeText(info["shape"]) << "\n"
                    << "        name: " << info["name"].get<std::string>() << "\n";
        }
      }
      std::cout << "  Method name is: " << signature["method_name"].get<std::string>() << "\n";
    }
    std::vector<std::string> ops;
    for (const auto& [op, count] : meta_graph["ops"].items()) {
      ops.push_back(absl::StrCat(op, " x", count.get<int>()));
    }
    std::cout << "\nGraph: " << meta_graph["nodes"] << " nodes; ops: " << absl::StrJoin(ops, ", ")
              << "\n";
    for (const auto& [table, info] : meta_graph["tables"].items()) {
      std::cout << "table " << table << ": " << info["embedding_dtype"].get<std::string>()
                << " rows, stored as " << info["stored_as"].get<std::string>() << " ["
                << info["row_width"] << "]\n";
    }
  }
  std::cout << "\n";
  if (model["variables"].is_null()) {
    std::cout << "variables: none\n";
  } else {
    PrintTensors(model["variables"]);
  }
  std::vector<std::string> assets = model["assets"];
  std::cout << "assets: " << (assets.empty() ? "none" : absl::StrJoin(assets, ", ")) << "\n";
  if (model["warmup"].is_null()) {
    std::cout << "warmup: none\n";
  } else {
    std::cout << "warmup: " << model["warmup"]["records"] << " record(s) "
              << model["warmup"]["kinds"]
              << (model["warmup"]["over_limit"].get<bool>() ? " (over TensorFlow Serving's 1000)"
                                                            : "")
              << "\n";
  }
}

absl::Status RunInspect(const InspectOptions& options) {
  RECSHIP_ASSIGN_OR_RETURN(Target target, Resolve(options.path));
  json out;
  if (target.kind == Target::kCheckpoint) {
    RECSHIP_ASSIGN_OR_RETURN(json bundle, DescribeBundle(target.path, options.verify));
    out = json{{"kind", "checkpoint"}};
    out.update(bundle);
  } else {
    RECSHIP_ASSIGN_OR_RETURN(out, DescribeSavedModel(target.path, options.verify));
  }
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else if (target.kind == Target::kCheckpoint) {
    PrintTensors(out);
  } else {
    std::cout << "SavedModel " << target.path << "\n";
    PrintSavedModel(out);
  }
  return absl::OkStatus();
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Show what a checkpoint (prefix or training folder) or a SavedModel (version folder or "
      "export base) holds: tensors with dtype, shape and bytes; tags, signatures, ops, "
      "variables, assets and warmup records.");
  cmd->add_option("path", options->path, "checkpoint prefix, training folder, or SavedModel")
      ->required();
  cmd->add_flag("--json", options->json, "print one JSON document for scripts");
  cmd->add_flag("--verify", options->verify,
                "read every tensor and check its crc32c; exit non-zero on the first bad one");
  cmd->callback([options] {
    absl::Status status = RunInspect(*options);
    if (!status.ok()) {
      std::cerr << "recship inspect: " << status.message() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace recship
