// Constructors for the ops of the op table. Each builds one NodeDef with
// TensorFlow's op name and every attr TensorFlow requires, checks its input
// dtypes (a mismatch is an error naming the node), and returns outputs with
// their static shapes. Names follow TensorFlow: the op name inside the scope,
// made unique with _1, _2, ...
#ifndef RECSHIP_GRAPH_OPS_H_
#define RECSHIP_GRAPH_OPS_H_

#include <span>
#include <string>
#include <vector>

#include "recship/format/tensor.h"
#include "recship/graph/graph.h"

namespace recship::ops {

// --- Inputs, constants and plumbing.
Output Placeholder(const Scope& s, DataType dtype, const PartialShape& shape,
                   absl::string_view name);
Output PlaceholderWithDefault(const Scope& s, const Output& input, const PartialShape& shape,
                              absl::string_view name);
Output Const(const Scope& s, const Tensor& value, absl::string_view name = "Const");
Output ScalarConst(const Scope& s, float value, absl::string_view name = "Const");
Output ScalarConst(const Scope& s, int32_t value, absl::string_view name = "Const");
Output ScalarConst(const Scope& s, int64_t value, absl::string_view name = "Const");
Output StringConst(const Scope& s, const std::vector<std::string>& values, bool scalar,
                   absl::string_view name = "Const");
Output Identity(const Scope& s, const Output& input, absl::string_view name = "Identity");
// Returns the node name ("" on error).
std::string NoOp(const Scope& s, absl::string_view name = "NoOp");

// --- Resource variables.
Output VarHandleOp(const Scope& s, DataType dtype, const PartialShape& shape,
                   absl::string_view shared_name, absl::string_view name = "VarHandleOp");
Output ReadVariableOp(const Scope& s, const Output& handle, DataType dtype,
                      const PartialShape& shape, absl::string_view name = "Read/ReadVariableOp");
std::string AssignVariableOp(const Scope& s, const Output& handle, const Output& value,
                             absl::string_view name = "AssignVariableOp");

// --- Checkpoint ops.
std::vector<Output> RestoreV2(const Scope& s, const Output& prefix, const Output& tensor_names,
                              const Output& shape_and_slices, std::span<const DataType> dtypes,
                              absl::string_view name = "RestoreV2");
std::string SaveV2(const Scope& s, const Output& prefix, const Output& tensor_names,
                   const Output& shape_and_slices, std::span<const Output> tensors,
                   absl::string_view name = "SaveV2");

// --- Math.
Output MatMul(const Scope& s, const Output& a, const Output& b, bool transpose_a = false,
              bool transpose_b = false);
Output BiasAdd(const Scope& s, const Output& value, const Output& bias);
Output AddV2(const Scope& s, const Output& x, const Output& y);
Output Sub(const Scope& s, const Output& x, const Output& y);
Output Mul(const Scope& s, const Output& x, const Output& y);
Output RealDiv(const Scope& s, const Output& x, const Output& y);
Output Maximum(const Scope& s, const Output& x, const Output& y);
Output FloorMod(const Scope& s, const Output& x, const Output& y);
// Unary element-wise ops: Relu, Sigmoid, Tanh, Softmax, Square, Sqrt, Rsqrt,
// Exp, Log.
Output Unary(const Scope& s, absl::string_view op, const Output& x);
Output Cast(const Scope& s, const Output& x, DataType to);
// The bytes of x as `to`: a wider x gains a last dimension (sizeof(x) /
// sizeof(to) elements); a narrower one is not supported.
Output Bitcast(const Scope& s, const Output& x, DataType to);
Output Sum(const Scope& s, const Output& input, const Output& axis, bool keep_dims = false);
Output Mean(const Scope& s, const Output& input, const Output& axis, bool keep_dims = false);

// --- Shapes and layout.
Output ConcatV2(const Scope& s, std::span<const Output> values, const Output& axis);
Output Reshape(const Scope& s, const Output& tensor, const Output& shape);
Output ExpandDims(const Scope& s, const Output& input, const Output& axis);
Output Squeeze(const Scope& s, const Output& input, std::span<const int64_t> dims);
Output Shape(const Scope& s, const Output& input, DataType out_type = tensorflow::DT_INT32);
Output Fill(const Scope& s, const Output& dims, const Output& value);
Output Pack(const Scope& s, std::span<const Output> values, int64_t axis = 0);
Output GatherV2(const Scope& s, const Output& params, const Output& indices, const Output& axis);
// [start, start + delta, ...) below limit; scalars of one index type.
Output Range(const Scope& s, const Output& start, const Output& limit, const Output& delta);

// --- Sparse features.
// Unique: {y, idx}.
std::vector<Output> Unique(const Scope& s, const Output& x,
                           DataType out_idx = tensorflow::DT_INT32);
std::vector<Output> DynamicPartition(const Scope& s, const Output& data, const Output& partitions,
                                     int num_partitions);
Output DynamicStitch(const Scope& s, std::span<const Output> indices, std::span<const Output> data);
// op is SparseSegmentSum, SparseSegmentMean or SparseSegmentSqrtN; with a
// valid num_segments the ...WithNumSegments variant is built.
Output SparseSegmentReduce(const Scope& s, absl::string_view op, const Output& data,
                           const Output& indices, const Output& segment_ids,
                           const Output& num_segments = {});

// --- Hash tables (int64 keys to float vectors).
Output MutableHashTableOfTensors(const Scope& s, DataType key_dtype, DataType value_dtype,
                                 const PartialShape& value_shape, absl::string_view shared_name,
                                 absl::string_view name = "MutableHashTable");
std::string LookupTableImport(const Scope& s, const Output& table, const Output& keys,
                              const Output& values);
std::string LookupTableInsert(const Scope& s, const Output& table, const Output& keys,
                              const Output& values);
Output LookupTableFind(const Scope& s, const Output& table, const Output& keys,
                       const Output& default_value);
Output LookupTableSize(const Scope& s, const Output& table);
// Every key and its row: {keys [n], values [n, dim...]}.
std::vector<Output> LookupTableExport(const Scope& s, const Output& table, DataType key_dtype,
                                      DataType value_dtype);

// --- Remote calls (TensorFlow Serving's remote-predict op).
struct RemotePredictCall {
  std::string model_name;  // "<model>:ps_<i>"
  std::string signature_name = "serving_default";
  int64_t model_version = -1;  // -1: whatever the server serves.
  int64_t max_rpc_deadline_millis = 30000;
  std::vector<std::string> input_aliases;
  std::vector<Output> inputs;
  std::vector<std::string> output_aliases;
  std::vector<Output> outputs;  // Only dtype and shape: what the call returns.
};
// A TfServingRemotePredict node; returns {status_code, status_error_message,
// output_0, output_1, ...}.
std::vector<Output> TfServingRemotePredict(const Scope& s, const RemotePredictCall& call,
                                           absl::string_view name = "TfServingRemotePredict");

}  // namespace recship::ops

#endif  // RECSHIP_GRAPH_OPS_H_
