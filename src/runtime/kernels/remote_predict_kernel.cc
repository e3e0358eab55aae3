// TfServingRemotePredict: TensorFlow Serving's op for calling another model
// server's Predict from inside a graph (an entry model calls its shards).
//
// Inputs: input_tensor_aliases (string [N]), the N input tensors (T), and
// output_tensor_aliases (string [M]). Outputs: status_code (int32 scalar),
// status_error_message (string scalar), then the M tensors named by the
// output aliases, each checked against output_types.
//
// The kernel is async: StartAsync sends the PredictRequest on gRPC's
// callback API, with the op's max_rpc_deadline_millis, and returns at once,
// so a session starts every shard's call before it waits for the first.
#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/memory_budget.h"
#include "recship/runtime/remote_predict.h"
#include "src/runtime/kernels/kernel_util.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship::runtime {
namespace {

// One Predict in flight. Shared by the gRPC callback and the AsyncWait, so
// it outlives whichever finishes last.
struct RemoteCall {
  grpc::ClientContext context;
  tensorflow::serving::PredictRequest request;
  tensorflow::serving::PredictResponse response;
  std::unique_ptr<tensorflow::serving::PredictionService::Stub> stub;
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  grpc::Status status ABSL_GUARDED_BY(mu);
};

// Held by the AsyncWait: a call the session abandons (its Run failed
// elsewhere) is cancelled rather than left running to its deadline. A
// finished call is not: cancelling one still runs a cancel op through gRPC's
// call stack, on the request's critical path.
struct CallGuard {
  explicit CallGuard(std::shared_ptr<RemoteCall> c) : call(std::move(c)) {}
  ~CallGuard() {
    bool done;
    {
      absl::MutexLock lock(&call->mu);
      done = call->done;
    }
    if (!done) call->context.TryCancel();
  }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;
  std::shared_ptr<RemoteCall> call;
};

class TfServingRemotePredict : public OpKernel {
 public:
  absl::Status Init(const OpKernelConstruction& c) {
    // T is informational (the inputs carry their dtypes); when given as a
    // list it is checked against the inputs.
    ASSIGN_OR_RETURN(input_types_, c.GetTypeList("T"));
    ASSIGN_OR_RETURN(output_types_, c.GetTypeList("output_types"));
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
    ASSIGN_OR_RETURN(AsyncWait wait, StartAsync(ctx));
    return wait();
  }

  absl::StatusOr<AsyncWait> StartAsync(OpKernelContext& ctx) const override {
    auto call = std::make_shared<RemoteCall>();
    RETURN_IF_ERROR(BuildRequest(ctx, call->request));
    const RemotePredictOptions* remote = ctx.remote_predict();
    if (remote == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "calls model '", model_name_,
          "' on another server, but this process has no remote addresses: give recship serve "
          "--remote_addresses=",
          RemoteAddressResolver::SubModelKey(model_name_),
          "=HOST:PORT,... or --remote_address_template"));
    }
    ASSIGN_OR_RETURN(std::string address, remote->resolver.Resolve(model_name_, target_address_));
    call->stub = tensorflow::serving::PredictionService::NewStub(remote->channels.Get(address));
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(deadline_millis_));
    call->stub->async()->Predict(&call->context, &call->request, &call->response,
                                 [call](grpc::Status status) {
                                   absl::MutexLock lock(&call->mu);
                                   call->status = std::move(status);
                                   call->done = true;
                                 });
    auto guard = std::make_shared<CallGuard>(std::move(call));
    // The inputs are not readable once StartAsync returns.
    std::vector<std::string> out_aliases = ctx.input(ctx.num_inputs() - 1).strings();
    return AsyncWait([this, guard, &ctx, address = std::move(address),
                      out_aliases = std::move(out_aliases)]() -> absl::Status {
      RemoteCall& c = *guard->call;
      grpc::Status status;
      {
        absl::MutexLock lock(&c.mu);
        c.mu.Await(absl::Condition(&c.done));
        status = c.status;
      }
      return Finish(ctx, status, c.response, address, out_aliases);
    });
  }

 private:
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
    RETURN_IF_ERROR(CheckInputType(ctx, 0, tensorflow::DT_STRING));
    RETURN_IF_ERROR(CheckInputType(ctx, last, tensorflow::DT_STRING));
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
      if (!input_types_.empty()) RETURN_IF_ERROR(CheckInputType(ctx, i + 1, input_types_[i]));
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
  absl::Status Finish(OpKernelContext& ctx, const grpc::Status& status,
                      const tensorflow::serving::PredictResponse& response,
                      const std::string& address,
                      const std::vector<std::string>& out_aliases) const {
    if (!status.ok()) {
      if (fail_op_on_rpc_error_) {
        // gRPC's and absl's codes share their numbers.
        return absl::Status(
            static_cast<absl::StatusCode>(status.error_code()),
            absl::StrCat("Predict on model '", model_name_, "' (signature '", signature_name_,
                         "') at ", address, " failed: ", status.error_message(),
                         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                             ? absl::StrCat(" (max_rpc_deadline_millis ", deadline_millis_, ")")
                             : ""));
      }
      ctx.set_output(0,
                     Tensor::FromVector<int32_t>({}, {static_cast<int32_t>(status.error_code())}));
      ctx.set_output(1, Tensor::FromStrings({}, {status.error_message()}));
      for (size_t k = 0; k < output_types_.size(); ++k) {
        ASSIGN_OR_RETURN(Tensor empty, Tensor::Create(output_types_[k], {0}));
        ctx.set_output(2 + static_cast<int>(k), std::move(empty));
      }
      return absl::OkStatus();
    }
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

}  // namespace recship::runtime
