#include "recship/runtime/resource_manager.h"

#include "recship/format/dtype.h"

namespace recship {

absl::StatusOr<std::shared_ptr<Resource>> ResourceManager::LookupOrCreate(
    const std::string& container, const std::string& name, const Factory& create) {
  // The container cannot contain '\0', so the key is unambiguous.
  std::string key = absl::StrCat(container, std::string(1, '\0'), name);
  absl::MutexLock lock(&mu_);
  auto it = resources_.find(key);
  if (it != resources_.end()) return it->second;
  absl::StatusOr<std::shared_ptr<Resource>> made = create();
  if (!made.ok()) return made.status();
  resources_.emplace(std::move(key), *made);
  return *made;
}

std::vector<std::shared_ptr<Resource>> ResourceManager::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Resource>> all;
  for (const auto& [key, resource] : resources_) all.push_back(resource);
  return all;
}

absl::StatusOr<Tensor> Variable::Read() const {
  absl::MutexLock lock(&mu_);
  if (!initialized_) {
    return absl::FailedPreconditionError(
        absl::StrCat(DebugName(), " was read before it was restored or assigned"));
  }
  return value_;
}

absl::Status Variable::Assign(Tensor value) {
  if (value.dtype() != dtype_) {
    return absl::InvalidArgumentError(absl::StrCat("cannot assign a ", DataTypeName(value.dtype()),
                                                   " tensor to ", DebugName(), " of dtype ",
                                                   DataTypeName(dtype_)));
  }
  absl::MutexLock lock(&mu_);
  value_ = std::move(value);
  initialized_ = true;
  return absl::OkStatus();
}

}  // namespace recship
