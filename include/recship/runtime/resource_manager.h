// The resources (variables, hash tables) of one loaded model, by container
// and shared name, as TensorFlow's ResourceMgr keeps them. Two handle nodes
// with the same name share one resource. Thread-safe.
#ifndef RECSHIP_RUNTIME_RESOURCE_MANAGER_H_
#define RECSHIP_RUNTIME_RESOURCE_MANAGER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recship/runtime/kernel.h"

namespace recship {

class ResourceManager {
 public:
  using Factory = std::function<absl::StatusOr<std::shared_ptr<Resource>>()>;

  // The resource named (container, name), made by `create` on first use.
  // Fails when `create` fails.
  absl::StatusOr<std::shared_ptr<Resource>> LookupOrCreate(const std::string& container,
                                                           const std::string& name,
                                                           const Factory& create);

  // Every resource, for memory accounting and tests.
  std::vector<std::shared_ptr<Resource>> All() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Resource>> resources_ ABSL_GUARDED_BY(mu_);
};

// A resource variable: one tensor, replaced whole by AssignVariableOp.
class Variable : public Resource {
 public:
  Variable(std::string name, DataType dtype) : name_(std::move(name)), dtype_(dtype) {}

  std::string DebugName() const override { return absl::StrCat("variable '", name_, "'"); }
  DataType dtype() const { return dtype_; }

  // FailedPrecondition naming the variable until the first Assign.
  absl::StatusOr<Tensor> Read() const;
  absl::Status Assign(Tensor value);

 private:
  const std::string name_;
  const DataType dtype_;
  mutable absl::Mutex mu_;
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  Tensor value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_RESOURCE_MANAGER_H_
