#include "recship/export/serving_graph.h"

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/graph/ops.h"

namespace recship {
namespace {

absl::Status CheckTensor(const BundleReader& bundle, const std::string& name, DataType dtype,
                         const PartialShape& shape, absl::string_view what) {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, bundle.Lookup(name));
  if (entry->dtype != dtype || !shape.IsCompatibleWith(entry->shape)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " expects tensor '", name, "' as ", DataTypeName(dtype), " ",
                     shape.ToString(), ", but checkpoint ", bundle.prefix(), " has ",
                     DataTypeName(entry->dtype), " ", ShapeToString(entry->shape)));
  }
  return absl::OkStatus();
}

// Checks shard `shard`'s values against the table's rows: as the graph
// stores them, or float32 rows that the export encodes (a compressed table
// exported from a training checkpoint).
absl::Status CheckValues(const CheckpointReader& checkpoint, int shard, RestorePlan::Table& table) {
  const std::string name = TableShardTensorName(table.name, shard, "values");
  const std::string what = absl::StrCat("table ", table.name);
  const BundleEntry* values = checkpoint.bundle().Find(name);
  if (table.encoding != EmbeddingDtype::kFloat32 && values != nullptr &&
      values->dtype == tensorflow::DT_FLOAT && values->shape.size() == 2 &&
      StoredRowWidth(table.encoding, values->shape[1]) == table.dim) {
    table.needs_encoding = true;
    return absl::OkStatus();
  }
  return CheckTensor(checkpoint.bundle(), name, table.value_dtype,
                     PartialShape::Of({-1, table.dim}), what);
}

absl::StatusOr<RestorePlan::Table> PlanTable(const tensorflow::NodeDef& node,
                                             const CheckpointReader& checkpoint,
                                             const std::map<std::string, EmbeddingDtype>& encoded) {
  RestorePlan::Table table;
  table.name = node.attr().at("shared_name").s();
  table.handle_node = node.name();
  table.value_dtype = node.attr().at("value_dtype").type();
  auto encoding = encoded.find(table.name);
  if (encoding != encoded.end()) table.encoding = encoding->second;
  const auto& value_shape = node.attr().at("value_shape").shape();
  if (value_shape.dim_size() != 1 || value_shape.dim(0).size() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("table ", table.name, ": value_shape must be [dim]"));
  }
  table.dim = value_shape.dim(0).size();
  auto it = checkpoint.tables().find(table.name);
  if (it == checkpoint.tables().end()) {
    return absl::NotFoundError(absl::StrCat("table '", table.name, "' has no shards (",
                                            TableShardTensorName(table.name, 0, "keys"),
                                            ", ...) in checkpoint ", checkpoint.prefix()));
  }
  table.shards = it->second;
  for (int shard : table.shards) {
    std::string what = absl::StrCat("table ", table.name);
    RECSHIP_RETURN_IF_ERROR(CheckTensor(checkpoint.bundle(),
                                        TableShardTensorName(table.name, shard, "keys"),
                                        tensorflow::DT_INT64, PartialShape::Of({-1}), what));
    RECSHIP_RETURN_IF_ERROR(CheckValues(checkpoint, shard, table));
    const BundleEntry* keys =
        checkpoint.bundle().Find(TableShardTensorName(table.name, shard, "keys"));
    const BundleEntry* values =
        checkpoint.bundle().Find(TableShardTensorName(table.name, shard, "values"));
    if (keys->shape[0] != values->shape[0]) {
      return absl::DataLossError(absl::StrCat("checkpoint ", checkpoint.prefix(), ": table ",
                                              table.name, " shard ", shard, " has ", keys->shape[0],
                                              " keys but ", values->shape[0], " value rows"));
    }
  }
  return table;
}

std::map<std::string, tensorflow::TensorInfo> TensorInfos(
    const std::map<std::string, Output>& outputs) {
  std::map<std::string, tensorflow::TensorInfo> infos;
  for (const auto& [key, output] : outputs) {
    tensorflow::TensorInfo info;
    info.set_name(output.tensor_name());
    info.set_dtype(output.dtype);
    *info.mutable_tensor_shape() = output.shape.ToProto();
    infos[key] = std::move(info);
  }
  return infos;
}

}  // namespace

std::vector<std::string> RestorePlan::TensorNames() const {
  std::vector<std::string> names;
  for (const Variable& v : variables) names.push_back(v.name);
  for (const Table& t : tables) {
    for (int shard : t.shards) {
      names.push_back(TableShardTensorName(t.name, shard, "keys"));
      names.push_back(TableShardTensorName(t.name, shard, "values"));
    }
  }
  return names;
}

absl::StatusOr<RestorePlan> PlanRestore(const tensorflow::GraphDef& graph,
                                        const CheckpointReader& checkpoint) {
  RestorePlan plan;
  const std::map<std::string, EmbeddingDtype> encoded = CompressedTables(graph);
  for (const tensorflow::NodeDef& node : graph.node()) {
    if (node.op() == "VarHandleOp") {
      RestorePlan::Variable v{
          node.attr().at("shared_name").s(), node.name(), node.attr().at("dtype").type(), {}};
      PartialShape shape = PartialShape::FromProto(node.attr().at("shape").shape());
      RECSHIP_RETURN_IF_ERROR(CheckTensor(checkpoint.bundle(), v.name, v.dtype, shape,
                                          absl::StrCat("variable ", v.name)));
      v.shape = checkpoint.bundle().Find(v.name)->shape;
      plan.variables.push_back(std::move(v));
    } else if (node.op() == "MutableHashTableOfTensorsV2") {
      RECSHIP_ASSIGN_OR_RETURN(RestorePlan::Table table, PlanTable(node, checkpoint, encoded));
      plan.tables.push_back(std::move(table));
    }
  }
  return plan;
}

absl::StatusOr<tensorflow::SaverDef> AddSaverOps(Graph& graph, const RestorePlan& plan) {
  Scope save = Scope(&graph).NewSubScope("save");
  Output filename = ops::PlaceholderWithDefault(
      save, ops::StringConst(save, {"model"}, /*scalar=*/true, "filename"), PartialShape::Scalar(),
      "Const");
  std::vector<std::string> names = plan.TensorNames();
  std::vector<DataType> dtypes;
  for (const auto& v : plan.variables) dtypes.push_back(v.dtype);
  for (const auto& t : plan.tables) {
    for (size_t i = 0; i < t.shards.size(); ++i) {
      dtypes.push_back(tensorflow::DT_INT64);
      dtypes.push_back(t.value_dtype);
    }
  }
  std::vector<std::string> restore_deps;
  if (!names.empty()) {
    Scope restore = save.NewSubScope("RestoreV2");
    std::vector<Output> restored =
        ops::RestoreV2(save, filename, ops::StringConst(restore, names, false, "tensor_names"),
                       ops::StringConst(restore, std::vector<std::string>(names.size()), false,
                                        "shape_and_slices"),
                       dtypes);
    size_t k = 0;
    for (const auto& v : plan.variables) {
      Output handle{v.handle_node, 0, tensorflow::DT_RESOURCE, PartialShape::Of(v.shape)};
      restore_deps.push_back(ops::AssignVariableOp(save, handle, restored.at(k++)));
    }
    for (const auto& t : plan.tables) {
      Output handle{t.handle_node, 0, tensorflow::DT_RESOURCE, PartialShape::Of({t.dim})};
      // Import replaces the table's contents, so restoring twice is harmless;
      // the other shards are inserted after it.
      std::string imported;
      for (size_t i = 0; i < t.shards.size(); ++i, k += 2) {
        if (i == 0) {
          imported = ops::LookupTableImport(save, handle, restored.at(k), restored.at(k + 1));
          restore_deps.push_back(imported);
        } else {
          std::vector<std::string> after = {imported};
          restore_deps.push_back(ops::LookupTableInsert(save.WithControlDependencies(after), handle,
                                                        restored.at(k), restored.at(k + 1)));
        }
      }
    }
  }
  ops::NoOp(save.WithControlDependencies(restore_deps), "restore_all");

  // The save side: SaveV2 of the dense variables (tables are not saved back;
  // serving never writes a checkpoint), then the filename behind it.
  std::vector<std::string> save_deps;
  if (!plan.variables.empty()) {
    std::vector<std::string> var_names;
    std::vector<Output> values;
    for (const auto& v : plan.variables) {
      var_names.push_back(v.name);
      Output handle{v.handle_node, 0, tensorflow::DT_RESOURCE, PartialShape::Of(v.shape)};
      values.push_back(
          ops::ReadVariableOp(save, handle, v.dtype, PartialShape::Of(v.shape), "ReadVariableOp"));
    }
    Scope save_v2 = save.NewSubScope("SaveV2");
    save_deps.push_back(
        ops::SaveV2(save, filename, ops::StringConst(save_v2, var_names, false, "tensor_names"),
                    ops::StringConst(save_v2, std::vector<std::string>(var_names.size()), false,
                                     "shape_and_slices"),
                    values));
  }
  Output saved =
      ops::Identity(save.WithControlDependencies(save_deps), filename, "control_dependency");
  RECSHIP_RETURN_IF_ERROR(graph.status());

  tensorflow::SaverDef saver;
  saver.set_filename_tensor_name(filename.tensor_name());
  saver.set_save_tensor_name(saved.tensor_name());
  saver.set_restore_op_name("save/restore_all");
  saver.set_max_to_keep(5);
  saver.set_keep_checkpoint_every_n_hours(10000.0f);
  saver.set_version(tensorflow::SaverDef::V2);
  return saver;
}

absl::StatusOr<tensorflow::MetaGraphDef> MakeServeMetaGraph(
    const Graph& graph, const tensorflow::SaverDef* saver,
    const std::vector<SignatureSpec>& signatures) {
  RECSHIP_RETURN_IF_ERROR(graph.status());
  tensorflow::MetaGraphDef meta_graph;
  meta_graph.mutable_meta_info_def()->add_tags(kServeTag);
  meta_graph.mutable_meta_info_def()->set_tensorflow_git_version("recship");
  *meta_graph.mutable_graph_def() = graph.def();
  if (saver != nullptr) *meta_graph.mutable_saver_def() = *saver;
  for (const SignatureSpec& spec : signatures) {
    tensorflow::SignatureDef& signature = (*meta_graph.mutable_signature_def())[spec.name];
    for (auto& [key, info] : TensorInfos(spec.inputs)) (*signature.mutable_inputs())[key] = info;
    for (auto& [key, info] : TensorInfos(spec.outputs)) (*signature.mutable_outputs())[key] = info;
    signature.set_method_name(kPredictMethodName);
  }
  return meta_graph;
}

}  // namespace recship
