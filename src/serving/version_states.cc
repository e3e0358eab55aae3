#include "recship/serving/version_states.h"

namespace recship {

void VersionStates::Set(const std::string& model, int64_t version, State state,
                        const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  tensorflow::serving::ModelVersionStatus& entry = models_[model][version];
  entry.set_version(version);
  entry.set_state(state);
  // absl's codes are TensorFlow's error codes.
  entry.mutable_status()->set_error_code(
      static_cast<tensorflow::error::Code>(static_cast<int>(status.code())));
  entry.mutable_status()->set_error_message(std::string(status.message()));
}

void VersionStates::ForgetIf(const std::string& model,
                             const std::function<bool(int64_t, State)>& drop) {
  absl::MutexLock lock(&mu_);
  auto versions = models_.find(model);
  if (versions == models_.end()) return;
  std::erase_if(versions->second,
                [&](const auto& entry) { return drop(entry.first, entry.second.state()); });
  if (versions->second.empty()) models_.erase(versions);
}

std::vector<tensorflow::serving::ModelVersionStatus> VersionStates::Of(
    const std::string& model) const {
  absl::MutexLock lock(&mu_);
  std::vector<tensorflow::serving::ModelVersionStatus> result;
  auto versions = models_.find(model);
  if (versions == models_.end()) return result;
  for (auto it = versions->second.rbegin(); it != versions->second.rend(); ++it) {
    result.push_back(it->second);
  }
  return result;
}

}  // namespace recship
