// The models a server holds, and their versions' life cycle.
//
// Poll() looks at each model's base path, loads the versions its policy
// asks for that are not loaded yet (replaying the version's warmup file
// before it is published), publishes them, and only then drops the versions
// the policy no longer wants: a swap never leaves a model without a version.
// A version folder is loaded once it holds saved_model.pb: at once when it
// is first seen, else once it is unchanged since the previous poll, so a
// version being copied into place (`cp -r` makes the folder, then fills it)
// is not loaded half-written. A load that fails is retried after
// load_retry_interval, up to max_num_load_retries times (as TensorFlow
// Serving does); a folder whose files change after a failure gets a fresh
// set of attempts once it stops changing. A loaded version takes the
// deltas published for it (delta_applier.h): those present when it loads
// before it is published, later ones at each poll. Requests hold a shared
// reference, so a version being unloaded finishes the requests it has.
// Each version's life-cycle state is kept for GetModelStatus
// (version_states.h). Reload() replaces the configured models while the
// others keep serving. Thread-safe.
#ifndef RECSHIP_SERVING_MODEL_MANAGER_H_
#define RECSHIP_SERVING_MODEL_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recship/core/clock.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/delta_applier.h"
#include "recship/serving/predict.h"
#include "recship/serving/version_states.h"
#include "recship/tensorflow_serving/apis/get_model_status.pb.h"
#include "recship/tensorflow_serving/apis/model.pb.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"

namespace recship {

// A loaded version, pinned for as long as the handle lives.
struct ServableHandle {
  std::string name;
  int64_t version = 0;
  std::shared_ptr<const SavedModelBundle> model;
};

class ModelManager {
 public:
  // Loads the version folder `dir` of `model`: the bundle to publish, or why
  // not (the manager logs the error and retries). The default loads the
  // SavedModel (SavedModelBundle::Load) and replays its warmup file.
  using Loader = std::function<absl::StatusOr<std::shared_ptr<const SavedModelBundle>>(
      const std::string& model, int64_t version, const std::string& dir)>;

  // Each model's version labels.
  using LabelMap = std::map<std::string, std::map<std::string, int64_t>>;

  struct Options {
    // Not owned; the intra-op pool of every loaded model.
    const ThreadPool* thread_pool = nullptr;
    // Not owned; where loaded models' TfServingRemotePredict nodes call.
    const RemoteCaller* remote_caller = nullptr;
    // See LoadOptions::map_variables.
    bool map_variables = true;
    // Limits for replaying warmup requests.
    PredictLimits limits;
    // Receives one line per load, unload and failure.
    std::function<void(const std::string&)> log;
    // Retries of a failed load, after the first attempt.
    int max_num_load_retries = 5;
    absl::Duration load_retry_interval = absl::Minutes(1);
    // The clock that retries are timed by; null is the system clock. Not
    // owned.
    const Clock* clock = nullptr;
    // Null: the default loader above.
    Loader loader;
    // A label may name a version that is not loaded, if the label is new
    // (TensorFlow Serving's flag of that name).
    bool allow_version_labels_for_unavailable_models = false;
  };

  ModelManager(tensorflow::serving::ModelServerConfig config, Options options);

  // Serves the models of `config` from now on: those it leaves out are
  // unloaded, new ones are loaded (as Poll would) before it returns. An
  // invalid config changes nothing. Errors name each new model whose version
  // failed to load (it is retried as any failed load is).
  absl::Status Reload(tensorflow::serving::ModelServerConfig config);
  std::shared_ptr<const tensorflow::serving::ModelServerConfig> config() const;
  // FailedPrecondition naming the first label of the config that names a
  // version not loaded (unless the options allow it); a server checks its
  // labels once its first poll is done. A reload checks the new labels the
  // same way and keeps the old ones when they fail.
  absl::Status CheckLabels() const;

  // One pass over every model's base path: PollVersions, then ApplyDeltas.
  void Poll();
  // Loads the versions that appeared (each with the deltas it has, before
  // it serves) and unloads those the policy no longer wants.
  void PollVersions();
  // Applies the deltas that appeared for the versions serving.
  void ApplyDeltas();

  // The version a request names: by number, by label, or the latest loaded.
  // NotFound (TensorFlow Serving's code) for an unknown model or version,
  // InvalidArgument for an unknown label.
  absl::StatusOr<ServableHandle> Get(const tensorflow::serving::ModelSpec& spec) const;

  // Every version being served, by model and version.
  std::vector<ServableHandle> LoadedVersions() const;

  // Configured model names, and whether each has a version to serve.
  std::map<std::string, bool> ModelsReady() const;

  // The states of the versions `spec` names (all of the model's, newest
  // first, unless it names a version or label), as TensorFlow Serving's
  // GetModelStatus reports them; NotFound with its messages when none.
  absl::StatusOr<tensorflow::serving::GetModelStatusResponse> GetStatus(
      const tensorflow::serving::ModelSpec& spec) const;

 private:
  using Versions = std::map<int64_t, std::shared_ptr<const SavedModelBundle>>;
  void PollVersionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  absl::Status CheckLabels(const tensorflow::serving::ModelServerConfig& config,
                           const LabelMap& previous) const;
  // Unloads every version of a model no longer configured.
  void DropModel(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  // The versions loaded for `name` (none for a model not configured).
  Versions Loaded(const std::string& name) const;
  void PollModel(const tensorflow::serving::ModelConfig& model);
  // Loads, replays its deltas and publishes one version, or records why not.
  void LoadVersion(const tensorflow::serving::ModelConfig& model, int64_t version);
  void ApplyVersionDeltas(const tensorflow::serving::ModelConfig& model, int64_t version,
                          const SavedModelBundle& bundle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(delta_mu_);
  // Drops the loaded versions not in `wanted`, unless none of those loaded.
  void UnloadUnwanted(const tensorflow::serving::ModelConfig& model,
                      const std::vector<int64_t>& wanted);
  absl::StatusOr<std::shared_ptr<const SavedModelBundle>> LoadBundle(const std::string& model,
                                                                     int64_t version,
                                                                     const std::string& dir) const;
  // Where a version not loaded yet stands.
  struct LoadState {
    uint64_t seen_hash = 0;  // The folder's snapshot hash at the last poll.
    bool seen = false;
    bool waiting_logged = false;
    int failures = 0;
    bool gave_up = false;
    absl::Time retry_after = absl::InfinitePast();
  };
  bool ReadyToLoad(const tensorflow::serving::ModelConfig& model, int64_t version);
  void RecordFailure(const tensorflow::serving::ModelConfig& model, int64_t version,
                     const absl::Status& status);
  void Log(const std::string& line) const;

  const Options options_;
  // Serializes polls and reloads; taken before delta_mu_ and mu_.
  absl::Mutex poll_mu_ ABSL_ACQUIRED_BEFORE(delta_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const tensorflow::serving::ModelServerConfig> config_ ABSL_GUARDED_BY(mu_);
  // The labels requests resolve: the config's, once they passed CheckLabels.
  LabelMap labels_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Versions> models_ ABSL_GUARDED_BY(mu_);
  // Versions on disk not loaded yet. Only Poll() touches it.
  std::map<std::pair<std::string, int64_t>, LoadState> load_states_;
  // The deltas applied to each loaded version.
  absl::Mutex delta_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<std::pair<std::string, int64_t>, DeltaProgress> delta_progress_
      ABSL_GUARDED_BY(delta_mu_);
  std::set<std::string> missing_base_paths_;
  VersionStates states_;
};

}  // namespace recship

#endif  // RECSHIP_SERVING_MODEL_MANAGER_H_
