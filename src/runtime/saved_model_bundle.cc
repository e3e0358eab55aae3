#include "recship/runtime/saved_model_bundle.h"

#include <filesystem>

#include "absl/strings/str_join.h"
#include "recship/core/status_macros.h"
#include "recship/format/proto_any.h"
#include "recship/format/saved_model.h"
#include "recship/format/table_index_file.h"
#include "recship/graph/op_table.h"
#include "recship/runtime/hash_table.h"
#include "src/runtime/embedding_decode_fusion.h"

namespace recship {
namespace {

// The name of the node behind a tensor name ("x:0" -> "x", "^x" -> "x").
std::string NodeName(absl::string_view tensor) {
  if (!tensor.empty() && tensor[0] == '^') tensor.remove_prefix(1);
  return std::string(tensor.substr(0, tensor.rfind(':')));
}

// The init op: the __saved_model_init_op signature (TF2 style), else the
// main_op or legacy_init_op collection; "" when there is none.
std::string InitOpName(const tensorflow::MetaGraphDef& meta) {
  auto sig = meta.signature_def().find(kInitOpSignatureKey);
  if (sig != meta.signature_def().end()) {
    auto out = sig->second.outputs().find(kInitOpSignatureKey);
    if (out != sig->second.outputs().end()) return NodeName(out->second.name());
  }
  for (const char* key : {kMainOpCollection, kLegacyInitOpCollection}) {
    auto it = meta.collection_def().find(key);
    if (it != meta.collection_def().end() && it->second.node_list().value_size() > 0) {
      return NodeName(it->second.node_list().value(0));
    }
  }
  return "";
}

// True when `shape` fits the signature's (possibly partial) shape.
bool ShapeMatches(const TensorShape& shape, const tensorflow::TensorShapeProto& expected) {
  if (expected.unknown_rank()) return true;
  if (static_cast<int>(shape.size()) != expected.dim_size()) return false;
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t want = expected.dim(static_cast<int>(d)).size();
    if (want >= 0 && want != shape[d]) return false;
  }
  return true;
}

std::string ShapeProtoToString(const tensorflow::TensorShapeProto& shape) {
  if (shape.unknown_rank()) return "<unknown>";
  std::vector<std::string> dims;
  for (const auto& d : shape.dim()) dims.push_back(d.size() < 0 ? "?" : std::to_string(d.size()));
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SavedModelBundle>> SavedModelBundle::Load(
    const std::string& export_dir, const LoadOptions& options) {
  std::unique_ptr<SavedModelBundle> bundle(new SavedModelBundle);
  bundle->export_dir_ = export_dir;
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::SavedModel saved_model, ReadSavedModel(export_dir));
  RECSHIP_ASSIGN_OR_RETURN(const tensorflow::MetaGraphDef* meta,
                           FindMetaGraph(saved_model, options.tags));
  bundle->meta_graph_ = *meta;
  tensorflow::MetaGraphDef& mg = bundle->meta_graph_;

  SessionOptions session_options;
  session_options.thread_pool = options.thread_pool;
  session_options.remote_caller = options.remote_caller;
  for (const auto& [key, signature] : mg.signature_def()) {
    for (const auto& [name, info] : signature.outputs())
      session_options.roots.push_back(info.name());
  }
  if (mg.has_saver_def() && !mg.saver_def().restore_op_name().empty()) {
    session_options.roots.push_back(mg.saver_def().restore_op_name());
  }
  std::string init_op = InitOpName(mg);
  if (!init_op.empty()) session_options.roots.push_back(init_op);
  tensorflow::GraphDef graph = mg.graph_def();
  FillDefaultAttrs(graph);
  bundle->fused_embedding_decodes_ = FuseEmbeddingDecodes(graph);
  absl::StatusOr<std::unique_ptr<Session>> session =
      Session::Create(std::move(graph), std::move(session_options));
  if (!session.ok()) {
    return absl::Status(session.status().code(), absl::StrCat(export_dir, "/", kSavedModelFilename,
                                                              ": ", session.status().message()));
  }
  bundle->session_ = *std::move(session);
  // The session keeps its own copy of the graph.
  mg.clear_graph_def();
  RECSHIP_RETURN_IF_ERROR(bundle->Restore(options.map_variables));
  RECSHIP_RETURN_IF_ERROR(bundle->RunInitOp());
  bundle->IndexTables(options.map_variables);
  return bundle;
}

std::vector<NamedTensor> SavedModelBundle::AssetFeeds() const {
  // asset_file_def, else (older exports) the saved_model_assets collection.
  std::vector<tensorflow::AssetFileDef> assets(meta_graph_.asset_file_def().begin(),
                                               meta_graph_.asset_file_def().end());
  auto collection = meta_graph_.collection_def().find(kAssetsCollection);
  if (assets.empty() && collection != meta_graph_.collection_def().end()) {
    for (const auto& any : collection->second.any_list().value()) {
      tensorflow::AssetFileDef asset;
      if (UnpackAny(any, &asset)) assets.push_back(std::move(asset));
    }
  }
  std::vector<NamedTensor> feeds;
  for (const auto& asset : assets) {
    std::string path =
        (std::filesystem::path(export_dir_) / kAssetsDirectory / asset.filename()).string();
    feeds.emplace_back(asset.tensor_info().name(), Tensor::FromStrings({}, {path}));
  }
  return feeds;
}

absl::Status SavedModelBundle::Restore(bool map_variables) {
  const tensorflow::SaverDef& saver = meta_graph_.saver_def();
  if (!meta_graph_.has_saver_def() || saver.restore_op_name().empty()) return absl::OkStatus();
  std::string prefix = VariablesPrefix(export_dir_);
  // As in TensorFlow, a model without a variables index has nothing to restore.
  if (!std::filesystem::exists(prefix + ".index")) return absl::OkStatus();
  std::vector<NamedTensor> feeds = AssetFeeds();
  feeds.emplace_back(saver.filename_tensor_name(), Tensor::FromStrings({}, {prefix}));
  RunOptions run_options;
  run_options.map_restored_tensors = map_variables;
  absl::StatusOr<std::vector<Tensor>> ran =
      session_->Run(feeds, {}, {NodeName(saver.restore_op_name())}, run_options);
  if (!ran.ok()) {
    return absl::Status(
        ran.status().code(),
        absl::StrCat(export_dir_, ": restoring variables: ", ran.status().message()));
  }
  return absl::OkStatus();
}

absl::Status SavedModelBundle::RunInitOp() {
  std::string init_op = InitOpName(meta_graph_);
  if (init_op.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<Tensor>> ran = session_->Run(AssetFeeds(), {}, {init_op});
  if (!ran.ok()) {
    return absl::Status(
        ran.status().code(),
        absl::StrCat(export_dir_, ": running the init op: ", ran.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<const tensorflow::SignatureDef*> SavedModelBundle::FindSignature(
    const std::string& name) const {
  auto it = meta_graph_.signature_def().find(name);
  if (it == meta_graph_.signature_def().end() || name == kInitOpSignatureKey) {
    std::vector<std::string> names;
    for (const auto& [key, sig] : meta_graph_.signature_def()) {
      if (key != kInitOpSignatureKey) names.push_back(key);
    }
    std::sort(names.begin(), names.end());
    // TensorFlow Serving's code and wording.
    return absl::FailedPreconditionError(
        absl::StrCat("Serving signature key \"", name,
                     "\" not found (the model has: ", absl::StrJoin(names, ", "), ")"));
  }
  return &it->second;
}

absl::StatusOr<std::map<std::string, Tensor>> SavedModelBundle::RunSignature(
    const std::string& name, const std::map<std::string, Tensor>& inputs,
    const std::vector<std::string>& output_filter, const RunOptions& run_options) const {
  RECSHIP_ASSIGN_OR_RETURN(const tensorflow::SignatureDef* signature, FindSignature(name));
  for (const auto& [key, tensor] : inputs) {
    if (!signature->inputs().contains(key)) {
      std::vector<std::string> keys;
      for (const auto& [k, info] : signature->inputs()) keys.push_back(k);
      std::sort(keys.begin(), keys.end());
      return absl::InvalidArgumentError(
          absl::StrCat("input '", key, "' is not an input of signature '", name,
                       "' (its inputs: ", absl::StrJoin(keys, ", "), ")"));
    }
  }
  std::vector<NamedTensor> feeds;
  std::vector<std::string> missing;
  // Sorted by key (std::map order), so equal requests share a cached plan.
  std::map<std::string, const tensorflow::TensorInfo*> sorted_inputs;
  for (const auto& [key, info] : signature->inputs()) sorted_inputs[key] = &info;
  for (const auto& [key, info] : sorted_inputs) {
    auto it = inputs.find(key);
    if (it == inputs.end()) {
      missing.push_back(key);
      continue;
    }
    const Tensor& t = it->second;
    if (t.dtype() != info->dtype()) {
      return absl::InvalidArgumentError(absl::StrCat("input '", key, "' must be ",
                                                     DataTypeName(info->dtype()), ", not ",
                                                     DataTypeName(t.dtype())));
    }
    if (!ShapeMatches(t.shape(), info->tensor_shape())) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", key, "' has shape ", ShapeToString(t.shape()),
                       ", the signature expects ", ShapeProtoToString(info->tensor_shape())));
    }
    feeds.emplace_back(info->name(), t);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "missing input(s) ", absl::StrJoin(missing, ", "), " of signature '", name, "'"));
  }
  std::vector<std::string> keys, fetches;
  std::map<std::string, const tensorflow::TensorInfo*> outputs;
  for (const auto& [key, info] : signature->outputs()) outputs[key] = &info;
  if (output_filter.empty()) {
    for (const auto& [key, info] : outputs) keys.push_back(key);
  } else {
    for (const std::string& key : output_filter) {
      if (!outputs.contains(key)) {
        return absl::InvalidArgumentError(
            absl::StrCat("output '", key, "' is not an output of signature '", name, "'"));
      }
      keys.push_back(key);
    }
  }
  for (const std::string& key : keys) fetches.push_back(outputs[key]->name());
  RECSHIP_ASSIGN_OR_RETURN(std::vector<Tensor> values,
                           session_->Run(feeds, fetches, {}, run_options));
  std::map<std::string, Tensor> result;
  for (size_t i = 0; i < keys.size(); ++i) result[keys[i]] = std::move(values[i]);
  return result;
}

void SavedModelBundle::IndexTables(bool use_index_files) {
  const std::filesystem::path dir =
      std::filesystem::path(export_dir_) / kExtraAssetsDirectory / kTableIndexDirectory;
  for (const auto& resource : session_->resources().All()) {
    auto* table = dynamic_cast<HashTable*>(resource.get());
    if (table == nullptr) continue;
    std::string path = (dir / TableIndexFilename(table->name())).string();
    if (use_index_files && std::filesystem::exists(path)) {
      absl::StatusOr<std::unique_ptr<TableIndexFile>> file = TableIndexFile::Open(path);
      absl::Status used = file.ok() ? table->UseIndexFile(**file) : file.status();
      if (used.ok()) {
        ++mapped_table_indexes_;
      } else {
        load_notes_.push_back(absl::StrCat(used.message(), "; indexing its rows instead"));
      }
    }
    table->BuildIndex();
  }
}

std::vector<TableStats> SavedModelBundle::Tables() const {
  std::vector<TableStats> tables;
  for (const auto& resource : session_->resources().All()) {
    if (auto* table = dynamic_cast<const HashTable*>(resource.get())) {
      tables.push_back({table->name(), table->size(), table->MemoryBytes(), table->ViewBytes()});
    }
  }
  std::sort(tables.begin(), tables.end(),
            [](const TableStats& a, const TableStats& b) { return a.name < b.name; });
  return tables;
}

size_t SavedModelBundle::MappedBytes() const {
  size_t bytes = 0;
  for (const auto& resource : session_->resources().All()) {
    if (auto* table = dynamic_cast<const HashTable*>(resource.get())) bytes += table->ViewBytes();
    if (auto* variable = dynamic_cast<const Variable*>(resource.get())) {
      absl::StatusOr<Tensor> value = variable->Read();
      if (value.ok() && value->is_view()) bytes += value->byte_size();
    }
  }
  return bytes;
}

size_t SavedModelBundle::ResourceBytes() const {
  size_t bytes = 0;
  for (const auto& resource : session_->resources().All()) {
    if (auto* table = dynamic_cast<const HashTable*>(resource.get())) bytes += table->MemoryBytes();
    if (auto* variable = dynamic_cast<const Variable*>(resource.get())) {
      absl::StatusOr<Tensor> value = variable->Read();
      if (!value.ok() || value->is_view()) continue;  // Never assigned, or mapped.
      bytes += value->byte_size();
      for (const std::string& s : value->strings()) bytes += s.size();
    }
  }
  return bytes;
}

}  // namespace recship
