// Hand-built SavedModels for the loader and serving tests: a GraphDef
// builder, TF1-style save/restore_all subgraphs, signatures, and a writer that
// puts saved_model.pb, variables/ and assets/ into <base>/<version>.
// Definitions are in saved_model_builder.cc.
#ifndef RECSHIP_TESTS_CPP_SAVED_MODEL_BUILDER_H_
#define RECSHIP_TESTS_CPP_SAVED_MODEL_BUILDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "graph_builder.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow/core/protobuf/saved_model.pb.h"
#include "recship/tensorflow/core/protobuf/saver.pb.h"

namespace recship::testing {

// A 1-D tensor of strings.
Tensor StringVector(const std::vector<std::string>& values);

struct SavedVariable {
  std::string checkpoint_key;
  std::string var_node;
  DataType dtype;
};
// TF1's Saver subgraph: save/Const (the filename, fed by the loader),
// save/RestoreV2 -> save/Assign_<i> -> save/restore_all, and a save path
// (save/SaveV2 -> save/control_dependency) that loaders never run. Ops on
// the save path come from `save_path_extra_op` when given (an op outside
// the runtime's set, as sharded savers use StringJoin).
tensorflow::SaverDef AddSaver(GraphBuilder& g, const std::vector<SavedVariable>& vars,
                              const std::string& save_path_extra_op = "");

// A TensorInfo; a dimension of -1 is unknown.
tensorflow::TensorInfo Info(const std::string& name, DataType dtype,
                            const std::vector<int64_t>& dims);
tensorflow::TensorInfo UnknownRankInfo(const std::string& name, DataType dtype);

tensorflow::SignatureDef Signature(
    const std::vector<std::pair<std::string, tensorflow::TensorInfo>>& inputs,
    const std::vector<std::pair<std::string, tensorflow::TensorInfo>>& outputs);

tensorflow::MetaGraphDef MetaGraph(const std::vector<std::string>& tags, const GraphBuilder& graph);

// What goes into one version folder besides saved_model.pb.
struct VersionContents {
  // Checkpoint key -> value, written to variables/variables when not empty.
  std::map<std::string, Tensor> variables;
  // File name -> contents, under assets/.
  std::map<std::string, std::string> assets;
};

// Writes <base>/<version> (through temp-<version>) and returns its path.
absl::StatusOr<std::string> WriteVersion(const std::string& base, int64_t version,
                                         const tensorflow::SavedModel& saved_model,
                                         const VersionContents& contents = {});

absl::StatusOr<std::string> WriteVersion(const std::string& base, int64_t version,
                                         const tensorflow::MetaGraphDef& meta,
                                         const VersionContents& contents = {});

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_SAVED_MODEL_BUILDER_H_
