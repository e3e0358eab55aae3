// The one table of TensorFlow ops that recship's graphs use and its runtime
// executes (DESIGN.md, "The supported op set"). graph/ refuses to build a node
// whose op is not here or that lacks an attr listed here; runtime/ refuses to
// load such a node.
#ifndef RECSHIP_GRAPH_OP_TABLE_H_
#define RECSHIP_GRAPH_OP_TABLE_H_

#include <span>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "recship/tensorflow/core/framework/graph.pb.h"
#include "recship/tensorflow/core/framework/node_def.pb.h"

namespace recship {

struct OpInfo {
  absl::string_view name;
  // Attrs every NodeDef of this op carries: those TensorFlow requires (no
  // default) plus those recship always sets explicitly.
  std::span<const absl::string_view> attrs;
  // True for ops with side effects or resources (never folded or pruned).
  bool stateful;
};

// An attr that TensorFlow's definition of `op` gives a default, and that
// default in AttrValue text format ("b: false", "type: DT_INT32").
struct AttrDefault {
  absl::string_view op;
  absl::string_view attr;
  absl::string_view value;
};

// nullptr when `op` is not supported.
const OpInfo* FindOp(absl::string_view op);

// Every supported op, sorted by name.
std::span<const OpInfo> SupportedOps();

// Every default of the supported ops' attrs, sorted by op and attr.
std::span<const AttrDefault> DefaultAttrs();

// Adds to each node of `graph` the defaulted attrs it leaves out, as
// TensorFlow's loader does for the graphs TensorFlow 2 writes (which omit
// them). Nodes of ops outside the set are left as they are.
void FillDefaultAttrs(tensorflow::GraphDef& graph);

// OK when `node` names a supported op and carries all of its attrs;
// otherwise an error naming the node and the op or attr (and the function a
// function-call node calls).
absl::Status ValidateNode(const tensorflow::NodeDef& node);

}  // namespace recship

#endif  // RECSHIP_GRAPH_OP_TABLE_H_
