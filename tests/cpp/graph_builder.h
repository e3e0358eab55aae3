// Hand-built GraphDefs for tests: AttrValue makers and a node-by-node
// GraphDef builder.
#ifndef RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_
#define RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
#include "tensorflow/core/framework/attr_value.pb.h"
#include "tensorflow/core/framework/graph.pb.h"
#include "tensorflow/core/framework/node_def.pb.h"

namespace recship::testing {

using Attrs = std::vector<std::pair<std::string, tensorflow::AttrValue>>;

inline tensorflow::AttrValue TypeAttr(DataType t) {
  tensorflow::AttrValue v;
  v.set_type(t);
  return v;
}
inline tensorflow::AttrValue IntAttr(int64_t i) {
  tensorflow::AttrValue v;
  v.set_i(i);
  return v;
}
inline tensorflow::AttrValue StrAttr(const std::string& s) {
  tensorflow::AttrValue v;
  v.set_s(s);
  return v;
}
inline tensorflow::AttrValue UnknownShapeAttr() {
  tensorflow::AttrValue v;
  v.mutable_shape()->set_unknown_rank(true);
  return v;
}
inline tensorflow::AttrValue TensorAttr(const Tensor& t) {
  tensorflow::AttrValue v;
  *v.mutable_tensor() = TensorToProto(t);
  return v;
}
inline tensorflow::AttrValue TypeListAttr(const std::vector<DataType>& types) {
  tensorflow::AttrValue v;
  v.mutable_list();
  for (DataType t : types) v.mutable_list()->add_type(t);
  return v;
}

inline tensorflow::AttrValue BoolAttr(bool b) {
  tensorflow::AttrValue v;
  v.set_b(b);
  return v;
}
inline tensorflow::AttrValue FloatAttr(float f) {
  tensorflow::AttrValue v;
  v.set_f(f);
  return v;
}
inline tensorflow::AttrValue ShapeAttr(const TensorShape& shape) {
  tensorflow::AttrValue v;
  *v.mutable_shape() = ShapeToProto(shape);
  return v;
}
inline tensorflow::AttrValue IntListAttr(const std::vector<int64_t>& values) {
  tensorflow::AttrValue v;
  v.mutable_list();
  for (int64_t i : values) v.mutable_list()->add_i(i);
  return v;
}

// Builds a GraphDef node by node, for tests that hand-craft graphs.
class GraphBuilder {
 public:
  // Adds a node and returns its name, for use as another node's input.
  std::string Add(const std::string& name, const std::string& op,
                  const std::vector<std::string>& inputs, const Attrs& attrs = {}) {
    tensorflow::NodeDef* node = graph_.add_node();
    node->set_name(name);
    node->set_op(op);
    for (const std::string& input : inputs) node->add_input(input);
    for (const auto& [key, value] : attrs) (*node->mutable_attr())[key] = value;
    return name;
  }
  std::string Const(const std::string& name, const Tensor& value) {
    return Add(name, "Const", {},
               {{"dtype", TypeAttr(value.dtype())}, {"value", TensorAttr(value)}});
  }
  std::string Placeholder(const std::string& name, DataType dtype) {
    return Add(name, "Placeholder", {},
               {{"dtype", TypeAttr(dtype)}, {"shape", UnknownShapeAttr()}});
  }
  // A node whose only attr is T.
  std::string Op(const std::string& name, const std::string& op,
                 const std::vector<std::string>& inputs, DataType t) {
    return Add(name, op, inputs, {{"T", TypeAttr(t)}});
  }
  // A resource variable whose shared name is the node's name.
  std::string Var(const std::string& name, DataType dtype) {
    return Add(name, "VarHandleOp", {},
               {{"container", StrAttr("")},
                {"shared_name", StrAttr(name)},
                {"dtype", TypeAttr(dtype)},
                {"shape", UnknownShapeAttr()}});
  }
  std::string Read(const std::string& name, const std::string& var, DataType dtype) {
    return Add(name, "ReadVariableOp", {var}, {{"dtype", TypeAttr(dtype)}});
  }
  std::string Assign(const std::string& name, const std::string& var, const std::string& value,
                     DataType dtype) {
    return Add(name, "AssignVariableOp", {var, value}, {{"dtype", TypeAttr(dtype)}});
  }
  // A NoOp that runs `deps` (node names).
  std::string Group(const std::string& name, const std::vector<std::string>& deps) {
    std::vector<std::string> inputs;
    for (const std::string& dep : deps) inputs.push_back("^" + dep);
    return Add(name, "NoOp", inputs);
  }

  const tensorflow::GraphDef& graph() const { return graph_; }

 private:
  tensorflow::GraphDef graph_;
};

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_
