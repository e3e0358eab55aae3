// Turns a model graph into a servable MetaGraphDef: finds what the graph
// restores (resource variables and hash tables), checks each against the
// checkpoint, adds TensorFlow 1's save/restore ops for it, and assembles the
// `serve` meta graph with its SaverDef and signatures.
#ifndef RECSHIP_EXPORT_SERVING_GRAPH_H_
#define RECSHIP_EXPORT_SERVING_GRAPH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/embedding_dtype.h"
#include "recship/graph/graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"

namespace recship {

// What a graph restores at load time, by checkpoint tensor name.
struct RestorePlan {
  struct Variable {
    std::string name;  // The VarHandleOp's shared_name: the checkpoint tensor.
    std::string handle_node;
    DataType dtype;
    TensorShape shape;
  };
  struct Table {
    std::string name;  // The table's shared_name: <t> of <t>/shard_<i>-keys.
    std::string handle_node;
    int64_t dim = 0;                              // Elements of a row as stored (value_shape).
    DataType value_dtype = tensorflow::DT_FLOAT;  // As stored.
    // How the rows are stored (format/embedding_dtype.h), and whether the
    // checkpoint holds them as trained (float32), to be encoded when
    // written.
    EmbeddingDtype encoding = EmbeddingDtype::kFloat32;
    bool needs_encoding = false;
    std::vector<int> shards;  // As found in the checkpoint.
  };
  std::vector<Variable> variables;
  std::vector<Table> tables;

  // Every checkpoint tensor the export's variables/ must hold.
  std::vector<std::string> TensorNames() const;
};

// Finds the graph's variables and tables and checks them against the
// checkpoint: each tensor present, with the dtype and shape the graph expects
// (a compressed table's values as stored, or as trained, float32).
// Errors name the tensor and the checkpoint.
absl::StatusOr<RestorePlan> PlanRestore(const tensorflow::GraphDef& graph,
                                        const CheckpointReader& checkpoint);

// Adds save/... nodes as TensorFlow 1 exports have them: save/Const (the
// filename), save/RestoreV2 feeding one AssignVariableOp per variable and
// one import (first shard) or insert (later shards) per table shard, the NoOp
// save/restore_all, and save/SaveV2 for the variables. Returns the SaverDef.
absl::StatusOr<tensorflow::SaverDef> AddSaverOps(Graph& graph, const RestorePlan& plan);

// The `serve` meta graph of `graph` with `signatures` (method
// tensorflow/serving/predict); `saver` is left out when null.
absl::StatusOr<tensorflow::MetaGraphDef> MakeServeMetaGraph(
    const Graph& graph, const tensorflow::SaverDef* saver,
    const std::vector<SignatureSpec>& signatures);

}  // namespace recship

#endif  // RECSHIP_EXPORT_SERVING_GRAPH_H_
