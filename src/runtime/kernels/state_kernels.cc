// Variables and checkpoints: VarHandleOp, ReadVariableOp, AssignVariableOp,
// RestoreV2 and SaveV2.
#include "recship/core/status_macros.h"
#include "recship/format/tensor_bundle.h"
#include "recship/runtime/resource_manager.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {
namespace {

class VarHandleOp : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    container_ = c.GetString("container", "");
    name_ = c.GetString("shared_name", "");
    if (name_.empty()) name_ = c.node().name();
    RECSHIP_ASSIGN_OR_RETURN(dtype_, c.GetType("dtype"));
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<Resource> r,
                             ctx.resources()->LookupOrCreate(container_, name_, [&] {
                               return absl::StatusOr<std::shared_ptr<Resource>>(
                                   std::make_shared<Variable>(name_, dtype_));
                             }));
    auto* variable = dynamic_cast<Variable*>(r.get());
    if (variable == nullptr || variable->dtype() != dtype_) {
      return ctx.Error(absl::StrCat("resource '", name_, "' is already ", r->DebugName(),
                                    " of another kind or dtype"));
    }
    ctx.set_resource_output(0, std::move(r));
    return absl::OkStatus();
  }

 private:
  std::string container_, name_;
  DataType dtype_ = tensorflow::DT_INVALID;
};

class ReadVariableOp : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(Variable * variable, ctx.resource_input<Variable>(0));
    RECSHIP_ASSIGN_OR_RETURN(Tensor value, variable->Read());
    ctx.set_output(0, std::move(value));
    return absl::OkStatus();
  }
};

class AssignVariableOp : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(Variable * variable, ctx.resource_input<Variable>(0));
    return variable->Assign(ctx.input(1));
  }
};

// Checks the (prefix, tensor_names, shape_and_slices) inputs shared by
// RestoreV2 and SaveV2. Slices are not supported.
absl::Status CheckCheckpointInputs(const OpKernelContext& ctx, size_t num_tensors) {
  for (int i = 0; i < 3; ++i)
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, i, tensorflow::DT_STRING));
  if (ctx.input(0).num_elements() != 1) return ctx.Error("the prefix must be one string");
  if (ctx.input(1).strings().size() != num_tensors ||
      ctx.input(2).strings().size() != num_tensors) {
    return ctx.Error(absl::StrCat("expects ", num_tensors, " tensor names and shape_and_slices"));
  }
  for (const std::string& slice : ctx.input(2).strings()) {
    if (!slice.empty()) {
      return absl::UnimplementedError(
          absl::StrCat("partitioned (sliced) variables are not supported: '", slice, "'"));
    }
  }
  return absl::OkStatus();
}

// Numeric tensors are mapped when the run asks for it (each data file is
// mapped once, however many tensors it holds); strings are read.
absl::StatusOr<Tensor> RestoreTensor(const OpKernelContext& ctx, const BundleReader& reader,
                                     const std::string& name) {
  const BundleEntry* entry = reader.Find(name);
  if (ctx.map_restored_tensors() && entry != nullptr && DataTypeSize(entry->dtype) > 0) {
    return reader.Map(name);
  }
  return reader.Read(name);
}

class RestoreV2 : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    RECSHIP_ASSIGN_OR_RETURN(dtypes_, c.GetTypeList("dtypes"));
    return absl::OkStatus();
  }
  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_RETURN_IF_ERROR(CheckCheckpointInputs(ctx, dtypes_.size()));
    RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> reader,
                             BundleReader::Open(ctx.input(0).strings()[0]));
    const std::vector<std::string>& names = ctx.input(1).strings();
    for (size_t i = 0; i < names.size(); ++i) {
      RECSHIP_ASSIGN_OR_RETURN(Tensor t, RestoreTensor(ctx, *reader, names[i]));
      if (t.dtype() != dtypes_[i]) {
        return ctx.Error(absl::StrCat("checkpoint ", reader->prefix(), ": tensor '", names[i],
                                      "' is ", DataTypeName(t.dtype()), ", the graph expects ",
                                      DataTypeName(dtypes_[i])));
      }
      ctx.set_output(static_cast<int>(i), std::move(t));
    }
    return absl::OkStatus();
  }

 private:
  std::vector<DataType> dtypes_;
};

class SaveV2 : public OpKernel {
 public:
  absl::Status Compute(OpKernelContext& ctx) const override {
    size_t n = static_cast<size_t>(ctx.num_inputs() - 3);
    RECSHIP_RETURN_IF_ERROR(CheckCheckpointInputs(ctx, n));
    RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleWriter> writer,
                             BundleWriter::Create(ctx.input(0).strings()[0]));
    // A bundle's index must be sorted by name.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    const std::vector<std::string>& names = ctx.input(1).strings();
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
    for (size_t i : order)
      RECSHIP_RETURN_IF_ERROR(writer->Add(names[i], ctx.input(3 + static_cast<int>(i))));
    return writer->Finish();
  }
};

}  // namespace

void AddStateKernels(KernelRegistry& r) {
  r["VarHandleOp"] = WithAttrs<VarHandleOp>();
  r["ReadVariableOp"] = NoAttrs<ReadVariableOp>();
  r["AssignVariableOp"] = NoAttrs<AssignVariableOp>();
  r["RestoreV2"] = WithAttrs<RestoreV2>();
  r["SaveV2"] = NoAttrs<SaveV2>();
}

}  // namespace recship
