#include "src/export/remote_dense.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_proto.h"
#include "recship/graph/ops.h"

namespace recship {
namespace {

using Edge = std::pair<std::string, int>;  // (node, output index)

struct Inputs {
  std::vector<Edge> data;
  std::vector<std::string> control;
};

Inputs ParseInputs(const tensorflow::NodeDef& node) {
  Inputs inputs;
  for (const std::string& input : node.input()) {
    if (!input.empty() && input[0] == '^') {
      inputs.control.push_back(input.substr(1));
      continue;
    }
    size_t colon = input.rfind(':');
    int index = 0;
    if (colon != std::string::npos && absl::SimpleAtoi(input.substr(colon + 1), &index)) {
      inputs.data.emplace_back(input.substr(0, colon), index);
    } else {
      inputs.data.emplace_back(input, 0);
    }
  }
  return inputs;
}

// The dtype of output `index` of `node`, from the attrs TensorFlow's ops use.
DataType OutputType(const tensorflow::NodeDef& node, int index) {
  auto attr = [&](const char* name) -> const tensorflow::AttrValue* {
    auto it = node.attr().find(name);
    return it == node.attr().end() ? nullptr : &it->second;
  };
  if (node.op() == "TfServingRemotePredict") {
    if (index == 0) return tensorflow::DT_INT32;
    if (index == 1) return tensorflow::DT_STRING;
    return static_cast<DataType>(attr("output_types")->list().type(index - 2));
  }
  if (node.op() == "Unique" && index == 1) return attr("out_idx")->type();
  if (node.op() == "Shape") return attr("out_type")->type();
  for (const char* name : {"dtype", "DstT", "Tout", "Tparams", "T"}) {
    const tensorflow::AttrValue* a = attr(name);
    if (a != nullptr && a->value_case() == tensorflow::AttrValue::kType) return a->type();
  }
  return tensorflow::DT_INVALID;
}

class Splitter {
 public:
  Splitter(const tensorflow::GraphDef& graph, const std::vector<SignatureSpec>& signatures,
           int64_t version)
      : graph_(graph), signatures_(signatures), version_(version) {
    for (const auto& node : graph.node()) {
      nodes_[node.name()] = &node;
      inputs_[node.name()] = ParseInputs(node);
    }
  }

  absl::StatusOr<DenseSplit> Split(const CheckpointReader& checkpoint,
                                   const std::string& model_name);

 private:
  bool DependsOnVariable(const std::string& name);
  void MarkAncestors(const std::string& name, std::set<std::string>& seen);
  absl::StatusOr<std::unique_ptr<Graph>> BuildDense(const CheckpointReader& checkpoint);
  absl::Status BuildEntry(DenseSplit& split, const std::string& model_name);

  const tensorflow::GraphDef& graph_;
  const std::vector<SignatureSpec>& signatures_;
  const int64_t version_;  // The dense_0 version the entry asks for; -1: any.
  std::map<std::string, const tensorflow::NodeDef*> nodes_;
  std::map<std::string, Inputs> inputs_;
  std::map<std::string, bool> depends_;
  std::set<std::string> dense_;  // Nodes moving to dense_0.
  std::vector<Edge> boundary_;   // dense_0's inputs, in order.
  // The signature outputs the dense network computes, by tensor name, in
  // order; dense_0 returns the j-th as output_<j>.
  std::vector<Output> dense_outputs_;
  SignatureSpec dense_signature_;
};

bool Splitter::DependsOnVariable(const std::string& name) {
  auto memo = depends_.find(name);
  if (memo != depends_.end()) return memo->second;
  depends_[name] = false;  // Breaks cycles; graphs are acyclic anyway.
  bool depends = nodes_.contains(name) && nodes_.at(name)->op() == "VarHandleOp";
  for (const Edge& edge : inputs_[name].data) depends = DependsOnVariable(edge.first) || depends;
  return depends_[name] = depends;
}

void Splitter::MarkAncestors(const std::string& name, std::set<std::string>& seen) {
  std::vector<std::string> stack = {name};
  while (!stack.empty()) {
    std::string n = stack.back();
    stack.pop_back();
    if (!nodes_.contains(n) || !seen.insert(n).second) continue;
    for (const Edge& edge : inputs_[n].data) stack.push_back(edge.first);
    for (const std::string& c : inputs_[n].control) stack.push_back(c);
  }
}

absl::StatusOr<std::unique_ptr<Graph>> Splitter::BuildDense(const CheckpointReader& checkpoint) {
  auto dense = std::make_unique<Graph>();
  Scope root(dense.get());
  std::map<Edge, std::string> placeholder_of;
  SignatureSpec signature{kGpuRemoteCallSignature, {}, {}};
  for (size_t k = 0; k < boundary_.size(); ++k) {
    const Edge& edge = boundary_[k];
    DataType dtype = OutputType(*nodes_.at(edge.first), edge.second);
    std::string key = absl::StrCat("input_", k);
    Output input =
        ops::Placeholder(root.WithDevice(kGpuDevice), dtype, PartialShape::Unknown(), key);
    placeholder_of[edge] = input.input_name();
    signature.inputs[key] = input;
  }
  for (const auto& node : graph_.node()) {
    if (!dense_.contains(node.name()) || node.op() == "VarHandleOp") continue;
    tensorflow::NodeDef copy;
    const Inputs& in = inputs_[node.name()];
    if (node.op() == "ReadVariableOp" && nodes_.at(in.data[0].first)->op() == "VarHandleOp") {
      // Frozen: the variable's checkpoint value as a constant.
      const std::string& variable = nodes_.at(in.data[0].first)->attr().at("shared_name").s();
      RECSHIP_ASSIGN_OR_RETURN(Tensor value, checkpoint.bundle().Read(variable));
      copy.set_name(node.name());
      copy.set_op("Const");
      (*copy.mutable_attr())["dtype"].set_type(value.dtype());
      *(*copy.mutable_attr())["value"].mutable_tensor() = TensorToProto(value);
    } else {
      copy = node;
      copy.clear_input();
      for (const Edge& edge : in.data) {
        auto p = placeholder_of.find(edge);
        copy.add_input(
            p != placeholder_of.end()
                ? p->second
                : (edge.second == 0 ? edge.first : absl::StrCat(edge.first, ":", edge.second)));
      }
      // Control inputs from outside the dense network are dropped: they
      // order entry-side work that dense_0 never sees.
      for (const std::string& c : in.control) {
        if (dense_.contains(c)) copy.add_input(absl::StrCat("^", c));
      }
    }
    copy.set_device(kGpuDevice);
    if (!dense->AddNode(std::move(copy))) return dense->status();
  }
  for (size_t j = 0; j < dense_outputs_.size(); ++j) {
    signature.outputs[absl::StrCat("output_", j)] = dense_outputs_[j];
  }
  dense_signature_ = std::move(signature);
  return dense;
}

absl::Status Splitter::BuildEntry(DenseSplit& split, const std::string& model_name) {
  // The entry keeps what the boundary and the outputs it still computes need.
  std::set<std::string> keep;
  for (const Edge& edge : boundary_) MarkAncestors(edge.first, keep);
  for (const auto& signature : signatures_) {
    for (const auto& [key, output] : signature.inputs) MarkAncestors(output.node, keep);
    for (const auto& [key, output] : signature.outputs) {
      if (!dense_.contains(output.node)) MarkAncestors(output.node, keep);
    }
  }
  split.entry = std::make_unique<Graph>();
  for (const auto& node : graph_.node()) {
    if (keep.contains(node.name()) && !split.entry->AddNode(node)) return split.entry->status();
  }
  ops::RemotePredictCall call;
  call.model_name = SubModel::Dense(0).ServedName(model_name);
  call.model_version = version_;
  call.signature_name = kGpuRemoteCallSignature;
  for (size_t k = 0; k < boundary_.size(); ++k) {
    const Edge& edge = boundary_[k];
    call.input_aliases.push_back(absl::StrCat("input_", k));
    call.inputs.push_back(Output{edge.first, edge.second,
                                 OutputType(*nodes_.at(edge.first), edge.second),
                                 PartialShape::Unknown()});
  }
  for (size_t j = 0; j < dense_outputs_.size(); ++j) {
    call.output_aliases.push_back(absl::StrCat("output_", j));
    call.outputs.push_back(dense_outputs_[j]);
  }
  Scope root(split.entry.get());
  std::vector<Output> results = ops::TfServingRemotePredict(root, call, SubModel::Dense(0).name());
  if (results.size() != dense_outputs_.size() + 2) return split.entry->status();
  for (const auto& signature : signatures_) {
    SignatureSpec rewritten = signature;
    for (auto& [key, output] : rewritten.outputs) {
      for (size_t j = 0; j < dense_outputs_.size(); ++j) {
        if (dense_outputs_[j].tensor_name() == output.tensor_name()) output = results[2 + j];
      }
    }
    split.entry_signatures.push_back(std::move(rewritten));
  }
  return split.entry->status();
}

absl::StatusOr<DenseSplit> Splitter::Split(const CheckpointReader& checkpoint,
                                           const std::string& model_name) {
  std::set<std::string> feeds_outputs;
  for (const auto& signature : signatures_) {
    for (const auto& [key, output] : signature.outputs) MarkAncestors(output.node, feeds_outputs);
  }
  for (const std::string& name : feeds_outputs) {
    if (DependsOnVariable(name)) dense_.insert(name);
  }
  if (dense_.empty()) {
    return absl::FailedPreconditionError(
        "with_remote_gpu: no variable feeds the model's outputs, so there is no dense network "
        "to move into dense_0");
  }
  // Constants the dense network reads go with it.
  for (const std::string& name : std::set<std::string>(dense_)) {
    for (const Edge& edge : inputs_[name].data) {
      if (nodes_.at(edge.first)->op() == "Const") dense_.insert(edge.first);
    }
  }
  for (const auto& node : graph_.node()) {
    if (!dense_.contains(node.name())) continue;
    for (const Edge& edge : inputs_[node.name()].data) {
      if (!dense_.contains(edge.first) &&
          std::find(boundary_.begin(), boundary_.end(), edge) == boundary_.end()) {
        boundary_.push_back(edge);
      }
    }
  }
  for (const auto& signature : signatures_) {
    for (const auto& key_and_output : signature.outputs) {
      const auto& output = key_and_output.second;
      bool seen = std::any_of(dense_outputs_.begin(), dense_outputs_.end(), [&](const Output& o) {
        return o.tensor_name() == output.tensor_name();
      });
      if (dense_.contains(output.node) && !seen) dense_outputs_.push_back(output);
    }
  }
  DenseSplit split;
  RECSHIP_ASSIGN_OR_RETURN(split.dense, BuildDense(checkpoint));
  split.dense_signatures.push_back(dense_signature_);
  RECSHIP_RETURN_IF_ERROR(BuildEntry(split, model_name));
  return split;
}

}  // namespace

absl::StatusOr<DenseSplit> SplitDenseNetwork(const tensorflow::GraphDef& entry,
                                             const std::vector<SignatureSpec>& signatures,
                                             const CheckpointReader& checkpoint,
                                             const std::string& model_name, int64_t dense_version) {
  Splitter splitter(entry, signatures, dense_version);
  return splitter.Split(checkpoint, model_name);
}

}  // namespace recship
