#include "remote_call_graph.h"

#include "graph_builder.h"

namespace recship::testing {

using tensorflow::DT_INT64;

tensorflow::NodeDef* AddNode(tensorflow::GraphDef& g, const std::string& name,
                             const std::string& op, const std::vector<std::string>& inputs) {
  tensorflow::NodeDef* node = g.add_node();
  node->set_name(name);
  node->set_op(op);
  for (const std::string& input : inputs) node->add_input(input);
  return node;
}
void AddConst(tensorflow::GraphDef& g, const std::string& name, const Tensor& value) {
  tensorflow::NodeDef* node = AddNode(g, name, "Const", {});
  (*node->mutable_attr())["dtype"] = TypeAttr(value.dtype());
  (*node->mutable_attr())["value"] = TensorAttr(value);
}
void AddPlaceholder(tensorflow::GraphDef& g, const std::string& name, DataType dtype) {
  tensorflow::NodeDef* node = AddNode(g, name, "Placeholder", {});
  (*node->mutable_attr())["dtype"] = TypeAttr(dtype);
  (*node->mutable_attr())["shape"].mutable_shape()->set_unknown_rank(true);
}

void AddCall(tensorflow::GraphDef& g, const Call& c) {
  AddConst(g, c.name + "/input_aliases", Tensor::FromStrings({1}, {c.input_alias}));
  AddConst(g, c.name + "/output_aliases",
           Tensor::FromStrings({static_cast<int64_t>(c.outputs.size())}, c.outputs));
  tensorflow::NodeDef* node =
      AddNode(g, c.name, "TfServingRemotePredict",
              {c.name + "/input_aliases", c.input, c.name + "/output_aliases"});
  auto& attr = *node->mutable_attr();
  attr["T"] = TypeListAttr({DT_INT64});
  attr["output_types"] = TypeListAttr(c.output_types);
  attr["target_address"] = StrAttr(c.target_address);
  attr["model_name"] = StrAttr(c.model);
  attr["model_version"] = IntAttr(c.version);
  attr["fail_op_on_rpc_error"] = BoolAttr(c.fail_op_on_rpc_error);
  attr["max_rpc_deadline_millis"] = IntAttr(c.deadline_millis);
  attr["signature_name"] = StrAttr(c.signature);
}

tensorflow::GraphDef CallGraph(const std::vector<Call>& calls) {
  tensorflow::GraphDef g;
  AddPlaceholder(g, "ids", DT_INT64);
  for (const Call& c : calls) {
    if (c.input != "ids") AddPlaceholder(g, c.input, DT_INT64);
    AddCall(g, c);
  }
  return g;
}

}  // namespace recship::testing
