#include "graph_builder.h"

#include <cstdint>
#include <string>
#include <vector>

#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"
#include "recship/tensorflow/core/framework/attr_value.pb.h"
#include "recship/tensorflow/core/framework/graph.pb.h"
#include "recship/tensorflow/core/framework/node_def.pb.h"

namespace recship::testing {

tensorflow::AttrValue TypeAttr(DataType t) {
  tensorflow::AttrValue v;
  v.set_type(t);
  return v;
}
tensorflow::AttrValue IntAttr(int64_t i) {
  tensorflow::AttrValue v;
  v.set_i(i);
  return v;
}
tensorflow::AttrValue StrAttr(const std::string& s) {
  tensorflow::AttrValue v;
  v.set_s(s);
  return v;
}
tensorflow::AttrValue UnknownShapeAttr() {
  tensorflow::AttrValue v;
  v.mutable_shape()->set_unknown_rank(true);
  return v;
}
tensorflow::AttrValue TensorAttr(const Tensor& t) {
  tensorflow::AttrValue v;
  *v.mutable_tensor() = TensorToProto(t);
  return v;
}
tensorflow::AttrValue TypeListAttr(const std::vector<DataType>& types) {
  tensorflow::AttrValue v;
  v.mutable_list();
  for (DataType t : types) v.mutable_list()->add_type(t);
  return v;
}

tensorflow::AttrValue BoolAttr(bool b) {
  tensorflow::AttrValue v;
  v.set_b(b);
  return v;
}
tensorflow::AttrValue FloatAttr(float f) {
  tensorflow::AttrValue v;
  v.set_f(f);
  return v;
}
tensorflow::AttrValue ShapeAttr(const TensorShape& shape) {
  tensorflow::AttrValue v;
  *v.mutable_shape() = ShapeToProto(shape);
  return v;
}
tensorflow::AttrValue IntListAttr(const std::vector<int64_t>& values) {
  tensorflow::AttrValue v;
  v.mutable_list();
  for (int64_t i : values) v.mutable_list()->add_i(i);
  return v;
}

std::string GraphBuilder::Add(const std::string& name, const std::string& op,
                              const std::vector<std::string>& inputs, const Attrs& attrs) {
  tensorflow::NodeDef* node = graph_.add_node();
  node->set_name(name);
  node->set_op(op);
  for (const std::string& input : inputs) node->add_input(input);
  for (const auto& [key, value] : attrs) (*node->mutable_attr())[key] = value;
  return name;
}

std::string GraphBuilder::Const(const std::string& name, const Tensor& value) {
  return Add(name, "Const", {}, {{"dtype", TypeAttr(value.dtype())}, {"value", TensorAttr(value)}});
}

std::string GraphBuilder::Placeholder(const std::string& name, DataType dtype) {
  return Add(name, "Placeholder", {}, {{"dtype", TypeAttr(dtype)}, {"shape", UnknownShapeAttr()}});
}

std::string GraphBuilder::Op(const std::string& name, const std::string& op,
                             const std::vector<std::string>& inputs, DataType t) {
  return Add(name, op, inputs, {{"T", TypeAttr(t)}});
}

std::string GraphBuilder::Var(const std::string& name, DataType dtype) {
  return Add(name, "VarHandleOp", {},
             {{"container", StrAttr("")},
              {"shared_name", StrAttr(name)},
              {"dtype", TypeAttr(dtype)},
              {"shape", UnknownShapeAttr()}});
}

std::string GraphBuilder::Read(const std::string& name, const std::string& var, DataType dtype) {
  return Add(name, "ReadVariableOp", {var}, {{"dtype", TypeAttr(dtype)}});
}

std::string GraphBuilder::Assign(const std::string& name, const std::string& var,
                                 const std::string& value, DataType dtype) {
  return Add(name, "AssignVariableOp", {var, value}, {{"dtype", TypeAttr(dtype)}});
}

std::string GraphBuilder::Group(const std::string& name, const std::vector<std::string>& deps) {
  std::vector<std::string> inputs;
  for (const std::string& dep : deps) inputs.push_back("^" + dep);
  return Add(name, "NoOp", inputs);
}

}  // namespace recship::testing
