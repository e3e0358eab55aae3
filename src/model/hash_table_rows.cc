#include "recship/model/hash_table_rows.h"

#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/graph/ops.h"

namespace recship {
namespace {

Output Int32s(const Scope& s, std::vector<int32_t> values, absl::string_view name) {
  const int64_t n = static_cast<int64_t>(values.size());
  return ops::Const(s, Tensor::FromVector<int32_t>({n}, values), name);
}

std::vector<int32_t> Iota(int32_t from, int32_t to) {
  std::vector<int32_t> v(static_cast<size_t>(to - from));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// Columns [from, to) of a matrix.
Output Columns(const Scope& s, const Output& x, int32_t from, int32_t to, absl::string_view name) {
  return ops::GatherV2(s, x, Int32s(s, Iota(from, to), name),
                       ops::ScalarConst(s, int32_t{1}, "axis"));
}

// [M, words] int32 of narrow elements of `type` -> [M, dim] of `type`.
Output Unpack(const Scope& s, const Output& words, int64_t num_words, DataType type, int64_t dim) {
  const int64_t width = num_words * static_cast<int64_t>(4 / DataTypeSize(type));
  Output flat = ops::Reshape(s, ops::Bitcast(s, words, type),
                             Int32s(s, {-1, static_cast<int32_t>(width)}, "row_shape"));
  if (width == dim) return flat;
  return Columns(s, flat, 0, static_cast<int32_t>(dim), "elements");
}

// [M, StoredRowWidth] int32 -> [M, dim] float (format/embedding_dtype.h).
Output Decode(const Scope& s, const Output& stored, EmbeddingDtype dtype, int64_t dim) {
  const int64_t width = StoredRowWidth(dtype, dim);
  if (dtype == EmbeddingDtype::kInt8) {
    Output scale = ops::Bitcast(s, Columns(s, stored, 0, 1, "scale_column"), tensorflow::DT_FLOAT);
    Output values = Columns(s, stored, 1, static_cast<int32_t>(width), "value_columns");
    Output q = Unpack(s, values, width - 1, tensorflow::DT_INT8, dim);
    return ops::Mul(s, ops::Cast(s, q, tensorflow::DT_FLOAT), scale);
  }
  const DataType half =
      dtype == EmbeddingDtype::kFloat16 ? tensorflow::DT_HALF : tensorflow::DT_BFLOAT16;
  return ops::Cast(s, Unpack(s, stored, width, half, dim), tensorflow::DT_FLOAT);
}

}  // namespace

DataType StoredRowType(EmbeddingDtype dtype) {
  return dtype == EmbeddingDtype::kFloat32 ? tensorflow::DT_FLOAT : tensorflow::DT_INT32;
}

PartialShape StoredRowsShape(const HashTableSpec& table, EmbeddingDtype dtype) {
  return PartialShape::Of({-1, StoredRowWidth(dtype, table.dim)});
}

Output HashTableHandle(const Scope& s, const HashTableSpec& table, EmbeddingDtype dtype) {
  PartialShape value_shape = PartialShape::Of({StoredRowWidth(dtype, table.dim)});
  for (const tensorflow::NodeDef& node : s.graph()->def().node()) {
    if (node.op() == "MutableHashTableOfTensorsV2" &&
        node.attr().at("shared_name").s() == table.name) {
      return Output{node.name(), 0, tensorflow::DT_RESOURCE, value_shape};
    }
  }
  Scope root(s.graph());
  return ops::MutableHashTableOfTensors(root.NewSubScope(table.name), tensorflow::DT_INT64,
                                        StoredRowType(dtype), value_shape, table.name,
                                        "MutableHashTable");
}

Output FindEmbeddingRows(const Scope& s, const Output& handle, const HashTableSpec& table,
                         EmbeddingDtype dtype, const Output& ids) {
  const int64_t width = StoredRowWidth(dtype, table.dim);
  Tensor zeros = Tensor::Create(StoredRowType(dtype), {width}).value();
  Output rows = ops::LookupTableFind(s, handle, ids, ops::Const(s, zeros, "default_value"));
  if (dtype == EmbeddingDtype::kFloat32 || !rows.valid()) return rows;
  Scope decode = s.NewSubScope(absl::StrCat("decode_", EmbeddingDtypeName(dtype)));
  const bool flat = ids.shape.rank() == 1;
  Output stored = rows;
  stored.shape = PartialShape::Of({-1, width});
  if (!flat)
    stored =
        ops::Reshape(decode, rows, Int32s(decode, {-1, static_cast<int32_t>(width)}, "flat_shape"));
  Output out = Decode(decode, stored, dtype, table.dim);
  if (!flat) {
    Output zero = ops::ScalarConst(decode, int32_t{0}, "axis");
    std::vector<Output> parts = {ops::Shape(decode, ids),
                                 Int32s(decode, {static_cast<int32_t>(table.dim)}, "dim")};
    out = ops::Reshape(decode, out, ops::ConcatV2(decode, parts, zero));
  }
  out.shape = rows.shape;
  if (out.shape.rank() >= 1) out.shape.dims.back() = table.dim;
  return out;
}

}  // namespace recship
