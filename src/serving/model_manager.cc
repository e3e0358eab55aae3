#include "recship/serving/model_manager.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/core/status_macros.h"
#include "recship/serving/folder_snapshot.h"
#include "recship/serving/model_config.h"
#include "recship/serving/serving_metrics.h"
#include "recship/serving/warmup_replay.h"

namespace recship {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

using tensorflow::serving::ModelServerConfig;
using State = VersionStates::State;

std::string VersionPath(const tensorflow::serving::ModelConfig& model, int64_t version) {
  return (std::filesystem::path(model.base_path()) / std::to_string(version)).string();
}

// Each model's labels as `config` gives them.
ModelManager::LabelMap LabelsOf(const ModelServerConfig& config) {
  ModelManager::LabelMap labels;
  for (const auto& model : config.model_config_list().config()) {
    labels[model.name()].insert(model.version_labels().begin(), model.version_labels().end());
  }
  return labels;
}

// The version `spec` names, by number or by one of `labels`; none for the
// latest (or for a model not `configured`, which is not found). An unknown
// label is InvalidArgument, with TensorFlow Serving's message.
absl::StatusOr<std::optional<int64_t>> RequestedVersion(
    const ModelManager::LabelMap& labels, bool configured,
    const tensorflow::serving::ModelSpec& spec) {
  if (spec.has_version()) return spec.version().value();
  if (spec.version_label().empty() || !configured) return std::nullopt;
  auto model = labels.find(spec.name());
  if (model != labels.end()) {
    auto it = model->second.find(spec.version_label());
    if (it != model->second.end()) return it->second;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Unrecognized servable version label: ", spec.version_label()));
}

}  // namespace

ModelManager::ModelManager(ModelServerConfig config, Options options)
    : options_(std::move(options)) {
  absl::MutexLock lock(&mu_);
  config_ = std::make_shared<const ModelServerConfig>(std::move(config));
  labels_ = LabelsOf(*config_);
  for (const auto& model : config_->model_config_list().config()) models_[model.name()];
}

absl::Status ModelManager::CheckLabels() const { return CheckLabels(*config(), LabelMap()); }

absl::Status ModelManager::CheckLabels(const ModelServerConfig& config,
                                       const LabelMap& previous) const {
  for (const auto& model : config.model_config_list().config()) {
    const Versions loaded = Loaded(model.name());
    auto before = previous.find(model.name());
    for (const auto& [label, version] : model.version_labels()) {
      if (loaded.contains(version)) continue;
      const bool unused = before == previous.end() || !before->second.contains(label);
      if (options_.allow_version_labels_for_unavailable_models && unused) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "Request to assign label to version ", version, " of model ", model.name(),
          ", which is not currently available for inference (label '", label, "'",
          unused ? "; --allow_version_labels_for_unavailable_models allows it for a new label" : "",
          ")"));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<const ModelServerConfig> ModelManager::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

ModelManager::Versions ModelManager::Loaded(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = models_.find(name);
  return it == models_.end() ? Versions() : it->second;
}

void ModelManager::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void ModelManager::Poll() {
  PollVersions();
  ApplyDeltas();
}

void ModelManager::PollVersions() {
  absl::MutexLock lock(&poll_mu_);
  PollVersionsLocked();
}

void ModelManager::PollVersionsLocked() {
  std::shared_ptr<const ModelServerConfig> config = this->config();
  for (const auto& model : config->model_config_list().config()) PollModel(model);
}

void ModelManager::ApplyDeltas() {
  std::shared_ptr<const ModelServerConfig> config = this->config();
  absl::MutexLock deltas(&delta_mu_);
  for (const auto& model : config->model_config_list().config()) {
    for (const auto& [version, bundle] : Loaded(model.name())) {
      ApplyVersionDeltas(model, version, *bundle);
    }
  }
}

absl::Status ModelManager::Reload(ModelServerConfig config) {
  RECSHIP_RETURN_IF_ERROR(ValidateModelServerConfig(config));
  absl::MutexLock poll(&poll_mu_);
  std::vector<std::string> dropped;
  {
    absl::MutexLock lock(&mu_);
    std::set<std::string> names;
    for (const auto& model : config.model_config_list().config()) names.insert(model.name());
    for (const auto& [name, versions] : models_) {
      if (!names.contains(name)) dropped.push_back(name);
    }
    config_ = std::make_shared<const ModelServerConfig>(std::move(config));
    for (const std::string& name : names) models_[name];
  }
  for (const std::string& name : dropped) DropModel(name);
  PollVersionsLocked();
  // The labels change only if they name available versions; the models
  // changed either way, as in TensorFlow Serving.
  absl::Status result;
  {
    LabelMap previous;
    {
      absl::MutexLock lock(&mu_);
      previous = labels_;
    }
    result = CheckLabels(*this->config(), previous);
    if (result.ok()) {
      absl::MutexLock lock(&mu_);
      labels_ = LabelsOf(*config_);
    }
  }
  // A new model whose version failed to load fails the reload.
  for (const auto& model : this->config()->model_config_list().config()) {
    if (!Loaded(model.name()).empty()) continue;
    for (const auto& version : states_.Of(model.name())) {
      if (version.status().error_code() == tensorflow::error::OK) continue;
      result.Update(
          absl::Status(static_cast<absl::StatusCode>(version.status().error_code()),
                       absl::StrFormat("model '%s' version %d: %s", model.name(), version.version(),
                                       version.status().error_message())));
    }
  }
  return result;
}

void ModelManager::DropModel(const std::string& name) {
  Versions versions;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    versions = std::move(it->second);
    models_.erase(it);
  }
  for (auto& [version, bundle] : versions) {
    states_.Set(name, version, tensorflow::serving::ModelVersionStatus::UNLOADING);
    bundle.reset();  // Requests still running keep their own reference.
    {
      absl::MutexLock deltas(&delta_mu_);
      delta_progress_.erase({name, version});
    }
    states_.Set(name, version, tensorflow::serving::ModelVersionStatus::END);
    Log(absl::StrFormat("model '%s' version %d unloaded: the model is no longer configured", name,
                        version));
  }
  std::erase_if(load_states_, [&](const auto& entry) { return entry.first.first == name; });
  missing_base_paths_.erase(name);
  // Unloaded versions stay END; versions never loaded are forgotten.
  states_.ForgetIf(name, [](int64_t, State state) {
    return state != tensorflow::serving::ModelVersionStatus::END;
  });
}

absl::StatusOr<std::shared_ptr<const SavedModelBundle>> ModelManager::LoadBundle(
    const std::string& model, int64_t version, const std::string& dir) const {
  LoadOptions load_options;
  load_options.thread_pool = options_.thread_pool;
  load_options.remote_caller = options_.remote_caller;
  load_options.map_variables = options_.map_variables;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<SavedModelBundle>> loaded =
      SavedModelBundle::Load(dir, load_options);
  RecordLoad(dir, loaded.ok(), absl::Now() - start);
  RECSHIP_RETURN_IF_ERROR(loaded.status());
  std::unique_ptr<SavedModelBundle> bundle = *std::move(loaded);
  const absl::Time warmup_start = absl::Now();
  absl::StatusOr<int> warmed = ReplayWarmup(*bundle, options_.limits);
  if (!warmed.ok() || *warmed > 0) RecordWarmup(dir, warmed.status(), absl::Now() - warmup_start);
  RECSHIP_ASSIGN_OR_RETURN(int replayed, warmed);
  if (replayed > 0)
    Log(absl::StrFormat("model '%s' version %d: replayed %d warmup requests", model, version,
                        replayed));
  return std::shared_ptr<const SavedModelBundle>(std::move(bundle));
}

bool ModelManager::ReadyToLoad(const tensorflow::serving::ModelConfig& model, int64_t version) {
  absl::StatusOr<FolderSnapshot> snapshot = SnapshotFolder(VersionPath(model, version));
  if (!snapshot.ok()) return false;  // Vanished or changing mid-walk: look again next poll.
  LoadState& state = load_states_[{model.name(), version}];
  bool first_sight = !state.seen;
  if (first_sight)
    states_.Set(model.name(), version, tensorflow::serving::ModelVersionStatus::START);
  bool changed = first_sight || snapshot->hash != state.seen_hash;
  state.seen = true;
  state.seen_hash = snapshot->hash;
  if (changed && state.failures > 0) {
    // New files since the failures: a fresh set of attempts.
    state.failures = 0;
    state.gave_up = false;
    state.retry_after = absl::InfinitePast();
  }
  if (state.gave_up) return false;
  if (!snapshot->has_saved_model) {
    if (!state.waiting_logged) {
      Log(absl::StrFormat("model '%s' version %d: waiting for its saved_model.pb", model.name(),
                          version));
      state.waiting_logged = true;
    }
    return false;
  }
  // A folder seen before that changed since the last poll is still being
  // written; one seen for the first time is tried at once (recship and
  // TensorFlow publish versions whole, by renaming them into place).
  if (changed && !first_sight) return false;
  return ClockOrReal(options_.clock).Now() >= state.retry_after;
}

void ModelManager::RecordFailure(const tensorflow::serving::ModelConfig& model, int64_t version,
                                 const absl::Status& status) {
  LoadState& state = load_states_[{model.name(), version}];
  ++state.failures;
  if (state.failures > options_.max_num_load_retries) {
    state.gave_up = true;
    states_.Set(model.name(), version, tensorflow::serving::ModelVersionStatus::END, status);
    Log(absl::StrFormat(
        "model '%s' version %d failed to load: %s; giving up after %d attempts "
        "(--max_num_load_retries %d); it is tried again if its files change",
        model.name(), version, status.message(), state.failures, options_.max_num_load_retries));
    return;
  }
  state.retry_after = ClockOrReal(options_.clock).Now() + options_.load_retry_interval;
  // Still LOADING (it is retried), with the error so far.
  states_.Set(model.name(), version, tensorflow::serving::ModelVersionStatus::LOADING, status);
  Log(absl::StrFormat("model '%s' version %d failed to load (attempt %d of %d): %s; retrying in %s",
                      model.name(), version, state.failures, options_.max_num_load_retries + 1,
                      status.message(), absl::FormatDuration(options_.load_retry_interval)));
}

void ModelManager::PollModel(const tensorflow::serving::ModelConfig& model) {
  absl::StatusOr<std::vector<int64_t>> on_disk = ListVersions(model.base_path());
  if (!on_disk.ok()) {
    // Logged once, not on every poll.
    if (missing_base_paths_.insert(model.name()).second) {
      Log(absl::StrCat("model '", model.name(), "': ", on_disk.status().message()));
    }
    return;
  }
  missing_base_paths_.erase(model.name());
  std::vector<int64_t> wanted = AspiredVersions(model.model_version_policy(), *on_disk);
  Versions loaded = Loaded(model.name());
  // Forget the load state of versions no longer on disk.
  auto on_disk_now = [&](int64_t version) {
    return std::binary_search(on_disk->begin(), on_disk->end(), version);
  };
  for (auto it = load_states_.lower_bound({model.name(), INT64_MIN});
       it != load_states_.end() && it->first.first == model.name();) {
    it = on_disk_now(it->first.second) ? std::next(it) : load_states_.erase(it);
  }
  states_.ForgetIf(model.name(), [&](int64_t version, State) {
    return !on_disk_now(version) && !loaded.contains(version);
  });
  // Load first ...
  for (int64_t version : wanted) {
    if (!loaded.contains(version) && ReadyToLoad(model, version)) LoadVersion(model, version);
  }
  // ... then unload what the policy no longer wants, but never the last
  // version standing when nothing newer loaded.
  UnloadUnwanted(model, wanted);
}

void ModelManager::LoadVersion(const tensorflow::serving::ModelConfig& model, int64_t version) {
  auto start = std::chrono::steady_clock::now();
  states_.Set(model.name(), version, tensorflow::serving::ModelVersionStatus::LOADING);
  std::string dir = VersionPath(model, version);
  absl::StatusOr<std::shared_ptr<const SavedModelBundle>> bundle =
      options_.loader ? options_.loader(model.name(), version, dir)
                      : LoadBundle(model.name(), version, dir);
  if (!bundle.ok()) {
    RecordFailure(model, version, bundle.status());
    return;
  }
  load_states_.erase({model.name(), version});
  // A restarted server replays the deltas it finds before it serves, so it
  // serves what a server that stayed up does.
  {
    absl::MutexLock deltas(&delta_mu_);
    delta_progress_[{model.name(), version}] = DeltaProgress();
    ApplyVersionDeltas(model, version, **bundle);
    absl::MutexLock lock(&mu_);
    models_[model.name()][version] = *bundle;
  }
  states_.Set(model.name(), version, tensorflow::serving::ModelVersionStatus::AVAILABLE);
  for (const std::string& note : (*bundle)->load_notes()) {
    Log(absl::StrFormat("model '%s' version %d: %s", model.name(), version, note));
  }
  Log(absl::StrFormat(
      "model '%s' version %d loaded in %.3f s (%.1f MiB of tables and variables in the heap, "
      "%.1f MiB of table rows mapped, %d table indexes mapped)",
      model.name(), version, SecondsSince(start), (*bundle)->ResourceBytes() / 1048576.0,
      (*bundle)->MappedBytes() / 1048576.0, (*bundle)->mapped_table_indexes()));
}

void ModelManager::ApplyVersionDeltas(const tensorflow::serving::ModelConfig& model,
                                      int64_t version, const SavedModelBundle& bundle) {
  ApplyNewDeltas(bundle, model.base_path(), version, delta_progress_[{model.name(), version}],
                 [&](const std::string& line) {
                   Log(absl::StrFormat("model '%s' version %d: %s", model.name(), version, line));
                 });
}

void ModelManager::UnloadUnwanted(const tensorflow::serving::ModelConfig& model,
                                  const std::vector<int64_t>& wanted) {
  std::vector<std::shared_ptr<const SavedModelBundle>> dropped;
  std::vector<int64_t> dropped_versions;
  {
    absl::MutexLock lock(&mu_);
    Versions& versions = models_[model.name()];
    bool any_wanted_loaded = false;
    for (int64_t v : wanted) any_wanted_loaded |= versions.contains(v);
    for (auto it = versions.begin(); it != versions.end();) {
      bool keep =
          std::find(wanted.begin(), wanted.end(), it->first) != wanted.end() || !any_wanted_loaded;
      if (keep) {
        ++it;
        continue;
      }
      dropped.push_back(std::move(it->second));
      dropped_versions.push_back(it->first);
      states_.Set(model.name(), it->first, tensorflow::serving::ModelVersionStatus::UNLOADING);
      it = versions.erase(it);
    }
  }
  for (size_t i = 0; i < dropped.size(); ++i) {
    auto start = std::chrono::steady_clock::now();
    // Requests still running keep their own reference; the memory goes with
    // the last of them.
    dropped[i].reset();
    {
      absl::MutexLock deltas(&delta_mu_);
      delta_progress_.erase({model.name(), dropped_versions[i]});
    }
    states_.Set(model.name(), dropped_versions[i], tensorflow::serving::ModelVersionStatus::END);
    Log(absl::StrFormat("model '%s' version %d unloaded in %.3f s", model.name(),
                        dropped_versions[i], SecondsSince(start)));
  }
}

absl::StatusOr<ServableHandle> ModelManager::Get(const tensorflow::serving::ModelSpec& spec) const {
  if (spec.name().empty()) return absl::InvalidArgumentError("the model spec names no model");
  absl::MutexLock lock(&mu_);
  RECSHIP_ASSIGN_OR_RETURN(std::optional<int64_t> version,
                           RequestedVersion(labels_, models_.contains(spec.name()), spec));
  auto model = models_.find(spec.name());
  std::string request = version ? absl::StrCat("Specific(", spec.name(), ", ", *version, ")")
                                : absl::StrCat("Latest(", spec.name(), ")");
  if (model == models_.end() || model->second.empty()) {
    return absl::NotFoundError(absl::StrCat("Servable not found for request: ", request));
  }
  auto it = version ? model->second.find(*version) : std::prev(model->second.end());
  if (it == model->second.end()) {
    return absl::NotFoundError(absl::StrCat("Servable not found for request: ", request));
  }
  return ServableHandle{spec.name(), it->first, it->second};
}

absl::StatusOr<tensorflow::serving::GetModelStatusResponse> ModelManager::GetStatus(
    const tensorflow::serving::ModelSpec& spec) const {
  std::optional<int64_t> version;
  {
    absl::MutexLock lock(&mu_);
    RECSHIP_ASSIGN_OR_RETURN(version,
                             RequestedVersion(labels_, models_.contains(spec.name()), spec));
  }
  tensorflow::serving::GetModelStatusResponse response;
  for (const auto& status : states_.Of(spec.name())) {
    if (!version || status.version() == *version) *response.add_model_version_status() = status;
  }
  if (response.model_version_status_size() > 0) return response;
  if (version) {
    return absl::NotFoundError(
        absl::StrCat("Could not find version ", *version, " of model ", spec.name()));
  }
  return absl::NotFoundError(absl::StrCat("Could not find any versions of model ", spec.name()));
}

std::vector<ServableHandle> ModelManager::LoadedVersions() const {
  absl::MutexLock lock(&mu_);
  std::vector<ServableHandle> loaded;
  for (const auto& [name, versions] : models_) {
    for (const auto& [version, bundle] : versions) loaded.push_back({name, version, bundle});
  }
  return loaded;
}

std::map<std::string, bool> ModelManager::ModelsReady() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, bool> ready;
  for (const auto& [name, versions] : models_) ready[name] = !versions.empty();
  return ready;
}

}  // namespace recship
