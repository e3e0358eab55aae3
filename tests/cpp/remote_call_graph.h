// Hand-built graphs of TfServingRemotePredict calls, for the tests of the
// remote-predict kernel (with a fake RemoteCaller) and of the gRPC caller.
#ifndef RECSHIP_TESTS_CPP_REMOTE_CALL_GRAPH_H_
#define RECSHIP_TESTS_CPP_REMOTE_CALL_GRAPH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship::testing {

tensorflow::NodeDef* AddNode(tensorflow::GraphDef& g, const std::string& name,
                             const std::string& op, const std::vector<std::string>& inputs);
void AddConst(tensorflow::GraphDef& g, const std::string& name, const Tensor& value);
// A placeholder of unknown shape.
void AddPlaceholder(tensorflow::GraphDef& g, const std::string& name, DataType dtype);

// One TfServingRemotePredict node and the alias constants it reads.
struct Call {
  std::string name = "call";
  std::string input = "ids";  // Tensor fed under the input alias.
  std::string input_alias = "ids";
  std::vector<std::string> outputs = {"rows"};
  std::vector<DataType> output_types = {tensorflow::DT_FLOAT};
  std::string model = "m:ps_0";
  std::string signature = "lookup";
  std::string target_address;
  int64_t version = -1;
  bool fail_op_on_rpc_error = true;
  int64_t deadline_millis = 5000;
};

void AddCall(tensorflow::GraphDef& g, const Call& c);

// A graph of the given calls, each reading placeholder `ids` (int64) unless
// told.
tensorflow::GraphDef CallGraph(const std::vector<Call>& calls);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_REMOTE_CALL_GRAPH_H_
