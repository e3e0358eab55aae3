// Building a TensorFlow GraphDef: the graph, name scopes and node outputs.
//
// Graph owns the GraphDef under construction. Scope carries a name prefix, a
// device and control dependencies, like tf.name_scope and tf.device. Op
// constructors (ops.h) take a Scope and return Outputs that know their dtype
// and static shape. As in TensorFlow's C++ Scope, errors are sticky: the first
// one is kept in the Graph, later constructors do nothing, and the caller
// checks graph.status() once at the end.
#ifndef RECSHIP_GRAPH_GRAPH_H_
#define RECSHIP_GRAPH_GRAPH_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship {

// The producer version written into GraphDef.versions; TensorFlow 2.x loads
// graphs from any producer >= its min_consumer (0).
inline constexpr int kGraphProducer = 1087;

// A static shape: dims of -1 are unknown; `unknown_rank` means nothing is known.
struct PartialShape {
  bool unknown_rank = false;
  std::vector<int64_t> dims;

  static PartialShape Unknown() { return {true, {}}; }
  static PartialShape Scalar() { return {false, {}}; }
  static PartialShape Of(std::vector<int64_t> d) { return {false, std::move(d)}; }
  static PartialShape FromProto(const tensorflow::TensorShapeProto& proto);

  int rank() const { return unknown_rank ? -1 : static_cast<int>(dims.size()); }
  // The size of dimension i, or -1 when unknown.
  int64_t dim(int i) const;
  tensorflow::TensorShapeProto ToProto() const;
  std::string ToString() const;
  // True when a tensor of `shape` could have this static shape.
  bool IsCompatibleWith(const TensorShape& shape) const;
  bool operator==(const PartialShape&) const = default;
};

// One output of a node: "node:index".
struct Output {
  std::string node;
  int index = 0;
  DataType dtype = tensorflow::DT_INVALID;
  PartialShape shape = PartialShape::Unknown();

  bool valid() const { return !node.empty(); }
  // "node:0", as SignatureDef TensorInfo names it.
  std::string tensor_name() const;
  // "node" or "node:1", as NodeDef inputs name it.
  std::string input_name() const;
};

class Graph {
 public:
  Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const tensorflow::GraphDef& def() const { return def_; }
  // OK, or the first error any constructor met.
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  // Keeps `status` when it is the first error.
  void RecordError(const absl::Status& status);

  // `base` if no node or scope has that name yet, else base_1, base_2, ...
  std::string UniqueName(absl::string_view base);
  // Validates `node` against the op table and adds it. Returns false (and
  // records the error) when invalid or when the name is taken.
  bool AddNode(tensorflow::NodeDef node);
  const tensorflow::NodeDef* FindNode(absl::string_view name) const;

 private:
  tensorflow::GraphDef def_;
  absl::flat_hash_map<std::string, int> nodes_;
  absl::flat_hash_set<std::string> used_names_;
  absl::Status status_;
};

class Scope {
 public:
  explicit Scope(Graph* graph) : graph_(graph) {}

  // A child scope "prefix/name". Like tf.name_scope, a second child of the
  // same name becomes name_1.
  Scope NewSubScope(absl::string_view name) const;
  Scope WithDevice(absl::string_view device) const;
  // Nodes built in the returned scope run after `deps`.
  Scope WithControlDependencies(std::span<const Output> deps) const;
  Scope WithControlDependencies(std::span<const std::string> node_names) const;

  Graph* graph() const { return graph_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& device() const { return device_; }
  const std::vector<std::string>& control_dependencies() const { return control_deps_; }
  // A unique node name for `base` inside this scope.
  std::string NodeName(absl::string_view base) const;

  bool ok() const { return graph_->ok(); }
  void UpdateStatus(const absl::Status& status) const { graph_->RecordError(status); }

 private:
  Graph* graph_;
  std::string prefix_;
  std::string device_;
  std::vector<std::string> control_deps_;
};

// Builds one NodeDef in a scope. Finalize() adds it to the graph and returns
// its name, or "" when an input is invalid or the node fails validation (the
// error is recorded in the graph).
class NodeBuilder {
 public:
  NodeBuilder(const Scope& scope, absl::string_view op, absl::string_view name = {});
  // The node's unique name, reserved from construction on.
  const std::string& name() const { return node_.name(); }

  NodeBuilder& Input(const Output& input);
  NodeBuilder& Inputs(std::span<const Output> inputs);
  NodeBuilder& ControlInput(absl::string_view node_name);
  NodeBuilder& Attr(absl::string_view name, DataType value);
  NodeBuilder& Attr(absl::string_view name, int64_t value);
  NodeBuilder& Attr(absl::string_view name, int value) { return Attr(name, int64_t{value}); }
  NodeBuilder& Attr(absl::string_view name, bool value);
  NodeBuilder& Attr(absl::string_view name, float value);
  NodeBuilder& Attr(absl::string_view name, absl::string_view value);
  NodeBuilder& Attr(absl::string_view name, const char* value) {
    return Attr(name, absl::string_view(value));
  }
  NodeBuilder& Attr(absl::string_view name, const PartialShape& value);
  NodeBuilder& Attr(absl::string_view name, const tensorflow::TensorProto& value);
  NodeBuilder& Attr(absl::string_view name, std::span<const DataType> value);
  NodeBuilder& Attr(absl::string_view name, std::span<const int64_t> value);

  std::string Finalize();

 private:
  Scope scope_;  // A copy: builders may outlive a temporary scope.
  tensorflow::NodeDef node_;
  bool inputs_valid_ = true;
};

}  // namespace recship

#endif  // RECSHIP_GRAPH_GRAPH_H_
