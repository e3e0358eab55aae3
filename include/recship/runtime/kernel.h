// The kernel interface of the runtime: what one node of a graph does when it
// runs. A kernel is built once per node at load time, reads and checks its
// attrs then, and is afterwards immutable: Compute may run on many threads at
// once, each with its own OpKernelContext.
#ifndef RECSHIP_RUNTIME_KERNEL_H_
#define RECSHIP_RUNTIME_KERNEL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/framework/node_def.pb.h"

namespace Eigen {
struct ThreadPoolDevice;
}  // namespace Eigen

namespace recship {

class MemoryBudget;
class ResourceManager;
class RemoteCaller;

// A stateful object a graph refers to through a DT_RESOURCE handle: a
// variable or a hash table. Implementations are thread-safe.
class Resource {
 public:
  virtual ~Resource() = default;
  // "variable 'mlp/dense_0/kernel'", for messages.
  virtual std::string DebugName() const = 0;
};

// What flows along one edge: a tensor, or a handle to a resource.
struct Value {
  Tensor tensor;
  std::shared_ptr<Resource> resource;
};

// The node being built, with typed access to its attrs. Errors name the node.
class OpKernelConstruction {
 public:
  explicit OpKernelConstruction(const tensorflow::NodeDef& node) : node_(node) {}

  const tensorflow::NodeDef& node() const { return node_; }
  // NotFound when the attr is absent and no default is given.
  absl::StatusOr<DataType> GetType(absl::string_view attr) const;
  absl::StatusOr<int64_t> GetInt(absl::string_view attr) const;
  int64_t GetInt(absl::string_view attr, int64_t default_value) const;
  bool GetBool(absl::string_view attr, bool default_value) const;
  absl::StatusOr<std::string> GetString(absl::string_view attr) const;
  std::string GetString(absl::string_view attr, absl::string_view default_value) const;
  absl::StatusOr<std::vector<int64_t>> GetIntList(absl::string_view attr) const;
  absl::StatusOr<std::vector<DataType>> GetTypeList(absl::string_view attr) const;
  absl::StatusOr<TensorShape> GetShape(absl::string_view attr) const;
  absl::StatusOr<Tensor> GetTensor(absl::string_view attr) const;

  // An InvalidArgument error; the session adds the node's name and op.
  absl::Status Error(absl::string_view message) const;

 private:
  const tensorflow::AttrValue* Find(absl::string_view attr) const;
  absl::Status Missing(absl::string_view attr) const;

  const tensorflow::NodeDef& node_;
};

// What one Run may use.
struct RunOptions {
  // Every tensor the kernels allocate is charged here, bounding what a
  // request's values (a dense_shape, a Fill's dims, many ids) can make the
  // runtime allocate; ResourceExhausted when it would go over. Null charges
  // nothing (loading a model, tests).
  MemoryBudget* memory = nullptr;
  // RestoreV2 maps large numeric tensors from their files (the rows of an
  // embedding table, say) rather than reading them into the heap; see
  // BundleReader::Map.
  bool map_restored_tensors = false;
  // When the request that runs the graph must be answered by (its gRPC
  // deadline); remote calls are given no more than what is left.
  absl::Time deadline = absl::InfiniteFuture();
};

// One execution of one node: its inputs, its outputs and what it may use.
class OpKernelContext {
 public:
  OpKernelContext(const tensorflow::NodeDef& node, std::vector<const Value*> inputs,
                  std::vector<Value>* outputs, ResourceManager* resources,
                  const Eigen::ThreadPoolDevice* device,
                  const RemoteCaller* remote_caller = nullptr)
      : node_(node),
        inputs_(std::move(inputs)),
        outputs_(outputs),
        resources_(resources),
        device_(device),
        remote_caller_(remote_caller) {}

  const tensorflow::NodeDef& node() const { return node_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  // Input `i`; an empty DT_INVALID tensor when the node has no such input,
  // so a kernel's dtype check reports a missing input instead of crashing.
  const Tensor& input(int i) const;

  // The resource behind input `i`, which must be a T.
  template <typename T>
  absl::StatusOr<T*> resource_input(int i) const;

  void set_output(int i, Tensor tensor);
  void set_resource_output(int i, std::shared_ptr<Resource> r);
  // What this run may use; must outlive the run.
  void set_run_options(const RunOptions* options) { run_options_ = options; }
  // The budget that tensors of this run are charged to (sizes can come from
  // request values, such as a SparseTensor's dense_shape); null charges
  // nothing. Not owned; outlives the run.
  MemoryBudget* memory() const { return run_options_->memory; }
  bool map_restored_tensors() const { return run_options_->map_restored_tensors; }
  absl::Time deadline() const { return run_options_->deadline; }

  // A zeroed tensor charged to the run's budget; ResourceExhausted over it.
  absl::StatusOr<Tensor> allocate_tensor(DataType dtype, TensorShape shape) const;
  // Allocates output `i` with allocate_tensor and returns it for filling in.
  // The pointer stays valid until an output with a higher index is first
  // set: a kernel with several outputs allocates the last one first.
  absl::StatusOr<Tensor*> allocate_output(int i, DataType dtype, TensorShape shape);

  ResourceManager* resources() const { return resources_; }
  // The intra-op thread pool; never null.
  const Eigen::ThreadPoolDevice& device() const { return *device_; }
  // Sends calls to other model servers; null when the session was given none.
  const RemoteCaller* remote_caller() const { return remote_caller_; }

  // An InvalidArgument error; the session adds the node's name and op.
  absl::Status Error(absl::string_view message) const;

 private:
  const tensorflow::NodeDef& node_;
  std::vector<const Value*> inputs_;
  std::vector<Value>* outputs_;
  ResourceManager* resources_;
  const Eigen::ThreadPoolDevice* device_;
  const RunOptions* run_options_ = &kDefaultRunOptions;
  const RemoteCaller* remote_caller_;
  static constexpr RunOptions kDefaultRunOptions{};
};

// Waits for the work an async kernel started, then sets the node's outputs;
// returns the work's status. Called at most once.
using AsyncWait = std::function<absl::Status()>;

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual absl::Status Compute(OpKernelContext& ctx) const = 0;

  // An async kernel (a remote call, say) starts its work in StartAsync and
  // lets the session run other nodes until one needs its outputs: the
  // session calls the returned AsyncWait then. The context must stay alive
  // until that call (or until the AsyncWait is destroyed uncalled, which
  // abandons the work); its inputs may be read only inside StartAsync.
  virtual bool IsAsync() const { return false; }
  // The default runs Compute at once.
  virtual absl::StatusOr<AsyncWait> StartAsync(OpKernelContext& ctx) const;
};

// Builds the kernel for `node`: Unimplemented naming the node and op when the
// op has no kernel, InvalidArgument when its attrs are unusable.
absl::StatusOr<std::unique_ptr<OpKernel>> CreateKernel(const tensorflow::NodeDef& node);

template <typename T>
absl::StatusOr<T*> OpKernelContext::resource_input(int i) const {
  Resource* r = i < num_inputs() ? inputs_[i]->resource.get() : nullptr;
  T* typed = dynamic_cast<T*>(r);
  if (typed == nullptr) {
    return Error(absl::StrCat("input ", i, " is not a handle to the expected kind of resource",
                              r == nullptr ? "" : absl::StrCat(" (got ", r->DebugName(), ")")));
  }
  return typed;
}

}  // namespace recship

#endif  // RECSHIP_RUNTIME_KERNEL_H_
