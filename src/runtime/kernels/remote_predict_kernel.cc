// TfServingRemotePredict: TensorFlow Serving's op for calling another model
// server's Predict from inside a graph (an entry model calls its shards).
//
// Inputs: input_tensor_aliases (string [N]), the N input tensors (T), and
// output_tensor_aliases (string [M]). Outputs: status_code (int32 scalar),
// status_error_message (string scalar), then the M tensors named by the
// output aliases, each checked against output_types.
//
// The kernel is async: StartAsync hands the PredictRequest to the process's
// RemoteCaller (remote_call.h), with the op's max_rpc_deadline_millis, and
// returns at once, so a session starts every shard's call before it waits
// for the first. A request's own deadline (RunOptions::deadline) caps the
// call's.
#include "absl/container/flat_hash_set.h"
#include "recship/core/status_macros.h"
#include "recship/format/sub_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/memory_budget.h"
#include "recship/runtime/remote_call.h"
#include "src/runtime/kernels/kernel_util.h"

namespace recship {
namespace {

class TfServingRemotePredict : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    // T is informational (the inputs carry their dtypes); when given as a
    // list it is checked against the inputs.
    RECSHIP_ASSIGN_OR_RETURN(input_types_, c.GetTypeList("T"));
    RECSHIP_ASSIGN_OR_RETURN(output_types_, c.GetTypeList("output_types"));
    target_address_ = c.GetString("target_address", "");
    model_name_ = c.GetString("model_name", "");
    model_version_ = c.GetInt("model_version", -1);
    fail_op_on_rpc_error_ = c.GetBool("fail_op_on_rpc_error", true);
    deadline_millis_ = c.GetInt("max_rpc_deadline_millis", 30000);
    signature_name_ = c.GetString("signature_name", "serving_default");
    if (model_name_.empty()) return c.Error("attr 'model_name' must name the model to call");
    if (deadline_millis_ <= 0) {
      return c.Error(
          absl::StrCat("attr 'max_rpc_deadline_millis' must be positive, not ", deadline_millis_));
    }
    return absl::OkStatus();
  }

  bool IsAsync() const override { return true; }

  absl::Status Compute(OpKernelContext& ctx) const override {
    RECSHIP_ASSIGN_OR_RETURN(AsyncWait wait, StartAsync(ctx));
    return wait();
  }

  absl::StatusOr<AsyncWait> StartAsync(OpKernelContext& ctx) const override {
    tensorflow::serving::PredictRequest request;
    RECSHIP_RETURN_IF_ERROR(BuildRequest(ctx, request));
    const RemoteCaller* caller = ctx.remote_caller();
    if (caller == nullptr) return NoCallerError();
    RemoteTarget target{model_name_, target_address_, model_version_};
    // The op's deadline, or what is left of the request's when that is less.
    const absl::Duration left = ctx.deadline() - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the request's deadline passed before model '", model_name_, "' was called"));
    }
    RECSHIP_ASSIGN_OR_RETURN(
        std::unique_ptr<PendingPredict> started,
        caller->StartPredict(target, std::move(request),
                             std::min(absl::Milliseconds(deadline_millis_), left)));
    std::shared_ptr<PendingPredict> call = std::move(started);
    // The inputs are not readable once StartAsync returns.
    std::vector<std::string> out_aliases = ctx.input(ctx.num_inputs() - 1).strings();
    return AsyncWait([this, call, &ctx, out_aliases = std::move(out_aliases)]() -> absl::Status {
      absl::Status status = call->Wait();
      return Finish(ctx, status, *call, out_aliases);
    });
  }

 private:
  absl::Status NoCallerError() const {
    std::optional<ServedSubModel> served = ParseServedName(model_name_);
    std::string key = served ? served->sub_model.name() : "<key>";
    return absl::FailedPreconditionError(absl::StrCat(
        "calls model '", model_name_,
        "' on another server, but this process has no remote addresses: give recship serve "
        "--remote_addresses=",
        key, "=HOST:PORT,... or --remote_address_template"));
  }

  absl::Status BuildRequest(const OpKernelContext& ctx,
                            tensorflow::serving::PredictRequest& request) const {
    if (ctx.num_inputs() < 2) {
      return ctx.Error(
          absl::StrCat("expects input_tensor_aliases, the input tensors and "
                       "output_tensor_aliases, got ",
                       ctx.num_inputs(), " inputs"));
    }
    int n = ctx.num_inputs() - 2;
    int last = ctx.num_inputs() - 1;
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, 0, tensorflow::DT_STRING));
    RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, last, tensorflow::DT_STRING));
    const std::vector<std::string>& in_aliases = ctx.input(0).strings();
    const std::vector<std::string>& out_aliases = ctx.input(last).strings();
    if (static_cast<int>(in_aliases.size()) != n) {
      return ctx.Error(absl::StrCat("has ", n, " input tensors but ", in_aliases.size(),
                                    " input_tensor_aliases"));
    }
    if (!input_types_.empty() && static_cast<int>(input_types_.size()) != n) {
      return ctx.Error(absl::StrCat("has ", n, " input tensors but attr T lists ",
                                    input_types_.size(), " dtypes"));
    }
    if (out_aliases.size() != output_types_.size()) {
      return ctx.Error(absl::StrCat("has ", out_aliases.size(),
                                    " output_tensor_aliases but attr output_types lists ",
                                    output_types_.size(), " dtypes"));
    }
    tensorflow::serving::ModelSpec* spec = request.mutable_model_spec();
    spec->set_name(model_name_);
    spec->set_signature_name(signature_name_);
    // As TensorFlow Serving's op: a version only when one is pinned.
    if (model_version_ >= 0) spec->mutable_version()->set_value(model_version_);
    for (int i = 0; i < n; ++i) {
      const Tensor& t = ctx.input(i + 1);
      if (!input_types_.empty())
        RECSHIP_RETURN_IF_ERROR(CheckInputType(ctx, i + 1, input_types_[i]));
      if (!request.mutable_inputs()->emplace(in_aliases[i], TensorToProto(t)).second) {
        return ctx.Error(absl::StrCat("input alias '", in_aliases[i], "' is given twice"));
      }
    }
    absl::flat_hash_set<std::string> seen;
    for (const std::string& alias : out_aliases) {
      if (seen.insert(alias).second) request.add_output_filter(alias);
    }
    return absl::OkStatus();
  }

  // Sets the outputs from a finished call.
  absl::Status Finish(OpKernelContext& ctx, const absl::Status& status, const PendingPredict& call,
                      const std::vector<std::string>& out_aliases) const {
    if (!status.ok()) {
      if (fail_op_on_rpc_error_) {
        return absl::Status(
            status.code(),
            absl::StrCat("Predict on model '", model_name_, "' (signature '", signature_name_,
                         "') at ", call.address(), " failed: ", status.message(),
                         status.code() == absl::StatusCode::kDeadlineExceeded
                             ? absl::StrCat(" (max_rpc_deadline_millis ", deadline_millis_, ")")
                             : ""));
      }
      ctx.set_output(0, Tensor::FromVector<int32_t>({}, {static_cast<int32_t>(status.code())}));
      ctx.set_output(1, Tensor::FromStrings({}, {std::string(status.message())}));
      for (size_t k = 0; k < output_types_.size(); ++k) {
        RECSHIP_ASSIGN_OR_RETURN(Tensor empty, Tensor::Create(output_types_[k], {0}));
        ctx.set_output(2 + static_cast<int>(k), std::move(empty));
      }
      return absl::OkStatus();
    }
    const tensorflow::serving::PredictResponse& response = call.response();
    std::vector<Tensor> outputs;
    outputs.reserve(out_aliases.size());
    for (size_t k = 0; k < out_aliases.size(); ++k) {
      auto it = response.outputs().find(out_aliases[k]);
      if (it == response.outputs().end()) {
        return absl::NotFoundError(absl::StrCat("the response of model '", model_name_,
                                                "' (signature '", signature_name_,
                                                "') has no output '", out_aliases[k], "'"));
      }
      // Bounded by what the request may still hold.
      absl::StatusOr<Tensor> t = ctx.memory() != nullptr
                                     ? TensorFromProto(it->second, ctx.memory()->available())
                                     : TensorFromProto(it->second);
      if (!t.ok()) {
        return ctx.Error(absl::StrCat("output '", out_aliases[k], "' of model '", model_name_,
                                      "': ", t.status().message()));
      }
      if (t->dtype() != output_types_[k]) {
        return ctx.Error(absl::StrCat("output '", out_aliases[k], "' of model '", model_name_,
                                      "' is ", DataTypeName(t->dtype()), ", but output_types[", k,
                                      "] is ", DataTypeName(output_types_[k])));
      }
      outputs.push_back(*std::move(t));
    }
    ctx.set_output(0, Tensor::FromVector<int32_t>({}, {0}));
    ctx.set_output(1, Tensor::FromStrings({}, {""}));
    for (size_t k = 0; k < outputs.size(); ++k) {
      ctx.set_output(2 + static_cast<int>(k), std::move(outputs[k]));
    }
    return absl::OkStatus();
  }

  std::vector<DataType> input_types_;
  std::vector<DataType> output_types_;
  std::string target_address_;
  std::string model_name_;
  int64_t model_version_ = -1;
  bool fail_op_on_rpc_error_ = true;
  int64_t deadline_millis_ = 30000;
  std::string signature_name_;
};

}  // namespace

void AddRemotePredictKernels(KernelRegistry& r) {
  r["TfServingRemotePredict"] = WithAttrs<TfServingRemotePredict>();
}

}  // namespace recship
