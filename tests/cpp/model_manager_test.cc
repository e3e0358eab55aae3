// serving/model_manager: versions' life cycle over hand-built SavedModels:
// polling, policies and labels, swaps without a gap, broken versions, warmup,
// missing base paths, and, through the loader and clock seams, retries and
// the order of a swap.
#include "recship/serving/model_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/core/clock.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/model_config.h"
#include "test_util.h"
#include "tiny_model.h"

namespace recship {
namespace {

using ::recship::testing::Floats;
using ::recship::testing::FloatVector;
using ::recship::testing::IsError;
using ::recship::testing::PredictRecord;
using ::recship::testing::TempDir;
using ::recship::testing::TinyMeta;
using ::recship::testing::WriteBytes;
using ::recship::testing::WriteTinyVersion;
using ::recship::testing::WriteWarmup;
using ::recship::testing::XRequest;
using tensorflow::serving::ModelServerConfig;
using tensorflow::serving::ModelSpec;
using tensorflow::serving::ModelVersionStatus;
using tensorflow::serving::PredictRequest;
using Code = absl::StatusCode;
using VersionPolicy = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// ---------------------------------------------------------------------------
// ModelManager.

class ModelManagerTest : public ::testing::Test {
 protected:
  std::string base() const { return dir_.Join("m"); }

  ModelManager::Options Options() {
    ModelManager::Options options;
    options.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
    return options;
  }

  ModelServerConfig Config(const VersionPolicy& policy = {}) {
    ModelServerConfig config = SingleModelConfig("m", base());
    auto* model = config.mutable_model_config_list()->mutable_config(0);
    *model->mutable_model_version_policy() = policy;
    (*model->mutable_version_labels())["stable"] = 1;
    (*model->mutable_version_labels())["canary"] = 2;
    return config;
  }

  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }
  int LogLinesWith(const std::string& text) {
    std::vector<std::string> log = Log();
    return static_cast<int>(std::count_if(log.begin(), log.end(), [&](const std::string& line) {
      return absl::StrContains(line, text);
    }));
  }
  // The index of the first log line containing `text`, or -1.
  int LogIndex(const std::string& text) {
    std::vector<std::string> log = Log();
    for (size_t i = 0; i < log.size(); ++i) {
      if (absl::StrContains(log[i], text)) return static_cast<int>(i);
    }
    return -1;
  }

  TempDir dir_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

ModelSpec Latest(const std::string& name = "m") {
  ModelSpec spec;
  spec.set_name(name);
  return spec;
}
ModelSpec Version(int64_t version, const std::string& name = "m") {
  ModelSpec spec = Latest(name);
  spec.mutable_version()->set_value(version);
  return spec;
}
ModelSpec Label(const std::string& label) {
  ModelSpec spec = Latest();
  spec.set_version_label(label);
  return spec;
}

// y for x = {0} on the handle's model, which is its version.
float Answer(const ServableHandle& handle) {
  auto out = handle.model->RunSignature(kDefaultServingSignatureKey, {{"x", FloatVector({0})}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return -1;
  std::vector<float> y = Floats((*out)["y"]);
  return y.size() == 1 ? y[0] : -1;
}

TEST_F(ModelManagerTest, NothingServesBeforeThePoll) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ModelManager manager(Config(), Options());
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", false}}));
  EXPECT_TRUE(IsError(manager.Get(Latest()).status(), Code::kNotFound,
                      {"Servable not found for request: Latest(m)"}));
}

TEST_F(ModelManagerTest, PollLoadsTheLatestAndGetFindsVersionsAndLabels) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ASSERT_OK(WriteTinyVersion(base(), 2).status());
  ModelManager manager(Config(), Options());
  manager.Poll();
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", true}}));
  EXPECT_EQ(LogLinesWith("model 'm' version 2 loaded"), 1);
  EXPECT_EQ(LogLinesWith("version 1"), 0);

  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.name, "m");
  EXPECT_EQ(latest.version, 2);
  EXPECT_EQ(Answer(latest), 2);
  ASSERT_OK_AND_ASSIGN(ServableHandle two, manager.Get(Version(2)));
  EXPECT_EQ(two.model, latest.model);
  ASSERT_OK_AND_ASSIGN(ServableHandle canary, manager.Get(Label("canary")));
  EXPECT_EQ(canary.version, 2);

  // TensorFlow Serving's code and wording.
  EXPECT_TRUE(IsError(manager.Get(Version(1)).status(), Code::kNotFound,
                      {"Servable not found for request: Specific(m, 1)"}));
  EXPECT_TRUE(IsError(manager.Get(Label("stable")).status(), Code::kNotFound,
                      {"Servable not found for request: Specific(m, 1)"}));
  EXPECT_TRUE(IsError(manager.Get(Version(3)).status(), Code::kNotFound,
                      {"Servable not found for request: Specific(m, 3)"}));
  EXPECT_TRUE(IsError(manager.Get(Latest("other")).status(), Code::kNotFound,
                      {"Servable not found for request: Latest(other)"}));
  EXPECT_TRUE(IsError(manager.Get(Version(2, "other")).status(), Code::kNotFound,
                      {"Servable not found for request: Specific(other, 2)"}));
  EXPECT_TRUE(IsError(manager.Get(Label("beta")).status(), Code::kInvalidArgument,
                      {"Unrecognized servable version label: beta"}));
  EXPECT_TRUE(IsError(manager.Get(Latest("")).status(), Code::kInvalidArgument));

  // A second poll with nothing new changes nothing.
  size_t lines = Log().size();
  manager.Poll();
  EXPECT_EQ(Log().size(), lines);
  ASSERT_OK_AND_ASSIGN(ServableHandle again, manager.Get(Latest()));
  EXPECT_EQ(again.model, latest.model);
}

TEST_F(ModelManagerTest, PoliciesPickTheVersionsServed) {
  for (int64_t v : {1, 2, 3}) ASSERT_OK(WriteTinyVersion(base(), v).status());
  struct Case {
    std::string name;
    VersionPolicy policy;
    std::vector<int64_t> served;
  };
  std::vector<Case> cases(4);
  cases[0] = {"latest", {}, {3}};
  cases[1].name = "latest 2";
  cases[1].policy.mutable_latest()->set_num_versions(2);
  cases[1].served = {2, 3};
  cases[2].name = "all";
  cases[2].policy.mutable_all();
  cases[2].served = {1, 2, 3};
  cases[3].name = "specific 1, 3, 4";
  for (int64_t v : {1, 3, 4}) cases[3].policy.mutable_specific()->add_versions(v);
  cases[3].served = {1, 3};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ModelManager manager(Config(c.policy), Options());
    manager.Poll();
    for (int64_t v : {1, 2, 3, 4}) {
      bool served = std::find(c.served.begin(), c.served.end(), v) != c.served.end();
      absl::StatusOr<ServableHandle> handle = manager.Get(Version(v));
      EXPECT_EQ(handle.ok(), served) << "version " << v << ": " << handle.status();
      if (handle.ok()) {
        EXPECT_EQ(Answer(*handle), static_cast<float>(v));
      }
    }
    ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
    EXPECT_EQ(latest.version, c.served.back());
  }
}

TEST_F(ModelManagerTest, ANewVersionSwapsInWithoutAGap) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ModelManager manager(Config(), Options());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle old, manager.Get(Latest()));
  ASSERT_EQ(old.version, 1);
  ASSERT_OK(WriteTinyVersion(base(), 2).status());

  // Requests during the poll always find a version, and never go back.
  std::atomic<bool> done{false};
  std::atomic<int> errors{0}, went_back{0};
  std::thread reader([&] {
    int64_t last = 1;
    while (!done.load()) {
      absl::StatusOr<ServableHandle> handle = manager.Get(Latest());
      if (!handle.ok()) {
        ++errors;
        continue;
      }
      if (handle->version < last) ++went_back;
      last = handle->version;
      if (Answer(*handle) != static_cast<float>(handle->version)) ++errors;
    }
  });
  manager.Poll();
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(went_back.load(), 0);

  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 2);
  EXPECT_EQ(Answer(latest), 2);
  EXPECT_TRUE(IsError(manager.Get(Version(1)).status(), Code::kNotFound, {"Specific(m, 1)"}));
  // Both were loaded at once: version 2 was published before 1 went.
  int loaded = LogIndex("version 2 loaded"), unloaded = LogIndex("version 1 unloaded");
  ASSERT_GE(loaded, 0);
  ASSERT_GE(unloaded, 0);
  EXPECT_LT(loaded, unloaded);
  // A request still holding version 1 finishes on it.
  EXPECT_EQ(Answer(old), 1);
  EXPECT_EQ(old.version, 1);
}

TEST_F(ModelManagerTest, ARemovedLatestVersionFallsBackToTheOneBefore) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ASSERT_OK_AND_ASSIGN(std::string two, WriteTinyVersion(base(), 2));
  ModelManager manager(Config(), Options());
  manager.Poll();
  std::filesystem::remove_all(two);
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 1);
  EXPECT_EQ(Answer(latest), 1);
  EXPECT_TRUE(IsError(manager.Get(Version(2)).status(), Code::kNotFound));
}

TEST_F(ModelManagerTest, ABrokenNewVersionIsLoggedOnceAndTheOldOneKeepsServing) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ModelManager manager(Config(), Options());
  manager.Poll();
  std::filesystem::create_directories(base() + "/2");
  WriteBytes(base() + "/2/saved_model.pb", "\x0a\xff\xff garbage");
  manager.Poll();
  EXPECT_EQ(LogLinesWith("model 'm' version 2 failed to load"), 1);
  EXPECT_EQ(LogLinesWith(base() + "/2/saved_model.pb"), 1);
  EXPECT_EQ(LogLinesWith("unloaded"), 0);
  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 1);
  EXPECT_EQ(Answer(latest), 1);
  EXPECT_TRUE(IsError(manager.Get(Version(2)).status(), Code::kNotFound, {"Specific(m, 2)"}));
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", true}}));

  // Not retried, even once the folder is fixed, until the server restarts.
  manager.Poll();
  std::filesystem::remove_all(base() + "/2");
  ASSERT_OK(WriteTinyVersion(base(), 2).status());
  manager.Poll();
  EXPECT_EQ(LogLinesWith("version 2 failed to load"), 1);
  EXPECT_EQ(LogLinesWith("version 2 loaded"), 0);
  ASSERT_OK_AND_ASSIGN(latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 1);

  // A later good version still replaces version 1.
  ASSERT_OK(WriteTinyVersion(base(), 3).status());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 3);
  EXPECT_EQ(LogLinesWith("version 1 unloaded"), 1);
  // A fresh manager (a restarted server) loads the fixed version 2 when asked.
  VersionPolicy all;
  all.mutable_all();
  ModelManager restarted(Config(all), Options());
  restarted.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle two, restarted.Get(Version(2)));
  EXPECT_EQ(Answer(two), 2);
}

TEST_F(ModelManagerTest, AFailingWarmupFailsTheVersion) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ModelManager manager(Config(), Options());
  manager.Poll();
  // Written as temp-2 and renamed, as an exporter would.
  ASSERT_OK_AND_ASSIGN(SavedModelWriter writer, SavedModelWriter::Begin(base(), 2));
  tensorflow::SavedModel saved_model;
  *saved_model.add_meta_graphs() = TinyMeta(2);
  ASSERT_OK(writer.WriteSavedModel(saved_model));
  PredictRequest wrong_dtype;
  (*wrong_dtype.mutable_inputs())["x"] = TensorToProto(Tensor::FromVector<int64_t>({1}, {1}));
  ASSERT_OK(WriteWarmup(writer.path(), {PredictRecord(XRequest({1})), PredictRecord(wrong_dtype)}));
  ASSERT_OK(writer.Commit().status());
  manager.Poll();
  EXPECT_EQ(LogLinesWith("version 2 failed to load"), 1);
  EXPECT_EQ(LogLinesWith("warmup record 1"), 1);
  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 1);
}

TEST_F(ModelManagerTest, AGoodWarmupIsReplayedBeforeTheVersionServes) {
  ASSERT_OK_AND_ASSIGN(std::string one, WriteTinyVersion(base(), 1));
  ASSERT_OK(WriteWarmup(one, {PredictRecord(XRequest({1})), PredictRecord(XRequest({2, 3}))}));
  ModelManager manager(Config(), Options());
  manager.Poll();
  EXPECT_EQ(LogLinesWith("model 'm' version 1: replayed 2 warmup requests"), 1);
  EXPECT_LT(LogIndex("replayed 2 warmup"), LogIndex("version 1 loaded"));
  ASSERT_OK(manager.Get(Latest()).status());
}

TEST_F(ModelManagerTest, AMissingBasePathIsLoggedOnceAndPickedUpLater) {
  ModelServerConfig config = Config();
  auto* other = config.mutable_model_config_list()->add_config();
  other->set_name("other");
  other->set_base_path(dir_.Join("other"));
  ASSERT_OK(WriteTinyVersion(dir_.Join("other"), 5).status());
  ModelManager manager(config, Options());
  manager.Poll();
  manager.Poll();
  EXPECT_EQ(LogLinesWith(base()), 1);
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", false}, {"other", true}}));
  ASSERT_OK_AND_ASSIGN(ServableHandle five, manager.Get(Latest("other")));
  EXPECT_EQ(five.version, 5);
  EXPECT_TRUE(IsError(manager.Get(Latest()).status(), Code::kNotFound, {"Latest(m)"}));

  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  manager.Poll();
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", true}, {"other", true}}));
  ASSERT_OK_AND_ASSIGN(ServableHandle one, manager.Get(Latest()));
  EXPECT_EQ(Answer(one), 1);
}

TEST_F(ModelManagerTest, AnEmptyBasePathIsNotReady) {
  std::filesystem::create_directories(base() + "/temp-1");
  ModelManager manager(Config(), Options());
  manager.Poll();
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", false}}));
  EXPECT_TRUE(Log().empty());
}

// ---------------------------------------------------------------------------
// ModelManager through its seams: a loader that fails on demand and a clock
// the test moves, so retries and swaps are checked without waiting.

class FakeClock : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
};

// Loads versions from disk, except that the next `failures` loads fail.
struct FlakyLoader {
  int failures = 0;
  std::vector<std::pair<std::string, int64_t>> calls;

  absl::StatusOr<std::shared_ptr<const SavedModelBundle>> operator()(const std::string& model,
                                                                     int64_t version,
                                                                     const std::string& dir) {
    calls.emplace_back(model, version);
    if (failures > 0) {
      --failures;
      return absl::UnavailableError("injected load failure");
    }
    RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<SavedModelBundle> bundle, SavedModelBundle::Load(dir));
    return std::shared_ptr<const SavedModelBundle>(std::move(bundle));
  }
};

TEST_F(ModelManagerTest, AFailedLoadIsRetriedAfterTheIntervalThenGivenUp) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  FakeClock clock;
  FlakyLoader loader{.failures = 100};
  ModelManager::Options options = Options();
  options.clock = &clock;
  options.max_num_load_retries = 2;
  options.load_retry_interval = absl::Seconds(30);
  options.loader = [&](const std::string& m, int64_t v, const std::string& d) {
    return loader(m, v, d);
  };
  ModelManager manager(Config(), options);
  manager.Poll();
  EXPECT_EQ(loader.calls.size(), 1u);
  EXPECT_EQ(LogLinesWith("failed to load (attempt 1 of 3): injected load failure; retrying in 30s"),
            1);
  // Still LOADING while it waits for a retry, with the error so far.
  ASSERT_OK_AND_ASSIGN(auto status, manager.GetStatus(Latest()));
  ASSERT_EQ(status.model_version_status_size(), 1);
  EXPECT_EQ(status.model_version_status(0).state(), ModelVersionStatus::LOADING);
  EXPECT_EQ(status.model_version_status(0).status().error_code(), tensorflow::error::UNAVAILABLE);
  EXPECT_EQ(status.model_version_status(0).status().error_message(), "injected load failure");
  manager.Poll();  // Before the interval: no new attempt.
  EXPECT_EQ(loader.calls.size(), 1u);
  clock.Advance(absl::Seconds(30));
  manager.Poll();
  EXPECT_EQ(loader.calls.size(), 2u);
  clock.Advance(absl::Seconds(30));
  manager.Poll();
  EXPECT_EQ(loader.calls.size(), 3u);
  EXPECT_EQ(LogLinesWith("giving up after 3 attempts (--max_num_load_retries 2)"), 1);
  ASSERT_OK_AND_ASSIGN(status, manager.GetStatus(Latest()));
  EXPECT_EQ(status.model_version_status(0).state(), ModelVersionStatus::END);
  EXPECT_EQ(status.model_version_status(0).status().error_message(), "injected load failure");
  clock.Advance(absl::Hours(1));
  manager.Poll();
  EXPECT_EQ(loader.calls.size(), 3u) << "given up: not tried again while its files are unchanged";
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"m", false}}));
}

TEST_F(ModelManagerTest, ALoadThatSucceedsOnRetryServes) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  FakeClock clock;
  FlakyLoader loader{.failures = 1};
  ModelManager::Options options = Options();
  options.clock = &clock;
  options.load_retry_interval = absl::Seconds(5);
  options.loader = [&](const std::string& m, int64_t v, const std::string& d) {
    return loader(m, v, d);
  };
  ModelManager manager(Config(), options);
  manager.Poll();
  EXPECT_TRUE(IsError(manager.Get(Latest()).status(), Code::kNotFound, {"Latest(m)"}));
  clock.Advance(absl::Seconds(5));
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(Answer(latest), 1);
  EXPECT_EQ(loader.calls, (std::vector<std::pair<std::string, int64_t>>{{"m", 1}, {"m", 1}}));
}

TEST_F(ModelManagerTest, ASwapLoadsTheNewVersionBeforeUnloadingTheOld) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  FlakyLoader loader;
  ModelManager::Options options = Options();
  ServableHandle held;
  ModelManager* manager_ptr = nullptr;
  options.loader = [&](const std::string& m, int64_t v, const std::string& d) {
    // While version 2 loads, version 1 still serves.
    if (v == 2) {
      absl::StatusOr<ServableHandle> during = manager_ptr->Get(Latest());
      EXPECT_TRUE(during.ok() && during->version == 1);
    }
    return loader(m, v, d);
  };
  ModelManager manager(Config(), options);
  manager_ptr = &manager;
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(held, manager.Get(Latest()));
  ASSERT_OK(WriteTinyVersion(base(), 2).status());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle latest, manager.Get(Latest()));
  EXPECT_EQ(latest.version, 2);
  EXPECT_EQ(Answer(latest), 2);
  EXPECT_LT(LogIndex("version 2 loaded"), LogIndex("version 1 unloaded"));
  // A request that held version 1 finishes on it after the swap.
  EXPECT_EQ(Answer(held), 1);
}

// (version, state, error code) of each version GetStatus reports.
std::vector<std::tuple<int64_t, ModelVersionStatus::State, int>> States(const ModelManager& manager,
                                                                        const ModelSpec& spec) {
  std::vector<std::tuple<int64_t, ModelVersionStatus::State, int>> states;
  absl::StatusOr<tensorflow::serving::GetModelStatusResponse> response = manager.GetStatus(spec);
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) return states;
  for (const auto& v : response->model_version_status()) {
    states.emplace_back(v.version(), v.state(), static_cast<int>(v.status().error_code()));
  }
  return states;
}

TEST_F(ModelManagerTest, GetStatusReportsEachVersionsLifeCycle) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ModelManager::Options options = Options();
  std::vector<std::tuple<int64_t, ModelVersionStatus::State, int>> while_loading;
  ModelManager* manager_ptr = nullptr;
  FlakyLoader loader;
  options.loader = [&](const std::string& m, int64_t v, const std::string& d) {
    if (v == 2) while_loading = States(*manager_ptr, Latest());
    return loader(m, v, d);
  };
  ModelManager manager(Config(), options);
  manager_ptr = &manager;
  EXPECT_TRUE(IsError(manager.GetStatus(Latest()).status(), Code::kNotFound,
                      {"Could not find any versions of model m"}));
  manager.Poll();
  using S = ModelVersionStatus;
  EXPECT_EQ(States(manager, Latest()),
            (std::vector<std::tuple<int64_t, S::State, int>>{{1, S::AVAILABLE, 0}}));
  ASSERT_OK(WriteTinyVersion(base(), 2).status());
  manager.Poll();
  EXPECT_EQ(while_loading, (std::vector<std::tuple<int64_t, S::State, int>>{{2, S::LOADING, 0},
                                                                            {1, S::AVAILABLE, 0}}));
  // Newest first; the version the policy dropped is END.
  EXPECT_EQ(States(manager, Latest()), (std::vector<std::tuple<int64_t, S::State, int>>{
                                           {2, S::AVAILABLE, 0}, {1, S::END, 0}}));
  EXPECT_EQ(States(manager, Version(1)),
            (std::vector<std::tuple<int64_t, S::State, int>>{{1, S::END, 0}}));
  EXPECT_EQ(States(manager, Label("canary")),
            (std::vector<std::tuple<int64_t, S::State, int>>{{2, S::AVAILABLE, 0}}));
  EXPECT_TRUE(IsError(manager.GetStatus(Version(7)).status(), Code::kNotFound,
                      {"Could not find version 7 of model m"}));
  EXPECT_TRUE(IsError(manager.GetStatus(Label("nightly")).status(), Code::kInvalidArgument,
                      {"Unrecognized servable version label: nightly"}));
  // A version folder removed from disk is forgotten once it is unloaded.
  std::filesystem::remove_all(std::filesystem::path(base()) / "1");
  manager.Poll();
  EXPECT_EQ(States(manager, Latest()),
            (std::vector<std::tuple<int64_t, S::State, int>>{{2, S::AVAILABLE, 0}}));
}

TEST_F(ModelManagerTest, ReloadAddsAndRemovesModelsWhileTheOthersServe) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  const std::string other = dir_.Join("other");
  ASSERT_OK(WriteTinyVersion(other, 5).status());
  ModelManager manager(SingleModelConfig("m", base()), Options());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle held, manager.Get(Latest()));

  ModelServerConfig both = SingleModelConfig("m", base());
  auto* added = both.mutable_model_config_list()->add_config();
  added->set_name("other");
  added->set_base_path(other);
  ASSERT_OK(manager.Reload(both));
  // Loaded before Reload returned; m was not reloaded.
  ASSERT_OK_AND_ASSIGN(ServableHandle got, manager.Get(Latest("other")));
  EXPECT_EQ(Answer(got), 5);
  EXPECT_EQ(manager.Get(Latest())->model, held.model);

  ASSERT_OK(manager.Reload(SingleModelConfig("other", other)));
  EXPECT_TRUE(IsError(manager.Get(Latest()).status(), Code::kNotFound, {"Latest(m)"}));
  EXPECT_EQ(manager.ModelsReady(), (std::map<std::string, bool>{{"other", true}}));
  using S = ModelVersionStatus;
  EXPECT_EQ(States(manager, Latest()),
            (std::vector<std::tuple<int64_t, S::State, int>>{{1, S::END, 0}}));
  EXPECT_EQ(Answer(held), 1) << "a request holding the removed model finishes on it";
  manager.Poll();  // A poll after the reload does not bring m back.
  EXPECT_FALSE(manager.ModelsReady().contains("m"));

  // An invalid config changes nothing; a new model that fails to load fails
  // the reload, naming it.
  ModelServerConfig twice = SingleModelConfig("other", other);
  *twice.mutable_model_config_list()->add_config() = twice.model_config_list().config(0);
  EXPECT_FALSE(manager.Reload(twice).ok());
  EXPECT_TRUE(manager.Get(Latest("other")).ok());
  const std::string broken = dir_.Join("broken");
  std::filesystem::create_directories(std::filesystem::path(broken) / "3");
  WriteBytes((std::filesystem::path(broken) / "3" / "saved_model.pb").string(), "not a proto");
  ModelServerConfig with_broken = SingleModelConfig("other", other);
  auto* bad = with_broken.mutable_model_config_list()->add_config();
  bad->set_name("broken");
  bad->set_base_path(broken);
  absl::Status reloaded = manager.Reload(with_broken);
  EXPECT_FALSE(reloaded.ok());
  EXPECT_TRUE(absl::StrContains(reloaded.message(), "model 'broken' version 3")) << reloaded;
  EXPECT_TRUE(manager.Get(Latest("other")).ok());
}

TEST_F(ModelManagerTest, LabelsMustNameLoadedVersionsUnlessNewAndAllowed) {
  ASSERT_OK(WriteTinyVersion(base(), 1).status());
  ASSERT_OK(WriteTinyVersion(base(), 2).status());
  VersionPolicy all;
  all.mutable_all();
  ModelManager::Options options = Options();
  ModelServerConfig config = Config(all);  // stable = 1, canary = 2.
  {
    ModelManager manager(config, options);
    manager.Poll();
    ASSERT_OK(manager.CheckLabels());
    // canary moved to version 3, not on disk: refused, the old labels kept.
    (*config.mutable_model_config_list()->mutable_config(0)->mutable_version_labels())["canary"] =
        3;
    EXPECT_TRUE(IsError(manager.Reload(config), Code::kFailedPrecondition,
                        {"version 3 of model m", "not currently available", "'canary'"}));
    ASSERT_OK_AND_ASSIGN(ServableHandle canary, manager.Get(Label("canary")));
    EXPECT_EQ(canary.version, 2);
  }
  options.allow_version_labels_for_unavailable_models = true;
  ModelManager manager(Config(all), options);
  manager.Poll();
  // Even allowed, an existing label may not move to a version not loaded ...
  EXPECT_TRUE(IsError(manager.Reload(config), Code::kFailedPrecondition, {"'canary'"}));
  // ... but a new one may name it, and resolves once it loads.
  ModelServerConfig nightly = Config(all);
  (*nightly.mutable_model_config_list()->mutable_config(0)->mutable_version_labels())["nightly"] =
      3;
  ASSERT_OK(manager.Reload(nightly));
  EXPECT_TRUE(IsError(manager.Get(Label("nightly")).status(), Code::kNotFound, {"Specific(m, 3)"}));
  ASSERT_OK(WriteTinyVersion(base(), 3).status());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle got, manager.Get(Label("nightly")));
  EXPECT_EQ(Answer(got), 3);
}

}  // namespace
}  // namespace recship
