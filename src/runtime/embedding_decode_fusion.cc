#include "src/runtime/embedding_decode_fusion.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"

namespace recship {
namespace {

using tensorflow::NodeDef;

class Matcher {
 public:
  explicit Matcher(const tensorflow::GraphDef& graph) {
    for (const NodeDef& node : graph.node()) nodes_[node.name()] = &node;
  }

  // The node feeding data input `i` of `node` through output 0, if `op`.
  const NodeDef* Input(const NodeDef& node, int i, const char* op) const {
    if (node.input_size() <= i) return nullptr;
    const std::string& name = node.input(i);
    if (name.empty() || name[0] == '^' ||
        (name.find(':') != std::string::npos && name.substr(name.find(':')) != ":0")) {
      return nullptr;
    }
    auto it = nodes_.find(name.substr(0, name.find(':')));
    return it != nodes_.end() && it->second->op() == op ? it->second : nullptr;
  }

  // The int32 or int64 values of a Const feeding input `i`.
  std::optional<std::vector<int64_t>> Constant(const NodeDef& node, int i) const {
    const NodeDef* c = Input(node, i, "Const");
    if (c == nullptr || !c->attr().contains("value")) return std::nullopt;
    absl::StatusOr<Tensor> t = TensorFromProto(c->attr().at("value").tensor());
    if (!t.ok()) return std::nullopt;
    std::vector<int64_t> out;
    if (t->dtype() == tensorflow::DT_INT32) {
      for (int32_t v : t->flat<int32_t>()) out.push_back(v);
    } else if (t->dtype() == tensorflow::DT_INT64) {
      for (int64_t v : t->flat<int64_t>()) out.push_back(v);
    } else {
      return std::nullopt;
    }
    return out;
  }

  // The source of columns [from, to) of a GatherV2 on axis 1, or `node`
  // itself (all columns) when it is not such a gather.
  const NodeDef* Columns(const NodeDef* node, int64_t from, int64_t to) const {
    if (node == nullptr || node->op() != "GatherV2") return node;
    std::optional<std::vector<int64_t>> axis = Constant(*node, 2);
    std::optional<std::vector<int64_t>> indices = Constant(*node, 1);
    if (!axis || *axis != std::vector<int64_t>{1} || !indices) return nullptr;
    std::vector<int64_t> want;
    for (int64_t i = from; i < to; ++i) want.push_back(i);
    if (*indices != want) return nullptr;
    auto it = nodes_.find(node->input(0).substr(0, node->input(0).find(':')));
    return it == nodes_.end() ? nullptr : it->second;
  }

  const NodeDef* Node(const std::string& name) const {
    auto it = nodes_.find(name.substr(0, name.find(':')));
    return it == nodes_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, const NodeDef*> nodes_;
};

DataType TypeAttr(const NodeDef& node, const char* attr) {
  auto it = node.attr().find(attr);
  return it == node.attr().end() ? tensorflow::DT_INVALID : it->second.type();
}

// A lookup that finds stored rows of `width` int32 words.
bool IsStoredLookup(const Matcher& m, const NodeDef* find, int64_t width) {
  if (find == nullptr || find->op() != "LookupTableFindV2" ||
      TypeAttr(*find, "Tout") != tensorflow::DT_INT32 || find->input_size() < 3) {
    return false;
  }
  const NodeDef* zeros = m.Input(*find, 2, "Const");
  if (zeros == nullptr) return false;
  absl::StatusOr<Tensor> t = TensorFromProto(zeros->attr().at("value").tensor());
  return t.ok() && t->dtype() == tensorflow::DT_INT32 && t->shape() == TensorShape{width} &&
         std::all_of(t->flat<int32_t>().begin(), t->flat<int32_t>().end(),
                     [](int32_t v) { return v == 0; });
}

struct Chain {
  const NodeDef* find = nullptr;
  EmbeddingDtype dtype = EmbeddingDtype::kFloat32;
  int64_t dim = 0;
};

// `bitcast` of words to `type`, reshaped to rows and cut to dim columns:
// (the words' source node, dim), as `elements` (the node after the cut).
std::optional<std::pair<const NodeDef*, int64_t>> Unpacked(const Matcher& m,
                                                           const NodeDef* elements, DataType type) {
  if (elements == nullptr) return std::nullopt;
  const NodeDef* reshape = elements->op() == "Reshape" ? elements : m.Node(elements->input(0));
  if (reshape == nullptr || reshape->op() != "Reshape") return std::nullopt;
  std::optional<std::vector<int64_t>> shape = m.Constant(*reshape, 1);
  if (!shape || shape->size() != 2 || (*shape)[0] != -1) return std::nullopt;
  const int64_t width = (*shape)[1];
  int64_t dim = width;
  if (elements != reshape) {
    std::optional<std::vector<int64_t>> indices = m.Constant(*elements, 1);
    if (!indices || indices->empty()) return std::nullopt;
    dim = static_cast<int64_t>(indices->size());
    if (m.Columns(elements, 0, dim) != reshape) return std::nullopt;
  }
  const NodeDef* bitcast = m.Input(*reshape, 0, "Bitcast");
  if (bitcast == nullptr || TypeAttr(*bitcast, "T") != tensorflow::DT_INT32 ||
      TypeAttr(*bitcast, "type") != type) {
    return std::nullopt;
  }
  return std::make_pair(m.Node(bitcast->input(0)), dim);
}

std::optional<Chain> HalfChain(const Matcher& m, const NodeDef& cast) {
  const DataType from = TypeAttr(cast, "SrcT");
  if (TypeAttr(cast, "DstT") != tensorflow::DT_FLOAT ||
      (from != tensorflow::DT_HALF && from != tensorflow::DT_BFLOAT16)) {
    return std::nullopt;
  }
  auto unpacked = Unpacked(m, m.Node(cast.input(0)), from);
  if (!unpacked) return std::nullopt;
  Chain chain{unpacked->first,
              from == tensorflow::DT_HALF ? EmbeddingDtype::kFloat16 : EmbeddingDtype::kBFloat16,
              unpacked->second};
  if (!IsStoredLookup(m, chain.find, StoredRowWidth(chain.dtype, chain.dim))) return std::nullopt;
  return chain;
}

std::optional<Chain> Int8Chain(const Matcher& m, const NodeDef& mul) {
  const NodeDef* cast = m.Input(mul, 0, "Cast");
  const NodeDef* scale = m.Input(mul, 1, "Bitcast");
  if (cast == nullptr || scale == nullptr || TypeAttr(*cast, "SrcT") != tensorflow::DT_INT8 ||
      TypeAttr(*cast, "DstT") != tensorflow::DT_FLOAT ||
      TypeAttr(*scale, "T") != tensorflow::DT_INT32 ||
      TypeAttr(*scale, "type") != tensorflow::DT_FLOAT) {
    return std::nullopt;
  }
  auto unpacked = Unpacked(m, m.Node(cast->input(0)), tensorflow::DT_INT8);
  if (!unpacked || unpacked->first == nullptr) return std::nullopt;
  Chain chain{nullptr, EmbeddingDtype::kInt8, unpacked->second};
  const int64_t width = StoredRowWidth(chain.dtype, chain.dim);
  chain.find = m.Columns(unpacked->first, 1, width);
  if (chain.find == nullptr || chain.find == unpacked->first ||
      m.Columns(m.Node(scale->input(0)), 0, 1) != chain.find ||
      !IsStoredLookup(m, chain.find, width)) {
    return std::nullopt;
  }
  return chain;
}

// `end` as a lookup that decodes what it finds.
NodeDef FusedLookup(const NodeDef& end, const Chain& chain, const std::string& zeros) {
  NodeDef fused;
  fused.set_name(end.name());
  fused.set_op("LookupTableFindV2");
  fused.set_device(chain.find->device());
  fused.add_input(chain.find->input(0));
  fused.add_input(chain.find->input(1));
  fused.add_input(zeros);
  for (const std::string& input : chain.find->input()) {
    if (!input.empty() && input[0] == '^') fused.add_input(input);
  }
  (*fused.mutable_attr())["Tin"] = chain.find->attr().at("Tin");
  (*fused.mutable_attr())["Tout"].set_type(tensorflow::DT_FLOAT);
  (*fused.mutable_attr())[kDecodeAttr].set_s(std::string(EmbeddingDtypeName(chain.dtype)));
  return fused;
}

NodeDef FloatZeros(const std::string& name, int64_t dim, const std::string& device) {
  NodeDef node;
  node.set_name(name);
  node.set_op("Const");
  node.set_device(device);
  (*node.mutable_attr())["dtype"].set_type(tensorflow::DT_FLOAT);
  *(*node.mutable_attr())["value"].mutable_tensor() =
      TensorToProto(Tensor::Create(tensorflow::DT_FLOAT, {dim}).value());
  return node;
}

}  // namespace

int FuseEmbeddingDecodes(tensorflow::GraphDef& graph) {
  std::vector<std::pair<int, Chain>> chains;
  {
    Matcher m(graph);
    for (int i = 0; i < graph.node_size(); ++i) {
      const NodeDef& node = graph.node(i);
      std::optional<Chain> chain = node.op() == "Cast"  ? HalfChain(m, node)
                                   : node.op() == "Mul" ? Int8Chain(m, node)
                                                        : std::nullopt;
      if (chain) chains.emplace_back(i, *chain);
    }
  }
  // The chains point into the graph: copy what they need before it changes.
  std::vector<NodeDef> fused, zeros;
  for (const auto& [i, chain] : chains) {
    const NodeDef& end = graph.node(i);
    const std::string zeros_name = absl::StrCat(end.name(), "/_recship_fused_default");
    zeros.push_back(FloatZeros(zeros_name, chain.dim, chain.find->device()));
    fused.push_back(FusedLookup(end, chain, zeros_name));
  }
  for (size_t k = 0; k < chains.size(); ++k) {
    *graph.mutable_node(chains[k].first) = std::move(fused[k]);
    *graph.add_node() = std::move(zeros[k]);
  }
  return static_cast<int>(chains.size());
}

}  // namespace recship
