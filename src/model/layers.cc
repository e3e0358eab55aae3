#include "recship/model/layers.h"

#include "absl/strings/str_cat.h"
#include "recship/graph/ops.h"
#include "recship/model/export_context.h"

namespace recship {
namespace {

// The table's resource, created once per graph (found again by its
// shared_name, the table name) and shared by every lookup.
Output TableHandle(const Scope& s, const HashTableSpec& table) {
  PartialShape value_shape = PartialShape::Of({table.dim});
  for (const tensorflow::NodeDef& node : s.graph()->def().node()) {
    if (node.op() == "MutableHashTableOfTensorsV2" &&
        node.attr().at("shared_name").s() == table.name) {
      return Output{node.name(), 0, tensorflow::DT_RESOURCE, value_shape};
    }
  }
  Scope root(s.graph());
  return ops::MutableHashTableOfTensors(root.NewSubScope(table.name), tensorflow::DT_INT64,
                                        tensorflow::DT_FLOAT, value_shape, table.name,
                                        "MutableHashTable");
}

}  // namespace

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
  Scope lookup = s.NewSubScope(absl::StrCat(table.name, "_lookup"));
  Output handle = TableHandle(s, table);
  Tensor zeros = Tensor::Create(tensorflow::DT_FLOAT, {table.dim}).value();
  return ops::LookupTableFind(lookup, handle, ids, ops::Const(lookup, zeros, "default_value"));
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
