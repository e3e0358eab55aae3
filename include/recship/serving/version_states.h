// Where each version a server has seen stands in its life cycle, as
// TensorFlow Serving's ServableStateMonitor reports it to GetModelStatus:
// START (found on disk), LOADING, AVAILABLE, UNLOADING, END (unloaded, or a
// load that failed for good), each with the error of a failed load.
// Thread-safe.
#ifndef RECSHIP_SERVING_VERSION_STATES_H_
#define RECSHIP_SERVING_VERSION_STATES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "recship/tensorflow_serving/apis/get_model_status.pb.h"

namespace recship {

class VersionStates {
 public:
  using State = tensorflow::serving::ModelVersionStatus::State;

  void Set(const std::string& model, int64_t version, State state,
           const absl::Status& status = absl::OkStatus());
  // Drops the versions of `model` for which `drop(version, state)` holds.
  void ForgetIf(const std::string& model, const std::function<bool(int64_t, State)>& drop);

  // Every version of `model` seen, newest first; empty when none was.
  std::vector<tensorflow::serving::ModelVersionStatus> Of(const std::string& model) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<int64_t, tensorflow::serving::ModelVersionStatus>> models_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_SERVING_VERSION_STATES_H_
