#include "saved_model_builder.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "graph_builder.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_bundle.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow/core/protobuf/saved_model.pb.h"
#include "recship/tensorflow/core/protobuf/saver.pb.h"

namespace recship::testing {

Tensor StringVector(const std::vector<std::string>& values) {
  return Tensor::FromStrings({static_cast<int64_t>(values.size())}, values);
}

tensorflow::SaverDef AddSaver(GraphBuilder& g, const std::vector<SavedVariable>& vars,
                              const std::string& save_path_extra_op) {
  std::vector<std::string> keys, slices;
  std::vector<DataType> dtypes;
  for (const auto& v : vars) {
    keys.push_back(v.checkpoint_key);
    slices.push_back("");
    dtypes.push_back(v.dtype);
  }
  std::string filename = g.Const("save/Const", Tensor::FromStrings({}, {"model"}));
  std::string names = g.Const("save/RestoreV2/tensor_names", StringVector(keys));
  std::string shapes = g.Const("save/RestoreV2/shape_and_slices", StringVector(slices));
  g.Add("save/RestoreV2", "RestoreV2", {filename, names, shapes},
        {{"dtypes", TypeListAttr(dtypes)}});
  std::vector<std::string> assigns;
  for (size_t i = 0; i < vars.size(); ++i) {
    std::string id = g.Op(absl::StrCat("save/Identity_", i), "Identity",
                          {absl::StrCat("save/RestoreV2:", i)}, vars[i].dtype);
    assigns.push_back(
        g.Assign(absl::StrCat("save/AssignVariableOp_", i), vars[i].var_node, id, vars[i].dtype));
  }
  g.Group("save/restore_all", assigns);

  std::string save_prefix = filename;
  if (!save_path_extra_op.empty()) {
    save_prefix = g.Add("save/joined_prefix", save_path_extra_op,
                        {filename, g.Const("save/suffix", Tensor::FromStrings({}, {"_temp"}))},
                        {{"N", IntAttr(2)}, {"separator", StrAttr("")}});
  }
  std::vector<std::string> save_inputs = {save_prefix, names, shapes};
  for (size_t i = 0; i < vars.size(); ++i) {
    save_inputs.push_back(g.Read(absl::StrCat("save/read_", i), vars[i].var_node, vars[i].dtype));
  }
  g.Add("save/SaveV2", "SaveV2", save_inputs, {{"dtypes", TypeListAttr(dtypes)}});
  g.Add("save/control_dependency", "Identity", {filename, "^save/SaveV2"},
        {{"T", TypeAttr(tensorflow::DT_STRING)}});

  tensorflow::SaverDef saver;
  saver.set_filename_tensor_name("save/Const:0");
  saver.set_save_tensor_name("save/control_dependency:0");
  saver.set_restore_op_name("save/restore_all");
  saver.set_version(tensorflow::SaverDef::V2);
  return saver;
}

tensorflow::TensorInfo Info(const std::string& name, DataType dtype,
                            const std::vector<int64_t>& dims) {
  tensorflow::TensorInfo info;
  info.set_name(name);
  info.set_dtype(dtype);
  info.mutable_tensor_shape();
  for (int64_t d : dims) info.mutable_tensor_shape()->add_dim()->set_size(d);
  return info;
}

tensorflow::TensorInfo UnknownRankInfo(const std::string& name, DataType dtype) {
  tensorflow::TensorInfo info;
  info.set_name(name);
  info.set_dtype(dtype);
  info.mutable_tensor_shape()->set_unknown_rank(true);
  return info;
}

tensorflow::SignatureDef Signature(
    const std::vector<std::pair<std::string, tensorflow::TensorInfo>>& inputs,
    const std::vector<std::pair<std::string, tensorflow::TensorInfo>>& outputs) {
  tensorflow::SignatureDef signature;
  signature.set_method_name(kPredictMethodName);
  for (const auto& [key, info] : inputs) (*signature.mutable_inputs())[key] = info;
  for (const auto& [key, info] : outputs) (*signature.mutable_outputs())[key] = info;
  return signature;
}

tensorflow::MetaGraphDef MetaGraph(const std::vector<std::string>& tags,
                                   const GraphBuilder& graph) {
  tensorflow::MetaGraphDef meta;
  for (const std::string& tag : tags) meta.mutable_meta_info_def()->add_tags(tag);
  *meta.mutable_graph_def() = graph.graph();
  return meta;
}

absl::StatusOr<std::string> WriteVersion(const std::string& base, int64_t version,
                                         const tensorflow::SavedModel& saved_model,
                                         const VersionContents& contents) {
  RECSHIP_ASSIGN_OR_RETURN(SavedModelWriter writer, SavedModelWriter::Begin(base, version));
  RECSHIP_RETURN_IF_ERROR(writer.WriteSavedModel(saved_model));
  if (!contents.variables.empty()) {
    RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleWriter> bundle,
                             BundleWriter::Create(writer.variables_prefix()));
    for (const auto& [name, value] : contents.variables) {
      RECSHIP_RETURN_IF_ERROR(bundle->Add(name, value));
    }
    RECSHIP_RETURN_IF_ERROR(bundle->Finish());
  }
  for (const auto& [name, text] : contents.assets) {
    RECSHIP_RETURN_IF_ERROR(writer.AddAsset(name, text));
  }
  return writer.Commit();
}

absl::StatusOr<std::string> WriteVersion(const std::string& base, int64_t version,
                                         const tensorflow::MetaGraphDef& meta,
                                         const VersionContents& contents) {
  tensorflow::SavedModel saved_model;
  saved_model.set_saved_model_schema_version(1);
  *saved_model.add_meta_graphs() = meta;
  return WriteVersion(base, version, saved_model, contents);
}

}  // namespace recship::testing
