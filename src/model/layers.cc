#include "recship/model/layers.h"

#include "absl/strings/str_cat.h"
#include "recship/graph/ops.h"
#include "recship/model/export_context.h"
#include "recship/model/hash_table_rows.h"

namespace recship {

absl::StatusOr<Activation> ParseActivation(absl::string_view name) {
  if (name == "" || name == "none" || name == "linear") return Activation::kNone;
  if (name == "relu") return Activation::kRelu;
  if (name == "sigmoid") return Activation::kSigmoid;
  if (name == "tanh") return Activation::kTanh;
  if (name == "softmax") return Activation::kSoftmax;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown activation '", name, "' (expected none, relu, sigmoid, tanh or softmax)"));
}

absl::StatusOr<Combiner> ParseCombiner(absl::string_view name) {
  if (name == "sum") return Combiner::kSum;
  if (name == "mean") return Combiner::kMean;
  if (name == "sqrtn") return Combiner::kSqrtN;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown combiner '", name, "' (expected sum, mean or sqrtn)"));
}

Output Activate(const Scope& s, const Output& x, Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return x;
    case Activation::kRelu:
      return ops::Unary(s, "Relu", x);
    case Activation::kSigmoid:
      return ops::Unary(s, "Sigmoid", x);
    case Activation::kTanh:
      return ops::Unary(s, "Tanh", x);
    case Activation::kSoftmax:
      return ops::Unary(s, "Softmax", x);
  }
  return x;
}

Output Variable(const Scope& s, absl::string_view name, DataType dtype, const TensorShape& shape) {
  Scope var = s.NewSubScope(name);
  Output handle = ops::VarHandleOp(var, dtype, PartialShape::Of(shape), var.prefix(), "");
  // The checkpoint name is the shared_name, as in TensorFlow 1 graphs.
  return ops::ReadVariableOp(var, handle, dtype, PartialShape::Of(shape));
}

Output Dense(const Scope& s, const Output& x, int64_t units, Activation activation,
             absl::string_view name) {
  Scope layer = s.NewSubScope(name);
  int64_t in = x.shape.dim(1);
  if (in < 0) {
    layer.UpdateStatus(absl::InvalidArgumentError(
        absl::StrCat("dense layer ", layer.prefix(), ": input ", x.node,
                     " needs a known last dimension, has ", x.shape.ToString())));
    return Output{};
  }
  Output kernel = Variable(layer, "kernel", tensorflow::DT_FLOAT, {in, units});
  Output bias = Variable(layer, "bias", tensorflow::DT_FLOAT, {units});
  return Activate(layer, ops::BiasAdd(layer, ops::MatMul(layer, x, kernel), bias), activation);
}

Output Embedding(const Scope& s, const Output& ids, int64_t vocab, int64_t dim,
                 absl::string_view name) {
  Scope layer = s.NewSubScope(name);
  Output matrix = Variable(layer, "embeddings", tensorflow::DT_FLOAT, {vocab, dim});
  Output rows = ops::GatherV2(layer, matrix, ids, ops::ScalarConst(layer, int32_t{0}, "axis"));
  if (ids.shape.rank() >= 0) {
    rows.shape = ids.shape;
    rows.shape.dims.push_back(dim);
  }
  return rows;
}

Output HashEmbeddingLookup(const Scope& s, const HashTableSpec& table, const Output& ids) {
  if (IsExportingDistributed()) {
    ExportContext* ctx = GetCurrentExportContext();
    if (ctx == nullptr) {
      s.UpdateStatus(absl::FailedPreconditionError(
          absl::StrCat("table ", table.name, ": a distributed export needs an ExportContext")));
      return Output{};
    }
    // The shards are called once all lookups are known (DistributedLookups).
    return ctx->lookups().Add(s, table, ids);
  }
  // Exported tables store rows in the export's encoding; other graphs, as
  // trained (float32).
  ExportContext* ctx = GetCurrentExportContext();
  const EmbeddingDtype dtype = ctx != nullptr ? ctx->embedding_dtype() : EmbeddingDtype::kFloat32;
  Scope lookup = s.NewSubScope(absl::StrCat(table.name, "_lookup"));
  return FindEmbeddingRows(lookup, HashTableHandle(s, table, dtype), table, dtype, ids);
}

Output HashEmbeddingBag(const Scope& s, const HashTableSpec& table, const Feature& feature,
                        Combiner combiner) {
  if (!feature.is_sparse()) return HashEmbeddingLookup(s, table, feature.dense);
  Scope bag = s.NewSubScope(absl::StrCat(table.name, "_bag"));
  // Look each distinct id up once, then pool the rows of each bag.
  std::vector<Output> unique = ops::Unique(bag, feature.values);
  if (unique.size() != 2) return Output{};
  Output rows = HashEmbeddingLookup(bag, table, unique[0]);
  Output zero = ops::ScalarConst(bag, int32_t{0}, "zero");
  Output row_of_value = ops::Cast(
      bag, ops::GatherV2(bag, feature.indices, zero, ops::ScalarConst(bag, int32_t{1}, "one")),
      tensorflow::DT_INT32);
  Output batch = ops::GatherV2(bag, feature.dense_shape, zero, zero);
  static constexpr absl::string_view kOps[] = {"SparseSegmentSum", "SparseSegmentMean",
                                               "SparseSegmentSqrtN"};
  Output pooled = ops::SparseSegmentReduce(bag, kOps[static_cast<int>(combiner)], rows, unique[1],
                                           row_of_value, batch);
  pooled.shape = PartialShape::Of({-1, table.dim});
  return pooled;
}

}  // namespace recship
