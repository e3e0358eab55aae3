#include "recship/graph/graph.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/graph/op_table.h"

namespace recship {

PartialShape PartialShape::FromProto(const tensorflow::TensorShapeProto& proto) {
  if (proto.unknown_rank()) return Unknown();
  PartialShape shape;
  for (const auto& d : proto.dim()) shape.dims.push_back(d.size() < 0 ? -1 : d.size());
  return shape;
}

int64_t PartialShape::dim(int i) const {
  if (unknown_rank || i < 0 || i >= static_cast<int>(dims.size())) return -1;
  return dims[static_cast<size_t>(i)];
}

tensorflow::TensorShapeProto PartialShape::ToProto() const {
  tensorflow::TensorShapeProto proto;
  if (unknown_rank) {
    proto.set_unknown_rank(true);
    return proto;
  }
  for (int64_t d : dims) proto.add_dim()->set_size(d);
  return proto;
}

std::string PartialShape::ToString() const {
  if (unknown_rank) return "<unknown>";
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

bool PartialShape::IsCompatibleWith(const TensorShape& shape) const {
  if (unknown_rank) return true;
  if (dims.size() != shape.size()) return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] >= 0 && dims[i] != shape[i]) return false;
  }
  return true;
}

std::string Output::tensor_name() const { return absl::StrCat(node, ":", index); }

std::string Output::input_name() const {
  return index == 0 ? node : absl::StrCat(node, ":", index);
}

Graph::Graph() {
  def_.mutable_versions()->set_producer(kGraphProducer);
  def_.mutable_versions()->set_min_consumer(0);
}

void Graph::RecordError(const absl::Status& status) {
  if (status_.ok() && !status.ok()) status_ = status;
}

std::string Graph::UniqueName(absl::string_view base) {
  std::string name(base);
  for (int i = 1; used_names_.contains(name); ++i) name = absl::StrCat(base, "_", i);
  used_names_.insert(name);
  return name;
}

bool Graph::AddNode(tensorflow::NodeDef node) {
  if (absl::Status s = ValidateNode(node); !s.ok()) {
    RecordError(s);
    return false;
  }
  if (nodes_.contains(node.name())) {
    RecordError(absl::AlreadyExistsError(absl::StrCat("node '", node.name(), "' added twice")));
    return false;
  }
  used_names_.insert(node.name());
  nodes_[node.name()] = def_.node_size();
  *def_.add_node() = std::move(node);
  return true;
}

const tensorflow::NodeDef* Graph::FindNode(absl::string_view name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &def_.node(it->second);
}

Scope Scope::NewSubScope(absl::string_view name) const {
  Scope child = *this;
  child.prefix_ =
      graph_->UniqueName(prefix_.empty() ? std::string(name) : absl::StrCat(prefix_, "/", name));
  return child;
}

Scope Scope::WithDevice(absl::string_view device) const {
  Scope child = *this;
  child.device_ = std::string(device);
  return child;
}

Scope Scope::WithControlDependencies(std::span<const Output> deps) const {
  Scope child = *this;
  for (const Output& dep : deps) {
    if (!dep.valid()) {
      UpdateStatus(absl::InvalidArgumentError("control dependency on an invalid output"));
      continue;
    }
    child.control_deps_.push_back(dep.node);
  }
  return child;
}

Scope Scope::WithControlDependencies(std::span<const std::string> node_names) const {
  Scope child = *this;
  child.control_deps_.insert(child.control_deps_.end(), node_names.begin(), node_names.end());
  return child;
}

std::string Scope::NodeName(absl::string_view base) const {
  return graph_->UniqueName(prefix_.empty() ? std::string(base) : absl::StrCat(prefix_, "/", base));
}

NodeBuilder::NodeBuilder(const Scope& scope, absl::string_view op, absl::string_view name)
    : scope_(scope) {
  node_.set_op(std::string(op));
  node_.set_name(scope.NodeName(name.empty() ? op : name));
  node_.set_device(scope.device());
}

NodeBuilder& NodeBuilder::Input(const Output& input) {
  if (!input.valid()) inputs_valid_ = false;
  node_.add_input(input.input_name());
  return *this;
}

NodeBuilder& NodeBuilder::Inputs(std::span<const Output> inputs) {
  for (const Output& input : inputs) Input(input);
  return *this;
}

NodeBuilder& NodeBuilder::ControlInput(absl::string_view node_name) {
  node_.add_input(absl::StrCat("^", node_name));
  return *this;
}

#define RECSHIP_SET_ATTR(setter)                     \
  (*node_.mutable_attr())[std::string(name)].setter; \
  return *this

NodeBuilder& NodeBuilder::Attr(absl::string_view name, DataType value) {
  RECSHIP_SET_ATTR(set_type(value));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, int64_t value) {
  RECSHIP_SET_ATTR(set_i(value));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, bool value) {
  RECSHIP_SET_ATTR(set_b(value));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, float value) {
  RECSHIP_SET_ATTR(set_f(value));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, absl::string_view value) {
  RECSHIP_SET_ATTR(set_s(std::string(value)));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, const PartialShape& value) {
  RECSHIP_SET_ATTR(mutable_shape()->CopyFrom(value.ToProto()));
}
NodeBuilder& NodeBuilder::Attr(absl::string_view name, const tensorflow::TensorProto& value) {
  RECSHIP_SET_ATTR(mutable_tensor()->CopyFrom(value));
}
#undef RECSHIP_SET_ATTR

NodeBuilder& NodeBuilder::Attr(absl::string_view name, std::span<const DataType> value) {
  auto* list = (*node_.mutable_attr())[std::string(name)].mutable_list();
  for (DataType t : value) list->add_type(t);
  return *this;
}

NodeBuilder& NodeBuilder::Attr(absl::string_view name, std::span<const int64_t> value) {
  auto* list = (*node_.mutable_attr())[std::string(name)].mutable_list();
  for (int64_t i : value) list->add_i(i);
  return *this;
}

std::string NodeBuilder::Finalize() {
  if (!scope_.ok() || !inputs_valid_) return "";
  for (const std::string& dep : scope_.control_dependencies()) ControlInput(dep);
  std::string name = node_.name();
  return scope_.graph()->AddNode(std::move(node_)) ? name : "";
}

}  // namespace recship
