// Hash tables: MutableHashTableOfTensorsV2, MutableDenseHashTableV2 and the
// LookupTable{Export,Find,Import,Insert,Size}V2 ops over them.
#include "recship/core/status_macros.h"
#include "recship/format/embedding_dtype.h"
#include "recship/runtime/hash_table.h"
#include "recship/runtime/resource_manager.h"
#include "src/runtime/embedding_decode_fusion.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {
namespace {

class HashTableOp : public OpKernel {
 public:
  explicit HashTableOp(bool dense) : dense_(dense) {}
  absl::Status Init(const OpKernelConstruction& c) {
    container_ = c.GetString("container", "");
    options_.name = c.GetString("shared_name", "");
    if (options_.name.empty()) options_.name = c.node().name();
    RECSHIP_ASSIGN_OR_RETURN(options_.key_dtype, c.GetType("key_dtype"));
    RECSHIP_ASSIGN_OR_RETURN(options_.value_dtype, c.GetType("value_dtype"));
    RECSHIP_ASSIGN_OR_RETURN(options_.value_shape, c.GetShape("value_shape"));
    // Fails early for dtypes the table cannot hold.
    return HashTable::Create(options_).status();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    HashTable::Options options = options_;
    if (dense_) {
      if (ctx.num_inputs() != 2) return ctx.Error("expects the empty and deleted keys as inputs");
      for (int i = 0; i < 2; ++i) {
        RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, i, options.key_dtype));
        if (ctx.input(i).num_elements() != 1) return ctx.Error("a reserved key must be a scalar");
      }
      options.empty_key = IndexValues(ctx.input(0))[0];
      options.deleted_key = IndexValues(ctx.input(1))[0];
    }
    RECSHIP_ASSIGN_OR_RETURN(
        std::shared_ptr<Resource> r,
        ctx.resources()->LookupOrCreate(container_, options.name,
                                        [&]() -> absl::StatusOr<std::shared_ptr<Resource>> {
                                          RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<HashTable> table,
                                                                   HashTable::Create(options));
                                          return std::shared_ptr<Resource>(std::move(table));
                                        }));
    if (dynamic_cast<HashTable*>(r.get()) == nullptr) {
      return ctx.Error(absl::StrCat("resource '", options.name, "' is already ", r->DebugName()));
    }
    ctx.set_resource_output(0, std::move(r));
    return absl::OkStatus();
  }

 private:
  const bool dense_;
  std::string container_;
  HashTable::Options options_;
};

class MutableHashTableOfTensorsV2 : public HashTableOp {
 public:
  MutableHashTableOfTensorsV2() : HashTableOp(false) {}
};
class MutableDenseHashTableV2 : public HashTableOp {
 public:
  MutableDenseHashTableV2() : HashTableOp(true) {}
};

// With kDecodeAttr (set by FuseEmbeddingDecodes, never by a graph builder),
// the table holds compressed rows as int32 words and the kernel returns them
// decoded into float rows of the default value's size (zeros: an all-zero
// stored row decodes to zeros in every encoding).
class LookupTableFindV2 : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    std::string decode = c.GetString(kDecodeAttr, "");
    if (decode.empty()) return absl::OkStatus();
    RECSHIP_ASSIGN_OR_RETURN(decode_, ParseEmbeddingDtype(decode));
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(HashTable * table, ctx.resource_input<HashTable>(0));
    if (decode_) return FindDecoded(ctx, *table);
    RECSHIP_ASSIGN_OR_RETURN(Tensor rows,
                             table->Find(ctx.input(1), ctx.input(2), &ctx.device(), ctx.memory()));
    ctx.set_output(0, std::move(rows));
    return absl::OkStatus();
  }

 private:
  absl::Status FindDecoded(OpKernelContext& ctx, const HashTable& table) const {
    const Tensor& keys = ctx.input(1);
    const int64_t dim = ctx.input(2).num_elements();
    const int64_t width = StoredRowWidth(*decode_, dim);
    if (table.value_dtype() != tensorflow::DT_INT32 || table.value_shape() != TensorShape{width}) {
      return ctx.Error(absl::StrCat(table.DebugName(), " does not hold ",
                                    EmbeddingDtypeName(*decode_), " rows of ", dim, " elements"));
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor zeros, Tensor::Create(tensorflow::DT_INT32, {width}));
    RECSHIP_ASSIGN_OR_RETURN(Tensor stored, table.Find(keys, zeros, &ctx.device(), ctx.memory()));
    TensorShape shape = keys.shape();
    shape.push_back(dim);
    RECSHIP_ASSIGN_OR_RETURN(Tensor * rows, ctx.allocate_output(0, tensorflow::DT_FLOAT, shape));
    DecodeRows(*decode_, stored.flat<int32_t>().data(), keys.num_elements(), dim,
               rows->flat<float>().data());
    return absl::OkStatus();
  }

  std::optional<EmbeddingDtype> decode_;
};

// Restores add whole tensors (kept in place when they are views); inserts
// of copied rows, such as a push through hashtable_assign, go in as a live
// update, a few rows per lock, so lookups beside them do not wait.
class LookupTableInsertV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(HashTable * table, ctx.resource_input<HashTable>(0));
    if (ctx.input(2).is_view()) return table->Insert(ctx.input(1), ctx.input(2));
    return table->ApplyUpdate(ctx.input(1), ctx.input(2)).status();
  }
};

class LookupTableImportV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(HashTable * table, ctx.resource_input<HashTable>(0));
    return table->Import(ctx.input(1), ctx.input(2));
  }
};

class LookupTableExportV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(HashTable * table, ctx.resource_input<HashTable>(0));
    RECSHIP_ASSIGN_OR_RETURN(auto exported, table->Export());
    ctx.set_output(1, std::move(exported.second));
    ctx.set_output(0, std::move(exported.first));
    return absl::OkStatus();
  }
};

class LookupTableSizeV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(HashTable * table, ctx.resource_input<HashTable>(0));
    ctx.set_output(0, Tensor::FromVector<int64_t>({}, {table->size()}));
    return absl::OkStatus();
  }
};

}  // namespace

void AddTableKernels(KernelRegistry& r) {
  r["MutableHashTableOfTensorsV2"] = WithAttrs<MutableHashTableOfTensorsV2>();
  r["MutableDenseHashTableV2"] = WithAttrs<MutableDenseHashTableV2>();
  r["LookupTableExportV2"] = NoAttrs<LookupTableExportV2>();
  r["LookupTableFindV2"] = WithAttrs<LookupTableFindV2>();
  r["LookupTableInsertV2"] = NoAttrs<LookupTableInsertV2>();
  r["LookupTableImportV2"] = NoAttrs<LookupTableImportV2>();
  r["LookupTableSizeV2"] = NoAttrs<LookupTableSizeV2>();
}

}  // namespace recship
