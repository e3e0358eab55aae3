// Hand-built GraphDefs for tests: AttrValue makers and a node-by-node
// GraphDef builder. Definitions are in graph_builder.cc.
#ifndef RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_
#define RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/attr_value.pb.h"
#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship::testing {

using Attrs = std::vector<std::pair<std::string, tensorflow::AttrValue>>;

tensorflow::AttrValue TypeAttr(DataType t);
tensorflow::AttrValue IntAttr(int64_t i);
tensorflow::AttrValue StrAttr(const std::string& s);
tensorflow::AttrValue UnknownShapeAttr();
tensorflow::AttrValue TensorAttr(const Tensor& t);
tensorflow::AttrValue TypeListAttr(const std::vector<DataType>& types);

tensorflow::AttrValue BoolAttr(bool b);
tensorflow::AttrValue FloatAttr(float f);
tensorflow::AttrValue ShapeAttr(const TensorShape& shape);
tensorflow::AttrValue IntListAttr(const std::vector<int64_t>& values);

// Builds a GraphDef node by node, for tests that hand-craft graphs.
class GraphBuilder {
 public:
  // Adds a node and returns its name, for use as another node's input.
  std::string Add(const std::string& name, const std::string& op,
                  const std::vector<std::string>& inputs, const Attrs& attrs = {});
  std::string Const(const std::string& name, const Tensor& value);
  std::string Placeholder(const std::string& name, DataType dtype);
  // A node whose only attr is T.
  std::string Op(const std::string& name, const std::string& op,
                 const std::vector<std::string>& inputs, DataType t);
  // A resource variable whose shared name is the node's name.
  std::string Var(const std::string& name, DataType dtype);
  std::string Read(const std::string& name, const std::string& var, DataType dtype);
  std::string Assign(const std::string& name, const std::string& var, const std::string& value,
                     DataType dtype);
  // A NoOp that runs `deps` (node names).
  std::string Group(const std::string& name, const std::vector<std::string>& deps);

  const tensorflow::GraphDef& graph() const { return graph_; }

 private:
  tensorflow::GraphDef graph_;
};

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_GRAPH_BUILDER_H_
