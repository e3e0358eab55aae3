// graph/: the op table, node naming, attrs, dtype checks and static shapes.
#include "recship/graph/graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>

#include "google/protobuf/text_format.h"
#include "recship/graph/op_table.h"
#include "recship/graph/ops.h"

namespace recship {
namespace {

using tensorflow::DT_FLOAT;
using tensorflow::DT_INT64;

TEST(OpTableTest, SortedAndHoldsTheDesignOpSet) {
  auto ops = SupportedOps();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end(),
                             [](const OpInfo& a, const OpInfo& b) { return a.name < b.name; }));
  for (const char* op : {"Placeholder",
                         "PlaceholderWithDefault",
                         "Const",
                         "Identity",
                         "NoOp",
                         "VarHandleOp",
                         "ReadVariableOp",
                         "AssignVariableOp",
                         "RestoreV2",
                         "SaveV2",
                         "MatMul",
                         "BiasAdd",
                         "AddV2",
                         "Sub",
                         "Mul",
                         "RealDiv",
                         "Maximum",
                         "Relu",
                         "Sigmoid",
                         "Tanh",
                         "Softmax",
                         "Square",
                         "Sqrt",
                         "Rsqrt",
                         "Exp",
                         "Log",
                         "Cast",
                         "ConcatV2",
                         "Reshape",
                         "ExpandDims",
                         "Squeeze",
                         "Shape",
                         "Fill",
                         "Pack",
                         "Sum",
                         "Mean",
                         "GatherV2",
                         "Unique",
                         "FloorMod",
                         "DynamicPartition",
                         "DynamicStitch",
                         "SparseSegmentSum",
                         "SparseSegmentMean",
                         "SparseSegmentSqrtN",
                         "LookupTableImportV2",
                         "LookupTableFindV2",
                         "LookupTableInsertV2",
                         "LookupTableSizeV2",
                         "MutableHashTableOfTensorsV2",
                         "TfServingRemotePredict"}) {
    EXPECT_NE(FindOp(op), nullptr) << op;
  }
  EXPECT_EQ(FindOp("Conv2D"), nullptr);
}

TEST(OpTableTest, ValidateNodeNamesOpAndMissingAttr) {
  tensorflow::NodeDef node;
  node.set_name("conv");
  node.set_op("Conv2D");
  absl::Status status = ValidateNode(node);
  EXPECT_NE(status.message().find("conv"), std::string::npos);
  EXPECT_NE(status.message().find("Conv2D"), std::string::npos);
  node.set_op("MatMul");
  (*node.mutable_attr())["T"].set_type(DT_FLOAT);
  status = ValidateNode(node);
  EXPECT_NE(status.message().find("transpose_a"), std::string::npos) << status;
}

TEST(OpTableTest, EveryDefaultParsesAndBelongsToASupportedOp) {
  auto defaults = DefaultAttrs();
  EXPECT_TRUE(std::is_sorted(defaults.begin(), defaults.end(),
                             [](const AttrDefault& a, const AttrDefault& b) {
                               return std::pair(a.op, a.attr) < std::pair(b.op, b.attr);
                             }));
  for (const AttrDefault& d : defaults) {
    EXPECT_NE(FindOp(d.op), nullptr) << d.op;
    tensorflow::AttrValue value;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(std::string(d.value), &value))
        << d.op << " " << d.attr << ": " << d.value;
  }
}

TEST(OpTableTest, FillDefaultAttrsAddsOnlyWhatANodeLeavesOut) {
  // As TensorFlow 2 writes them: defaulted attrs left out.
  tensorflow::GraphDef graph;
  tensorflow::NodeDef* var = graph.add_node();
  var->set_name("dense/bias");
  var->set_op("VarHandleOp");
  (*var->mutable_attr())["dtype"].set_type(DT_FLOAT);
  (*var->mutable_attr())["shape"].mutable_shape();
  (*var->mutable_attr())["shared_name"].set_s("dense/bias");
  tensorflow::NodeDef* matmul = graph.add_node();
  matmul->set_name("dense/MatMul");
  matmul->set_op("MatMul");
  (*matmul->mutable_attr())["T"].set_type(DT_FLOAT);
  (*matmul->mutable_attr())["transpose_b"].set_b(true);
  tensorflow::NodeDef* custom = graph.add_node();
  custom->set_name("custom");
  custom->set_op("Conv2D");

  EXPECT_FALSE(ValidateNode(*var).ok());
  FillDefaultAttrs(graph);
  EXPECT_TRUE(ValidateNode(*var).ok()) << ValidateNode(*var);
  EXPECT_EQ(var->attr().at("container").s(), "");
  EXPECT_EQ(var->attr().at("shared_name").s(), "dense/bias");  // Kept.
  EXPECT_TRUE(ValidateNode(*matmul).ok()) << ValidateNode(*matmul);
  EXPECT_FALSE(matmul->attr().at("transpose_a").b());
  EXPECT_TRUE(matmul->attr().at("transpose_b").b());  // Kept.
  EXPECT_TRUE(custom->attr().empty());
}

TEST(OpTableTest, AFunctionCallIsRefusedNamingTheFunction) {
  tensorflow::NodeDef node;
  node.set_name("StatefulPartitionedCall");
  node.set_op("StatefulPartitionedCall");
  (*node.mutable_attr())["f"].mutable_func()->set_name("__inference_serve_42");
  absl::Status status = ValidateNode(node);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("node 'StatefulPartitionedCall'"), std::string::npos) << status;
  EXPECT_NE(status.message().find("function '__inference_serve_42'"), std::string::npos) << status;
}

TEST(GraphTest, ScopesNameNodesLikeTensorFlow) {
  Graph g;
  Scope root(&g);
  Scope dense = root.NewSubScope("mlp").NewSubScope("dense_0");
  Output x = ops::Placeholder(root, DT_FLOAT, PartialShape::Of({-1, 3}), "x");
  Output w = ops::Const(dense, Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6}), "w");
  Output y = ops::MatMul(dense, x, w);
  Output y2 = ops::MatMul(dense, x, w);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(y.node, "mlp/dense_0/MatMul");
  EXPECT_EQ(y2.node, "mlp/dense_0/MatMul_1");
  EXPECT_EQ(y.tensor_name(), "mlp/dense_0/MatMul:0");
  EXPECT_EQ(y.shape, PartialShape::Of({-1, 2}));
  EXPECT_EQ(root.NewSubScope("mlp").prefix(), "mlp_1");
  const tensorflow::NodeDef* node = g.FindNode("mlp/dense_0/MatMul");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->input(0), "x");
  EXPECT_EQ(node->input(1), "mlp/dense_0/w");
  EXPECT_FALSE(node->attr().at("transpose_a").b());
  EXPECT_EQ(g.def().versions().producer(), kGraphProducer);
}

TEST(GraphTest, WrongDtypeIsABuildErrorNamingTheNode) {
  Graph g;
  Scope root(&g);
  Output ids = ops::Placeholder(root, DT_INT64, PartialShape::Of({-1}), "ids");
  Output x = ops::Placeholder(root, DT_FLOAT, PartialShape::Of({-1}), "x");
  Output sum = ops::AddV2(root, ids, x);
  EXPECT_FALSE(sum.valid());
  EXPECT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("ids"), std::string::npos) << g.status();
  // Errors are sticky: later constructors add nothing.
  int before = g.def().node_size();
  EXPECT_FALSE(ops::Identity(root, x).valid());
  EXPECT_EQ(g.def().node_size(), before);
}

TEST(GraphTest, MatMulShapeMismatchIsAnError) {
  Graph g;
  Scope root(&g);
  Output a = ops::Placeholder(root, DT_FLOAT, PartialShape::Of({-1, 3}), "a");
  Output b = ops::Placeholder(root, DT_FLOAT, PartialShape::Of({4, 2}), "b");
  EXPECT_FALSE(ops::MatMul(root, a, b).valid());
  EXPECT_NE(g.status().message().find("inner dimensions"), std::string::npos);
}

TEST(GraphTest, EveryBuiltNodeCarriesItsRequiredAttrs) {
  Graph g;
  Scope root(&g);
  Output ids = ops::Placeholder(root, DT_INT64, PartialShape::Of({-1}), "ids");
  Output table =
      ops::MutableHashTableOfTensors(root, DT_INT64, DT_FLOAT, PartialShape::Of({4}), "t");
  Output zeros = ops::Const(root, Tensor::Create(DT_FLOAT, {4}).value());
  std::vector<Output> unique = ops::Unique(root, ids);
  Output rows = ops::LookupTableFind(root, table, unique[0], zeros);
  Output seg = ops::Cast(root, unique[1], tensorflow::DT_INT32);
  ops::SparseSegmentReduce(root, "SparseSegmentSum", rows, unique[1], seg,
                           ops::ScalarConst(root, int64_t{3}));
  ops::NoOp(root.WithControlDependencies(std::vector<Output>{rows}), "done");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(rows.shape, PartialShape::Of({-1, 4}));
  for (const auto& node : g.def().node()) EXPECT_TRUE(ValidateNode(node).ok()) << node.name();
  EXPECT_EQ(g.FindNode("done")->input(0), "^" + rows.node);
  EXPECT_NE(g.FindNode("SparseSegmentSumWithNumSegments"), nullptr);
}

}  // namespace
}  // namespace recship
