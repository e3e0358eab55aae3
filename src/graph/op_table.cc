#include "recship/graph/op_table.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"

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

}  // namespace

const OpInfo* FindOp(absl::string_view op) {
  auto it =
      std::lower_bound(std::begin(kOps), std::end(kOps), op,
                       [](const OpInfo& info, absl::string_view name) { return info.name < name; });
  return (it != std::end(kOps) && it->name == op) ? &*it : nullptr;
}

std::span<const OpInfo> SupportedOps() { return kOps; }

absl::Status ValidateNode(const tensorflow::NodeDef& node) {
  const OpInfo* info = FindOp(node.op());
  if (info == nullptr) {
    return absl::UnimplementedError(absl::StrCat("node '", node.name(), "': op ", node.op(),
                                                 " is not in recship's supported op set"));
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
