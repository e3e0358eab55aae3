#include "recship/graph/ops.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "recship/format/tensor_proto.h"

namespace recship::ops {
namespace {

using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_RESOURCE;
using tensorflow::DT_STRING;

Output Out(const std::string& node, int index, DataType dtype, PartialShape shape) {
  if (node.empty()) return Output{};
  return Output{node, index, dtype, std::move(shape)};
}

// Records an error unless every input is valid and `x` has one of `allowed`.
bool Check(const Scope& s, absl::string_view op, const Output& x,
           std::initializer_list<DataType> allowed) {
  if (!x.valid() || !s.ok()) return false;
  if (allowed.size() == 0 || std::find(allowed.begin(), allowed.end(), x.dtype) != allowed.end()) {
    return true;
  }
  s.UpdateStatus(absl::InvalidArgumentError(
      absl::StrCat(s.prefix().empty() ? "" : absl::StrCat(s.prefix(), "/"), op, ": input ", x.node,
                   " has dtype ", DataTypeName(x.dtype), ", which ", op, " does not accept")));
  return false;
}

bool CheckSame(const Scope& s, absl::string_view op, const Output& x, const Output& y) {
  if (!x.valid() || !y.valid() || !s.ok()) return false;
  if (x.dtype == y.dtype) return true;
  s.UpdateStatus(absl::InvalidArgumentError(
      absl::StrCat(s.prefix().empty() ? "" : absl::StrCat(s.prefix(), "/"), op, ": inputs ", x.node,
                   " (", DataTypeName(x.dtype), ") and ", y.node, " (", DataTypeName(y.dtype),
                   ") must have the same dtype")));
  return false;
}

constexpr std::initializer_list<DataType> kFloats = {DT_FLOAT, tensorflow::DT_DOUBLE,
                                                     tensorflow::DT_HALF};
constexpr std::initializer_list<DataType> kNumbers = {DT_FLOAT, tensorflow::DT_DOUBLE,
                                                      tensorflow::DT_HALF, DT_INT32, DT_INT64};
constexpr std::initializer_list<DataType> kIndices = {DT_INT32, DT_INT64};

// NumPy broadcasting of two static shapes.
PartialShape Broadcast(const PartialShape& a, const PartialShape& b) {
  if (a.unknown_rank || b.unknown_rank) return PartialShape::Unknown();
  size_t rank = std::max(a.dims.size(), b.dims.size());
  PartialShape out = PartialShape::Of(std::vector<int64_t>(rank, -1));
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.dims.size() ? 1 : a.dims[i - (rank - a.dims.size())];
    int64_t db = i < rank - b.dims.size() ? 1 : b.dims[i - (rank - b.dims.size())];
    out.dims[i] = da == 1 ? db : (db == 1 ? da : (da == db ? da : -1));
  }
  return out;
}

Output Binary(const Scope& s, absl::string_view op, const Output& x, const Output& y) {
  if (!CheckSame(s, op, x, y) || !Check(s, op, x, kNumbers)) return Output{};
  std::string node = NodeBuilder(s, op).Input(x).Input(y).Attr("T", x.dtype).Finalize();
  return Out(node, 0, x.dtype, Broadcast(x.shape, y.shape));
}

Output Reduce(const Scope& s, absl::string_view op, const Output& input, const Output& axis,
              bool keep_dims) {
  if (!Check(s, op, input, kNumbers) || !Check(s, op, axis, kIndices)) return Output{};
  std::string node = NodeBuilder(s, op)
                         .Input(input)
                         .Input(axis)
                         .Attr("T", input.dtype)
                         .Attr("Tidx", axis.dtype)
                         .Attr("keep_dims", keep_dims)
                         .Finalize();
  return Out(node, 0, input.dtype, PartialShape::Unknown());
}

}  // namespace

Output Placeholder(const Scope& s, DataType dtype, const PartialShape& shape,
                   absl::string_view name) {
  std::string node =
      NodeBuilder(s, "Placeholder", name).Attr("dtype", dtype).Attr("shape", shape).Finalize();
  return Out(node, 0, dtype, shape);
}

Output PlaceholderWithDefault(const Scope& s, const Output& input, const PartialShape& shape,
                              absl::string_view name) {
  if (!Check(s, "PlaceholderWithDefault", input, {})) return Output{};
  std::string node = NodeBuilder(s, "PlaceholderWithDefault", name)
                         .Input(input)
                         .Attr("dtype", input.dtype)
                         .Attr("shape", shape)
                         .Finalize();
  return Out(node, 0, input.dtype, shape);
}

Output Const(const Scope& s, const Tensor& value, absl::string_view name) {
  std::string node = NodeBuilder(s, "Const", name)
                         .Attr("dtype", value.dtype())
                         .Attr("value", TensorToProto(value))
                         .Finalize();
  return Out(node, 0, value.dtype(), PartialShape::Of(value.shape()));
}

Output ScalarConst(const Scope& s, float value, absl::string_view name) {
  return Const(s, Tensor::FromVector<float>({}, {value}), name);
}
Output ScalarConst(const Scope& s, int32_t value, absl::string_view name) {
  return Const(s, Tensor::FromVector<int32_t>({}, {value}), name);
}
Output ScalarConst(const Scope& s, int64_t value, absl::string_view name) {
  return Const(s, Tensor::FromVector<int64_t>({}, {value}), name);
}

Output StringConst(const Scope& s, const std::vector<std::string>& values, bool scalar,
                   absl::string_view name) {
  TensorShape shape = scalar ? TensorShape{} : TensorShape{static_cast<int64_t>(values.size())};
  return Const(s, Tensor::FromStrings(shape, values), name);
}

Output Identity(const Scope& s, const Output& input, absl::string_view name) {
  if (!Check(s, "Identity", input, {})) return Output{};
  std::string node =
      NodeBuilder(s, "Identity", name).Input(input).Attr("T", input.dtype).Finalize();
  return Out(node, 0, input.dtype, input.shape);
}

std::string NoOp(const Scope& s, absl::string_view name) {
  return NodeBuilder(s, "NoOp", name).Finalize();
}

Output VarHandleOp(const Scope& s, DataType dtype, const PartialShape& shape,
                   absl::string_view shared_name, absl::string_view name) {
  std::string node = NodeBuilder(s, "VarHandleOp", name)
                         .Attr("container", "")
                         .Attr("shared_name", shared_name)
                         .Attr("dtype", dtype)
                         .Attr("shape", shape)
                         .Finalize();
  // The handle's own shape is a scalar; the variable's shape rides along so
  // that ReadVariableOp can report it.
  return Out(node, 0, DT_RESOURCE, shape);
}

Output ReadVariableOp(const Scope& s, const Output& handle, DataType dtype,
                      const PartialShape& shape, absl::string_view name) {
  if (!Check(s, "ReadVariableOp", handle, {DT_RESOURCE})) return Output{};
  std::string node =
      NodeBuilder(s, "ReadVariableOp", name).Input(handle).Attr("dtype", dtype).Finalize();
  return Out(node, 0, dtype, shape);
}

std::string AssignVariableOp(const Scope& s, const Output& handle, const Output& value,
                             absl::string_view name) {
  if (!Check(s, "AssignVariableOp", handle, {DT_RESOURCE}) ||
      !Check(s, "AssignVariableOp", value, {})) {
    return "";
  }
  return NodeBuilder(s, "AssignVariableOp", name)
      .Input(handle)
      .Input(value)
      .Attr("dtype", value.dtype)
      .Finalize();
}

std::vector<Output> RestoreV2(const Scope& s, const Output& prefix, const Output& tensor_names,
                              const Output& shape_and_slices, std::span<const DataType> dtypes,
                              absl::string_view name) {
  if (!Check(s, "RestoreV2", prefix, {DT_STRING}) ||
      !Check(s, "RestoreV2", tensor_names, {DT_STRING}) ||
      !Check(s, "RestoreV2", shape_and_slices, {DT_STRING})) {
    return {};
  }
  std::string node = NodeBuilder(s, "RestoreV2", name)
                         .Input(prefix)
                         .Input(tensor_names)
                         .Input(shape_and_slices)
                         .Attr("dtypes", dtypes)
                         .Finalize();
  std::vector<Output> outputs;
  if (node.empty()) return outputs;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    outputs.push_back(Out(node, static_cast<int>(i), dtypes[i], PartialShape::Unknown()));
  }
  return outputs;
}

std::string SaveV2(const Scope& s, const Output& prefix, const Output& tensor_names,
                   const Output& shape_and_slices, std::span<const Output> tensors,
                   absl::string_view name) {
  std::vector<DataType> dtypes;
  for (const Output& t : tensors) dtypes.push_back(t.dtype);
  if (!Check(s, "SaveV2", prefix, {DT_STRING})) return "";
  return NodeBuilder(s, "SaveV2", name)
      .Input(prefix)
      .Input(tensor_names)
      .Input(shape_and_slices)
      .Inputs(tensors)
      .Attr("dtypes", std::span<const DataType>(dtypes))
      .Finalize();
}

Output MatMul(const Scope& s, const Output& a, const Output& b, bool transpose_a,
              bool transpose_b) {
  if (!CheckSame(s, "MatMul", a, b) || !Check(s, "MatMul", a, kFloats)) return Output{};
  if (a.shape.rank() >= 0 && b.shape.rank() >= 0 && (a.shape.rank() != 2 || b.shape.rank() != 2)) {
    s.UpdateStatus(absl::InvalidArgumentError(
        absl::StrCat("MatMul of ", a.node, " ", a.shape.ToString(), " and ", b.node, " ",
                     b.shape.ToString(), ": both must be matrices")));
    return Output{};
  }
  int64_t inner_a = a.shape.dim(transpose_a ? 0 : 1), inner_b = b.shape.dim(transpose_b ? 1 : 0);
  if (inner_a >= 0 && inner_b >= 0 && inner_a != inner_b) {
    s.UpdateStatus(absl::InvalidArgumentError(
        absl::StrCat("MatMul of ", a.node, " ", a.shape.ToString(), " and ", b.node, " ",
                     b.shape.ToString(), ": inner dimensions differ")));
    return Output{};
  }
  std::string node = NodeBuilder(s, "MatMul")
                         .Input(a)
                         .Input(b)
                         .Attr("T", a.dtype)
                         .Attr("transpose_a", transpose_a)
                         .Attr("transpose_b", transpose_b)
                         .Finalize();
  return Out(
      node, 0, a.dtype,
      PartialShape::Of({a.shape.dim(transpose_a ? 1 : 0), b.shape.dim(transpose_b ? 0 : 1)}));
}

Output BiasAdd(const Scope& s, const Output& value, const Output& bias) {
  if (!CheckSame(s, "BiasAdd", value, bias) || !Check(s, "BiasAdd", value, kNumbers)) {
    return Output{};
  }
  std::string node = NodeBuilder(s, "BiasAdd")
                         .Input(value)
                         .Input(bias)
                         .Attr("T", value.dtype)
                         .Attr("data_format", "NHWC")
                         .Finalize();
  return Out(node, 0, value.dtype, value.shape);
}

Output AddV2(const Scope& s, const Output& x, const Output& y) { return Binary(s, "AddV2", x, y); }
Output Sub(const Scope& s, const Output& x, const Output& y) { return Binary(s, "Sub", x, y); }
Output Mul(const Scope& s, const Output& x, const Output& y) { return Binary(s, "Mul", x, y); }
Output RealDiv(const Scope& s, const Output& x, const Output& y) {
  return Binary(s, "RealDiv", x, y);
}
Output Maximum(const Scope& s, const Output& x, const Output& y) {
  return Binary(s, "Maximum", x, y);
}
Output FloorMod(const Scope& s, const Output& x, const Output& y) {
  return Binary(s, "FloorMod", x, y);
}

Output Unary(const Scope& s, absl::string_view op, const Output& x) {
  static constexpr absl::string_view kUnary[] = {"Relu", "Sigmoid", "Tanh", "Softmax", "Square",
                                                 "Sqrt", "Rsqrt",   "Exp",  "Log"};
  if (std::find(std::begin(kUnary), std::end(kUnary), op) == std::end(kUnary)) {
    s.UpdateStatus(absl::InvalidArgumentError(absl::StrCat(op, " is not a unary op")));
    return Output{};
  }
  if (!Check(s, op, x, op == "Relu" || op == "Square" ? kNumbers : kFloats)) return Output{};
  std::string node = NodeBuilder(s, op).Input(x).Attr("T", x.dtype).Finalize();
  return Out(node, 0, x.dtype, x.shape);
}

Output Cast(const Scope& s, const Output& x, DataType to) {
  if (!Check(s, "Cast", x, {})) return Output{};
  std::string node = NodeBuilder(s, "Cast")
                         .Input(x)
                         .Attr("SrcT", x.dtype)
                         .Attr("DstT", to)
                         .Attr("Truncate", false)
                         .Finalize();
  return Out(node, 0, to, x.shape);
}

Output Bitcast(const Scope& s, const Output& x, DataType to) {
  if (!Check(s, "Bitcast", x, {})) return Output{};
  const size_t from_size = DataTypeSize(x.dtype), to_size = DataTypeSize(to);
  if (from_size == 0 || to_size == 0 || from_size < to_size) {
    s.UpdateStatus(absl::InvalidArgumentError(
        absl::StrCat("Bitcast of ", x.node, ": ", DataTypeName(x.dtype), " to ", DataTypeName(to),
                     " is not supported (only to a type as wide or narrower)")));
    return Output{};
  }
  std::string node =
      NodeBuilder(s, "Bitcast").Input(x).Attr("T", x.dtype).Attr("type", to).Finalize();
  PartialShape shape = x.shape;
  if (from_size > to_size && shape.rank() >= 0) {
    shape.dims.push_back(static_cast<int64_t>(from_size / to_size));
  }
  return Out(node, 0, to, shape);
}

Output Sum(const Scope& s, const Output& input, const Output& axis, bool keep_dims) {
  return Reduce(s, "Sum", input, axis, keep_dims);
}
Output Mean(const Scope& s, const Output& input, const Output& axis, bool keep_dims) {
  return Reduce(s, "Mean", input, axis, keep_dims);
}

Output ConcatV2(const Scope& s, std::span<const Output> values, const Output& axis) {
  if (values.empty()) {
    s.UpdateStatus(absl::InvalidArgumentError("ConcatV2 needs at least one input"));
    return Output{};
  }
  for (const Output& v : values) {
    if (!CheckSame(s, "ConcatV2", values[0], v)) return Output{};
  }
  if (!Check(s, "ConcatV2", axis, kIndices)) return Output{};
  std::string node = NodeBuilder(s, "ConcatV2")
                         .Inputs(values)
                         .Input(axis)
                         .Attr("N", static_cast<int64_t>(values.size()))
                         .Attr("T", values[0].dtype)
                         .Attr("Tidx", axis.dtype)
                         .Finalize();
  // Static shape: concatenation along the last axis of same-rank inputs, the
  // only form recship's layers use; anything else is left unknown.
  PartialShape shape = PartialShape::Unknown();
  if (values[0].shape.rank() >= 1) {
    shape = values[0].shape;
    int last = shape.rank() - 1;
    for (size_t i = 1; i < values.size(); ++i) {
      int64_t d = values[i].shape.dim(last);
      shape.dims[static_cast<size_t>(last)] = (d < 0 || shape.dims[static_cast<size_t>(last)] < 0)
                                                  ? -1
                                                  : shape.dims[static_cast<size_t>(last)] + d;
    }
  }
  return Out(node, 0, values[0].dtype, shape);
}

Output Reshape(const Scope& s, const Output& tensor, const Output& shape) {
  if (!Check(s, "Reshape", tensor, {}) || !Check(s, "Reshape", shape, kIndices)) return Output{};
  std::string node = NodeBuilder(s, "Reshape")
                         .Input(tensor)
                         .Input(shape)
                         .Attr("T", tensor.dtype)
                         .Attr("Tshape", shape.dtype)
                         .Finalize();
  return Out(node, 0, tensor.dtype, PartialShape::Unknown());
}

Output ExpandDims(const Scope& s, const Output& input, const Output& axis) {
  if (!Check(s, "ExpandDims", input, {}) || !Check(s, "ExpandDims", axis, kIndices)) {
    return Output{};
  }
  std::string node = NodeBuilder(s, "ExpandDims")
                         .Input(input)
                         .Input(axis)
                         .Attr("T", input.dtype)
                         .Attr("Tdim", axis.dtype)
                         .Finalize();
  return Out(node, 0, input.dtype, PartialShape::Unknown());
}

Output Squeeze(const Scope& s, const Output& input, std::span<const int64_t> dims) {
  if (!Check(s, "Squeeze", input, {})) return Output{};
  std::string node = NodeBuilder(s, "Squeeze")
                         .Input(input)
                         .Attr("T", input.dtype)
                         .Attr("squeeze_dims", dims)
                         .Finalize();
  PartialShape shape = PartialShape::Unknown();
  if (input.shape.rank() >= 0 && !dims.empty()) {
    shape = PartialShape::Of({});
    for (int i = 0; i < input.shape.rank(); ++i) {
      bool squeezed = std::find(dims.begin(), dims.end(), i) != dims.end() ||
                      std::find(dims.begin(), dims.end(), i - input.shape.rank()) != dims.end();
      if (!squeezed) shape.dims.push_back(input.shape.dim(i));
    }
  }
  return Out(node, 0, input.dtype, shape);
}

Output Shape(const Scope& s, const Output& input, DataType out_type) {
  if (!Check(s, "Shape", input, {})) return Output{};
  std::string node = NodeBuilder(s, "Shape")
                         .Input(input)
                         .Attr("T", input.dtype)
                         .Attr("out_type", out_type)
                         .Finalize();
  return Out(node, 0, out_type, PartialShape::Of({input.shape.rank()}));
}

Output Fill(const Scope& s, const Output& dims, const Output& value) {
  if (!Check(s, "Fill", dims, kIndices) || !Check(s, "Fill", value, {})) return Output{};
  std::string node = NodeBuilder(s, "Fill")
                         .Input(dims)
                         .Input(value)
                         .Attr("T", value.dtype)
                         .Attr("index_type", dims.dtype)
                         .Finalize();
  return Out(node, 0, value.dtype, PartialShape::Unknown());
}

Output Pack(const Scope& s, std::span<const Output> values, int64_t axis) {
  if (values.empty()) {
    s.UpdateStatus(absl::InvalidArgumentError("Pack needs at least one input"));
    return Output{};
  }
  for (const Output& v : values) {
    if (!CheckSame(s, "Pack", values[0], v)) return Output{};
  }
  std::string node = NodeBuilder(s, "Pack")
                         .Inputs(values)
                         .Attr("N", static_cast<int64_t>(values.size()))
                         .Attr("T", values[0].dtype)
                         .Attr("axis", axis)
                         .Finalize();
  PartialShape shape = PartialShape::Unknown();
  if (axis == 0 && values[0].shape.rank() >= 0) {
    shape = values[0].shape;
    shape.dims.insert(shape.dims.begin(), static_cast<int64_t>(values.size()));
  }
  return Out(node, 0, values[0].dtype, shape);
}

Output GatherV2(const Scope& s, const Output& params, const Output& indices, const Output& axis) {
  if (!Check(s, "GatherV2", params, {}) || !Check(s, "GatherV2", indices, kIndices) ||
      !Check(s, "GatherV2", axis, kIndices)) {
    return Output{};
  }
  std::string node = NodeBuilder(s, "GatherV2")
                         .Input(params)
                         .Input(indices)
                         .Input(axis)
                         .Attr("Tparams", params.dtype)
                         .Attr("Tindices", indices.dtype)
                         .Attr("Taxis", axis.dtype)
                         .Attr("batch_dims", int64_t{0})
                         .Finalize();
  return Out(node, 0, params.dtype, PartialShape::Unknown());
}

Output Range(const Scope& s, const Output& start, const Output& limit, const Output& delta) {
  if (!Check(s, "Range", start, kIndices) || !CheckSame(s, "Range", start, limit) ||
      !CheckSame(s, "Range", start, delta)) {
    return Output{};
  }
  std::string node = NodeBuilder(s, "Range")
                         .Input(start)
                         .Input(limit)
                         .Input(delta)
                         .Attr("Tidx", start.dtype)
                         .Finalize();
  return Out(node, 0, start.dtype, PartialShape::Of({-1}));
}

std::vector<Output> Unique(const Scope& s, const Output& x, DataType out_idx) {
  if (!Check(s, "Unique", x, {})) return {};
  std::string node =
      NodeBuilder(s, "Unique").Input(x).Attr("T", x.dtype).Attr("out_idx", out_idx).Finalize();
  if (node.empty()) return {};
  return {Out(node, 0, x.dtype, PartialShape::Of({-1})), Out(node, 1, out_idx, x.shape)};
}

std::vector<Output> DynamicPartition(const Scope& s, const Output& data, const Output& partitions,
                                     int num_partitions) {
  if (!Check(s, "DynamicPartition", data, {}) ||
      !Check(s, "DynamicPartition", partitions, {DT_INT32})) {
    return {};
  }
  std::string node = NodeBuilder(s, "DynamicPartition")
                         .Input(data)
                         .Input(partitions)
                         .Attr("num_partitions", int64_t{num_partitions})
                         .Attr("T", data.dtype)
                         .Finalize();
  std::vector<Output> outputs;
  if (node.empty()) return outputs;
  for (int i = 0; i < num_partitions; ++i) {
    outputs.push_back(Out(node, i, data.dtype, PartialShape::Unknown()));
  }
  return outputs;
}

Output DynamicStitch(const Scope& s, std::span<const Output> indices,
                     std::span<const Output> data) {
  if (indices.empty() || indices.size() != data.size()) {
    s.UpdateStatus(absl::InvalidArgumentError("DynamicStitch needs as many indices as data"));
    return Output{};
  }
  for (size_t i = 0; i < data.size(); ++i) {
    if (!Check(s, "DynamicStitch", indices[i], {DT_INT32}) ||
        !CheckSame(s, "DynamicStitch", data[0], data[i])) {
      return Output{};
    }
  }
  std::string node = NodeBuilder(s, "DynamicStitch")
                         .Inputs(indices)
                         .Inputs(data)
                         .Attr("N", static_cast<int64_t>(data.size()))
                         .Attr("T", data[0].dtype)
                         .Finalize();
  return Out(node, 0, data[0].dtype, PartialShape::Unknown());
}

Output SparseSegmentReduce(const Scope& s, absl::string_view op, const Output& data,
                           const Output& indices, const Output& segment_ids,
                           const Output& num_segments) {
  if (op != "SparseSegmentSum" && op != "SparseSegmentMean" && op != "SparseSegmentSqrtN") {
    s.UpdateStatus(absl::InvalidArgumentError(absl::StrCat(op, " is not a sparse segment op")));
    return Output{};
  }
  if (!Check(s, op, data, kFloats) || !Check(s, op, indices, kIndices) ||
      !Check(s, op, segment_ids, {DT_INT32})) {
    return Output{};
  }
  bool with_n = num_segments.valid();
  if (with_n && !Check(s, op, num_segments, kIndices)) return Output{};
  NodeBuilder builder(s, with_n ? absl::StrCat(op, "WithNumSegments") : std::string(op));
  builder.Input(data).Input(indices).Input(segment_ids);
  if (with_n) builder.Input(num_segments).Attr("Tnumsegments", num_segments.dtype);
  std::string node = builder.Attr("T", data.dtype).Attr("Tidx", indices.dtype).Finalize();
  PartialShape shape = PartialShape::Unknown();
  if (data.shape.rank() == 2) shape = PartialShape::Of({-1, data.shape.dim(1)});
  return Out(node, 0, data.dtype, shape);
}

Output MutableHashTableOfTensors(const Scope& s, DataType key_dtype, DataType value_dtype,
                                 const PartialShape& value_shape, absl::string_view shared_name,
                                 absl::string_view name) {
  std::string node = NodeBuilder(s, "MutableHashTableOfTensorsV2", name)
                         .Attr("container", "")
                         .Attr("shared_name", shared_name)
                         .Attr("use_node_name_sharing", false)
                         .Attr("key_dtype", key_dtype)
                         .Attr("value_dtype", value_dtype)
                         .Attr("value_shape", value_shape)
                         .Finalize();
  return Out(node, 0, DT_RESOURCE, value_shape);
}

namespace {
std::string TableWrite(const Scope& s, absl::string_view op, const Output& table,
                       const Output& keys, const Output& values) {
  if (!Check(s, op, table, {DT_RESOURCE}) || !Check(s, op, keys, {}) || !Check(s, op, values, {})) {
    return "";
  }
  return NodeBuilder(s, op)
      .Input(table)
      .Input(keys)
      .Input(values)
      .Attr("Tin", keys.dtype)
      .Attr("Tout", values.dtype)
      .Finalize();
}
}  // namespace

std::string LookupTableImport(const Scope& s, const Output& table, const Output& keys,
                              const Output& values) {
  return TableWrite(s, "LookupTableImportV2", table, keys, values);
}

std::string LookupTableInsert(const Scope& s, const Output& table, const Output& keys,
                              const Output& values) {
  return TableWrite(s, "LookupTableInsertV2", table, keys, values);
}

Output LookupTableFind(const Scope& s, const Output& table, const Output& keys,
                       const Output& default_value) {
  if (!Check(s, "LookupTableFindV2", table, {DT_RESOURCE}) ||
      !Check(s, "LookupTableFindV2", keys, {}) ||
      !Check(s, "LookupTableFindV2", default_value, {})) {
    return Output{};
  }
  std::string node = NodeBuilder(s, "LookupTableFindV2")
                         .Input(table)
                         .Input(keys)
                         .Input(default_value)
                         .Attr("Tin", keys.dtype)
                         .Attr("Tout", default_value.dtype)
                         .Finalize();
  PartialShape shape = PartialShape::Unknown();
  if (keys.shape.rank() >= 0 && table.shape.rank() >= 0) {
    shape = keys.shape;
    shape.dims.insert(shape.dims.end(), table.shape.dims.begin(), table.shape.dims.end());
  }
  return Out(node, 0, default_value.dtype, shape);
}

Output LookupTableSize(const Scope& s, const Output& table) {
  if (!Check(s, "LookupTableSizeV2", table, {DT_RESOURCE})) return Output{};
  std::string node = NodeBuilder(s, "LookupTableSizeV2").Input(table).Finalize();
  return Out(node, 0, DT_INT64, PartialShape::Scalar());
}

std::vector<Output> LookupTableExport(const Scope& s, const Output& table, DataType key_dtype,
                                      DataType value_dtype) {
  if (!Check(s, "LookupTableExportV2", table, {DT_RESOURCE})) return {Output{}, Output{}};
  std::string node = NodeBuilder(s, "LookupTableExportV2")
                         .Input(table)
                         .Attr("Tkeys", key_dtype)
                         .Attr("Tvalues", value_dtype)
                         .Finalize();
  PartialShape rows = PartialShape::Unknown();
  if (table.shape.rank() >= 0) {
    rows = PartialShape::Of({-1});
    rows.dims.insert(rows.dims.end(), table.shape.dims.begin(), table.shape.dims.end());
  }
  return {Out(node, 0, key_dtype, PartialShape::Of({-1})), Out(node, 1, value_dtype, rows)};
}

std::vector<Output> TfServingRemotePredict(const Scope& s, const RemotePredictCall& call,
                                           absl::string_view name) {
  if (call.inputs.size() != call.input_aliases.size() ||
      call.outputs.size() != call.output_aliases.size()) {
    s.UpdateStatus(absl::InvalidArgumentError(absl::StrCat(
        "TfServingRemotePredict to ", call.model_name, ": one alias per input and output")));
    return {};
  }
  std::vector<DataType> input_types, output_types;
  for (const Output& input : call.inputs) {
    if (!Check(s, "TfServingRemotePredict", input, {})) return {};
    input_types.push_back(input.dtype);
  }
  for (const Output& output : call.outputs) output_types.push_back(output.dtype);
  Scope call_scope = s.NewSubScope(name);
  Output input_aliases = StringConst(call_scope, call.input_aliases, false, "input_aliases");
  Output output_aliases = StringConst(call_scope, call.output_aliases, false, "output_aliases");
  std::string node = NodeBuilder(s, "TfServingRemotePredict", name)
                         .Input(input_aliases)
                         .Inputs(call.inputs)
                         .Input(output_aliases)
                         .Attr("T", std::span<const DataType>(input_types))
                         .Attr("target_address", "")
                         .Attr("model_name", call.model_name)
                         .Attr("model_version", call.model_version)
                         .Attr("fail_op_on_rpc_error", true)
                         .Attr("max_rpc_deadline_millis", call.max_rpc_deadline_millis)
                         .Attr("signature_name", call.signature_name)
                         .Attr("output_types", std::span<const DataType>(output_types))
                         .Finalize();
  if (node.empty()) return {};
  std::vector<Output> outputs = {Out(node, 0, DT_INT32, PartialShape::Scalar()),
                                 Out(node, 1, tensorflow::DT_STRING, PartialShape::Scalar())};
  for (size_t i = 0; i < call.outputs.size(); ++i) {
    outputs.push_back(
        Out(node, static_cast<int>(2 + i), call.outputs[i].dtype, call.outputs[i].shape));
  }
  return outputs;
}

}  // namespace recship::ops
