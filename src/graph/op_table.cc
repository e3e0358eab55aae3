#include "recship/graph/op_table.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"

namespace recship {
namespace {

using A = absl::string_view;

// Attr lists, shared by ops of the same shape.
constexpr A kNone[] = {""};
constexpr A kT[] = {"T"};
constexpr A kDtype[] = {"dtype"};
constexpr A kDtypeShape[] = {"dtype", "shape"};
constexpr A kConst[] = {"dtype", "value"};
constexpr A kVarHandle[] = {"container", "shared_name", "dtype", "shape"};
constexpr A kDtypes[] = {"dtypes"};
constexpr A kMatMul[] = {"T", "transpose_a", "transpose_b"};
constexpr A kBiasAdd[] = {"T", "data_format"};
constexpr A kCast[] = {"SrcT", "DstT", "Truncate"};
constexpr A kBitcast[] = {"T", "type"};
constexpr A kConcat[] = {"N", "T", "Tidx"};
constexpr A kReshape[] = {"T", "Tshape"};
constexpr A kExpandDims[] = {"T", "Tdim"};
constexpr A kSqueeze[] = {"T", "squeeze_dims"};
constexpr A kShape[] = {"T", "out_type"};
constexpr A kFill[] = {"T", "index_type"};
constexpr A kPack[] = {"N", "T", "axis"};
constexpr A kReduce[] = {"T", "Tidx", "keep_dims"};
constexpr A kGather[] = {"Tparams", "Tindices", "Taxis", "batch_dims"};
constexpr A kUnique[] = {"T", "out_idx"};
constexpr A kRange[] = {"Tidx"};
constexpr A kDynamicPartition[] = {"num_partitions", "T"};
constexpr A kDynamicStitch[] = {"N", "T"};
// Segment ids are int32, the default of the newer Tsegmentids attr, which is
// left out so that TensorFlow releases older than it still load the graph.
constexpr A kSegment[] = {"T", "Tidx"};
constexpr A kSegmentN[] = {"T", "Tidx", "Tnumsegments"};
constexpr A kHashTable[] = {"container", "shared_name", "use_node_name_sharing",
                            "key_dtype", "value_dtype", "value_shape"};
constexpr A kDenseHashTable[] = {"container",           "shared_name",    "use_node_name_sharing",
                                 "key_dtype",           "value_dtype",    "value_shape",
                                 "initial_num_buckets", "max_load_factor"};
constexpr A kTable[] = {"Tin", "Tout"};
constexpr A kTableExport[] = {"Tkeys", "Tvalues"};
constexpr A kRemotePredict[] = {"T",
                                "target_address",
                                "model_name",
                                "model_version",
                                "fail_op_on_rpc_error",
                                "max_rpc_deadline_millis",
                                "signature_name",
                                "output_types"};

template <size_t N>
constexpr std::span<const A> Attrs(const A (&attrs)[N]) {
  return attrs[0].empty() ? std::span<const A>() : std::span<const A>(attrs, N);
}

// Sorted by name (checked by a unit test), so FindOp can binary search.
constexpr OpInfo kOps[] = {
    {"AddV2", Attrs(kT), false},
    {"AssignVariableOp", Attrs(kDtype), true},
    {"BiasAdd", Attrs(kBiasAdd), false},
    {"Bitcast", Attrs(kBitcast), false},
    {"Cast", Attrs(kCast), false},
    {"ConcatV2", Attrs(kConcat), false},
    {"Const", Attrs(kConst), false},
    {"DynamicPartition", Attrs(kDynamicPartition), false},
    {"DynamicStitch", Attrs(kDynamicStitch), false},
    {"Exp", Attrs(kT), false},
    {"ExpandDims", Attrs(kExpandDims), false},
    {"Fill", Attrs(kFill), false},
    {"FloorMod", Attrs(kT), false},
    {"GatherV2", Attrs(kGather), false},
    {"Identity", Attrs(kT), false},
    {"Log", Attrs(kT), false},
    {"LookupTableExportV2", Attrs(kTableExport), true},
    {"LookupTableFindV2", Attrs(kTable), true},
    {"LookupTableImportV2", Attrs(kTable), true},
    {"LookupTableInsertV2", Attrs(kTable), true},
    {"LookupTableSizeV2", Attrs(kNone), true},
    {"MatMul", Attrs(kMatMul), false},
    {"Maximum", Attrs(kT), false},
    {"Mean", Attrs(kReduce), false},
    {"Mul", Attrs(kT), false},
    {"MutableDenseHashTableV2", Attrs(kDenseHashTable), true},
    {"MutableHashTableOfTensorsV2", Attrs(kHashTable), true},
    {"NoOp", Attrs(kNone), false},
    {"Pack", Attrs(kPack), false},
    {"Placeholder", Attrs(kDtypeShape), false},
    {"PlaceholderWithDefault", Attrs(kDtypeShape), false},
    {"Range", Attrs(kRange), false},
    {"ReadVariableOp", Attrs(kDtype), true},
    {"RealDiv", Attrs(kT), false},
    {"Relu", Attrs(kT), false},
    {"Reshape", Attrs(kReshape), false},
    {"RestoreV2", Attrs(kDtypes), true},
    {"Rsqrt", Attrs(kT), false},
    {"SaveV2", Attrs(kDtypes), true},
    {"Shape", Attrs(kShape), false},
    {"Sigmoid", Attrs(kT), false},
    {"Softmax", Attrs(kT), false},
    {"SparseSegmentMean", Attrs(kSegment), false},
    {"SparseSegmentMeanWithNumSegments", Attrs(kSegmentN), false},
    {"SparseSegmentSqrtN", Attrs(kSegment), false},
    {"SparseSegmentSqrtNWithNumSegments", Attrs(kSegmentN), false},
    {"SparseSegmentSum", Attrs(kSegment), false},
    {"SparseSegmentSumWithNumSegments", Attrs(kSegmentN), false},
    {"Sqrt", Attrs(kT), false},
    {"Square", Attrs(kT), false},
    {"Squeeze", Attrs(kSqueeze), false},
    {"Sub", Attrs(kT), false},
    {"Sum", Attrs(kReduce), false},
    {"Tanh", Attrs(kT), false},
    {"TfServingRemotePredict", Attrs(kRemotePredict), true},
    {"Unique", Attrs(kUnique), false},
    {"VarHandleOp", Attrs(kVarHandle), true},
};

// The attrs TensorFlow's op definitions give defaults, with those defaults
// in AttrValue text format (TfServingRemotePredict's from TensorFlow
// Serving's): TensorFlow 2 leaves such attrs out of the graphs it writes, and
// its loader fills them in, as FillDefaultAttrs does. Sorted by op and attr.
constexpr AttrDefault kDefaults[] = {
    {"AssignVariableOp", "validate_shape", "b: false"},
    {"BiasAdd", "data_format", "s: \"NHWC\""},
    {"Cast", "Truncate", "b: false"},
    {"ConcatV2", "Tidx", "type: DT_INT32"},
    {"ExpandDims", "Tdim", "type: DT_INT32"},
    {"Fill", "index_type", "type: DT_INT32"},
    {"GatherV2", "batch_dims", "i: 0"},
    {"MatMul", "grad_a", "b: false"},
    {"MatMul", "grad_b", "b: false"},
    {"MatMul", "transpose_a", "b: false"},
    {"MatMul", "transpose_b", "b: false"},
    {"Mean", "Tidx", "type: DT_INT32"},
    {"Mean", "keep_dims", "b: false"},
    {"MutableDenseHashTableV2", "container", "s: \"\""},
    {"MutableDenseHashTableV2", "initial_num_buckets", "i: 131072"},
    {"MutableDenseHashTableV2", "max_load_factor", "f: 0.8"},
    {"MutableDenseHashTableV2", "shared_name", "s: \"\""},
    {"MutableDenseHashTableV2", "use_node_name_sharing", "b: false"},
    {"MutableDenseHashTableV2", "value_shape", "shape { }"},
    {"MutableHashTableOfTensorsV2", "container", "s: \"\""},
    {"MutableHashTableOfTensorsV2", "shared_name", "s: \"\""},
    {"MutableHashTableOfTensorsV2", "use_node_name_sharing", "b: false"},
    {"MutableHashTableOfTensorsV2", "value_shape", "shape { }"},
    {"Pack", "axis", "i: 0"},
    {"Placeholder", "shape", "shape { unknown_rank: true }"},
    {"Range", "Tidx", "type: DT_INT32"},
    {"Reshape", "Tshape", "type: DT_INT32"},
    {"Shape", "out_type", "type: DT_INT32"},
    {"SparseSegmentMean", "Tidx", "type: DT_INT32"},
    {"SparseSegmentMean", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentMean", "sparse_gradient", "b: false"},
    {"SparseSegmentMeanWithNumSegments", "Tidx", "type: DT_INT32"},
    {"SparseSegmentMeanWithNumSegments", "Tnumsegments", "type: DT_INT32"},
    {"SparseSegmentMeanWithNumSegments", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentMeanWithNumSegments", "sparse_gradient", "b: false"},
    {"SparseSegmentSqrtN", "Tidx", "type: DT_INT32"},
    {"SparseSegmentSqrtN", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentSqrtN", "sparse_gradient", "b: false"},
    {"SparseSegmentSqrtNWithNumSegments", "Tidx", "type: DT_INT32"},
    {"SparseSegmentSqrtNWithNumSegments", "Tnumsegments", "type: DT_INT32"},
    {"SparseSegmentSqrtNWithNumSegments", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentSqrtNWithNumSegments", "sparse_gradient", "b: false"},
    {"SparseSegmentSum", "Tidx", "type: DT_INT32"},
    {"SparseSegmentSum", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentSum", "sparse_gradient", "b: false"},
    {"SparseSegmentSumWithNumSegments", "Tidx", "type: DT_INT32"},
    {"SparseSegmentSumWithNumSegments", "Tnumsegments", "type: DT_INT32"},
    {"SparseSegmentSumWithNumSegments", "Tsegmentids", "type: DT_INT32"},
    {"SparseSegmentSumWithNumSegments", "sparse_gradient", "b: false"},
    {"Squeeze", "squeeze_dims", "list { }"},
    {"Sum", "Tidx", "type: DT_INT32"},
    {"Sum", "keep_dims", "b: false"},
    {"TfServingRemotePredict", "fail_op_on_rpc_error", "b: true"},
    {"TfServingRemotePredict", "max_rpc_deadline_millis", "i: 30000"},
    {"TfServingRemotePredict", "model_name", "s: \"\""},
    {"TfServingRemotePredict", "model_version", "i: -1"},
    {"TfServingRemotePredict", "signature_name", "s: \"serving_default\""},
    {"TfServingRemotePredict", "target_address", "s: \"\""},
    {"Unique", "out_idx", "type: DT_INT32"},
    {"VarHandleOp", "allowed_devices", "list { }"},
    {"VarHandleOp", "container", "s: \"\""},
    {"VarHandleOp", "debug_name", "s: \"\""},
    {"VarHandleOp", "shared_name", "s: \"\""},
};

// kDefaults' values, parsed once.
const std::map<std::pair<std::string, std::string>, tensorflow::AttrValue>& ParsedDefaults() {
  static const auto* parsed = [] {
    auto* values = new std::map<std::pair<std::string, std::string>, tensorflow::AttrValue>;
    for (const AttrDefault& d : kDefaults) {
      tensorflow::AttrValue value;
      // The table is constant; a unit test parses every entry.
      google::protobuf::TextFormat::ParseFromString(std::string(d.value), &value);
      (*values)[{std::string(d.op), std::string(d.attr)}] = value;
    }
    return values;
  }();
  return *parsed;
}

}  // namespace

const OpInfo* FindOp(absl::string_view op) {
  auto it =
      std::lower_bound(std::begin(kOps), std::end(kOps), op,
                       [](const OpInfo& info, absl::string_view name) { return info.name < name; });
  return (it != std::end(kOps) && it->name == op) ? &*it : nullptr;
}

std::span<const OpInfo> SupportedOps() { return kOps; }

std::span<const AttrDefault> DefaultAttrs() { return kDefaults; }

void FillDefaultAttrs(tensorflow::GraphDef& graph) {
  const auto& defaults = ParsedDefaults();
  for (tensorflow::NodeDef& node : *graph.mutable_node()) {
    for (auto it = defaults.lower_bound({node.op(), ""});
         it != defaults.end() && it->first.first == node.op(); ++it) {
      node.mutable_attr()->try_emplace(it->first.second, it->second);
    }
  }
}

absl::Status ValidateNode(const tensorflow::NodeDef& node) {
  const OpInfo* info = FindOp(node.op());
  if (info == nullptr) {
    std::string message = absl::StrCat("node '", node.name(), "': op ", node.op(),
                                       " is not in recship's supported op set");
    // A call of one of the graph's functions (TensorFlow 2's
    // StatefulPartitionedCall, PartitionedCall): name the function too.
    auto f = node.attr().find("f");
    if (f != node.attr().end() && f->second.has_func()) {
      absl::StrAppend(&message, "; it calls function '", f->second.func().name(),
                      "', and recship's runtime runs no function calls (save the model as a "
                      "TensorFlow 1 graph of supported ops)");
    }
    return absl::UnimplementedError(message);
  }
  for (absl::string_view attr : info->attrs) {
    if (!node.attr().contains(std::string(attr))) {
      return absl::InvalidArgumentError(absl::StrCat("node '", node.name(), "' (", node.op(),
                                                     ") lacks its required attr '", attr, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace recship
