#include "recship/runtime/kernel.h"

#include <algorithm>

#include "recship/core/status_macros.h"
#include "recship/format/tensor_proto.h"
#include "recship/graph/op_table.h"
#include "recship/runtime/memory_budget.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {

const tensorflow::AttrValue* OpKernelConstruction::Find(absl::string_view attr) const {
  auto it = node_.attr().find(std::string(attr));
  return it == node_.attr().end() ? nullptr : &it->second;
}

absl::Status OpKernelConstruction::Missing(absl::string_view attr) const {
  return absl::InvalidArgumentError(absl::StrCat("lacks a usable attr '", attr, "'"));
}

absl::Status OpKernelConstruction::Error(absl::string_view message) const {
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<DataType> OpKernelConstruction::GetType(absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr || v->value_case() != tensorflow::AttrValue::kType) return Missing(attr);
  return v->type();
}

absl::StatusOr<int64_t> OpKernelConstruction::GetInt(absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr || v->value_case() != tensorflow::AttrValue::kI) return Missing(attr);
  return v->i();
}

int64_t OpKernelConstruction::GetInt(absl::string_view attr, int64_t default_value) const {
  const tensorflow::AttrValue* v = Find(attr);
  return v != nullptr && v->value_case() == tensorflow::AttrValue::kI ? v->i() : default_value;
}

bool OpKernelConstruction::GetBool(absl::string_view attr, bool default_value) const {
  const tensorflow::AttrValue* v = Find(attr);
  return v != nullptr && v->value_case() == tensorflow::AttrValue::kB ? v->b() : default_value;
}

absl::StatusOr<std::string> OpKernelConstruction::GetString(absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr || v->value_case() != tensorflow::AttrValue::kS) return Missing(attr);
  return v->s();
}

std::string OpKernelConstruction::GetString(absl::string_view attr,
                                            absl::string_view default_value) const {
  const tensorflow::AttrValue* v = Find(attr);
  return v != nullptr && v->value_case() == tensorflow::AttrValue::kS ? v->s()
                                                                      : std::string(default_value);
}

absl::StatusOr<std::vector<int64_t>> OpKernelConstruction::GetIntList(
    absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr) return Missing(attr);
  return std::vector<int64_t>(v->list().i().begin(), v->list().i().end());
}

absl::StatusOr<std::vector<DataType>> OpKernelConstruction::GetTypeList(
    absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr) return Missing(attr);
  std::vector<DataType> types;
  for (int t : v->list().type()) types.push_back(static_cast<DataType>(t));
  return types;
}

absl::StatusOr<TensorShape> OpKernelConstruction::GetShape(absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr || v->value_case() != tensorflow::AttrValue::kShape) return Missing(attr);
  absl::StatusOr<TensorShape> shape = ShapeFromProto(v->shape());
  if (!shape.ok()) return Error(absl::StrCat("attr '", attr, "': ", shape.status().message()));
  return shape;
}

absl::StatusOr<Tensor> OpKernelConstruction::GetTensor(absl::string_view attr) const {
  const tensorflow::AttrValue* v = Find(attr);
  if (v == nullptr || v->value_case() != tensorflow::AttrValue::kTensor) return Missing(attr);
  absl::StatusOr<Tensor> t = TensorFromProto(v->tensor());
  if (!t.ok()) return Error(absl::StrCat("attr '", attr, "': ", t.status().message()));
  return t;
}

const Tensor& OpKernelContext::input(int i) const {
  static const Tensor* const kMissing = new Tensor();
  return i >= 0 && i < num_inputs() ? inputs_[i]->tensor : *kMissing;
}

absl::StatusOr<Tensor> OpKernelContext::allocate_tensor(DataType dtype, TensorShape shape) const {
  if (memory() == nullptr) return Tensor::Create(dtype, std::move(shape));
  return memory()->Allocate(dtype, std::move(shape));
}

absl::StatusOr<Tensor*> OpKernelContext::allocate_output(int i, DataType dtype, TensorShape shape) {
  RECSHIP_ASSIGN_OR_RETURN(Tensor t, allocate_tensor(dtype, std::move(shape)));
  if (static_cast<int>(outputs_->size()) <= i) outputs_->resize(i + 1);
  (*outputs_)[i].tensor = std::move(t);
  return &(*outputs_)[i].tensor;
}

void OpKernelContext::set_output(int i, Tensor tensor) {
  if (static_cast<int>(outputs_->size()) <= i) outputs_->resize(i + 1);
  (*outputs_)[i].tensor = std::move(tensor);
}

void OpKernelContext::set_resource_output(int i, std::shared_ptr<Resource> r) {
  if (static_cast<int>(outputs_->size()) <= i) outputs_->resize(i + 1);
  (*outputs_)[i].resource = std::move(r);
}

absl::Status OpKernelContext::Error(absl::string_view message) const {
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<AsyncWait> OpKernel::StartAsync(OpKernelContext& ctx) const {
  RECSHIP_RETURN_IF_ERROR(Compute(ctx));
  return AsyncWait([] { return absl::OkStatus(); });
}

absl::Status CheckInputType(const OpKernelContext& ctx, int i, DataType dtype) {
  if (i >= ctx.num_inputs()) {
    return ctx.Error(absl::StrCat("expects at least ", i + 1, " inputs, got ", ctx.num_inputs()));
  }
  if (ctx.input(i).dtype() != dtype) {
    return ctx.Error(absl::StrCat("input ", i, " must be ", DataTypeName(dtype), ", not ",
                                  DataTypeName(ctx.input(i).dtype())));
  }
  return absl::OkStatus();
}

absl::Status CheckInputRank(const OpKernelContext& ctx, int i, size_t rank) {
  if (ctx.input(i).shape().size() != rank) {
    return ctx.Error(absl::StrCat("input ", i, " must have rank ", rank, ", not shape ",
                                  ShapeToString(ctx.input(i).shape())));
  }
  return absl::OkStatus();
}

std::vector<int64_t> IndexValues(const Tensor& t) {
  if (t.dtype() == tensorflow::DT_INT32) {
    auto v = t.flat<int32_t>();
    return std::vector<int64_t>(v.begin(), v.end());
  }
  auto v = t.flat<int64_t>();
  return std::vector<int64_t>(v.begin(), v.end());
}

namespace {

const KernelRegistry& Registry() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry;
    AddArrayKernels(*r);
    AddMathKernels(*r);
    AddSegmentKernels(*r);
    AddStateKernels(*r);
    AddTableKernels(*r);
    AddRemotePredictKernels(*r);
    return r;
  }();
  return *registry;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpKernel>> CreateKernel(const tensorflow::NodeDef& node) {
  RECSHIP_RETURN_IF_ERROR(ValidateNode(node));
  auto it = Registry().find(node.op());
  if (it == Registry().end()) {
    return absl::UnimplementedError(
        absl::StrCat("op ", node.op(), " has no kernel in recship's runtime"));
  }
  return it->second(OpKernelConstruction(node));
}

}  // namespace recship
