// with_remote_gpu (private to export/): moves the dense network of a
// distributed entry graph into its own sub-model, dense_0.
//
// The dense network is every node that both depends on a variable and feeds
// a signature output. Its inputs from the rest of the graph (the boundary)
// become dense_0's placeholders; its variables become constants holding the
// checkpoint's values; every node is placed on /device:GPU:0. Its signature
// `gpu_remote_call` maps input_<k> (the k-th boundary tensor) to the entry's
// output keys. The entry keeps everything up to the boundary and calls
// "<model>:dense_0" through one TfServingRemotePredict node.
#ifndef RECSHIP_SRC_EXPORT_REMOTE_DENSE_H_
#define RECSHIP_SRC_EXPORT_REMOTE_DENSE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/sub_model.h"
#include "recship/graph/graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"

namespace recship {

inline constexpr char kGpuDevice[] = "/device:GPU:0";

struct DenseSplit {
  std::unique_ptr<Graph> entry;
  std::vector<SignatureSpec> entry_signatures;
  std::unique_ptr<Graph> dense;
  std::vector<SignatureSpec> dense_signatures;
};

absl::StatusOr<DenseSplit> SplitDenseNetwork(const tensorflow::GraphDef& entry,
                                             const std::vector<SignatureSpec>& signatures,
                                             const CheckpointReader& checkpoint,
                                             const std::string& model_name,
                                             int64_t dense_version = -1);

}  // namespace recship

#endif  // RECSHIP_SRC_EXPORT_REMOTE_DENSE_H_
