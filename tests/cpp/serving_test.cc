// serving/ without gRPC: the model config file, version folders and
// policies, RunPredict's batch limit, warmup replay, and ModelManager's
// version life cycle over hand-built SavedModels and a StandaloneExporter
// export.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/export/standalone_exporter.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/graph/ops.h"
#include "recship/model/checkpoint.h"
#include "recship/model/layers.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "recship/serving/warmup_replay.h"
#include "saved_model_builder.h"
#include "tensorflow_serving/apis/prediction_log.pb.h"
#include "test_util.h"
#include "word_user_model.h"

namespace recship::serving {
namespace {

using ::recship::testing::GraphBuilder;
using ::recship::testing::Info;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::MetaGraph;
using ::recship::testing::Signature;
using ::recship::testing::TempDir;
using ::recship::testing::WordUserInputs;
using ::recship::testing::WordUserModel;
using ::recship::testing::WriteBytes;
using ::recship::testing::WriteVersion;
using ::tensorflow::DT_FLOAT;
using ::tensorflow::DT_INT64;
using ::tensorflow::serving::ModelServerConfig;
using ::tensorflow::serving::ModelSpec;
using ::tensorflow::serving::PredictionLog;
using ::tensorflow::serving::PredictRequest;
using ::tensorflow::serving::PredictResponse;
using Code = absl::StatusCode;
using VersionPolicy = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// ---------------------------------------------------------------------------
// A tiny model: serving_default answers y = x + <version>, so a test can tell
// versions apart; "bags" takes a SparseTensor bag as bag_indices, bag_values
// and bag_dense_shape plus a dense input.

tensorflow::MetaGraphDef TinyMeta(float offset) {
  GraphBuilder g;
  g.Placeholder("x", DT_FLOAT);
  g.Op("y", "AddV2", {"x", g.Const("offset", Tensor::FromVector<float>({}, {offset}))}, DT_FLOAT);
  g.Placeholder("bag_indices", DT_INT64);
  g.Placeholder("bag_values", DT_INT64);
  g.Placeholder("bag_dense_shape", DT_INT64);
  g.Placeholder("dense", DT_FLOAT);
  g.Op("values_out", "Identity", {"bag_values"}, DT_INT64);
  g.Op("dense_out", "Identity", {"dense"}, DT_FLOAT);
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({{"x", Info("x:0", DT_FLOAT, {-1})}}, {{"y", Info("y:0", DT_FLOAT, {-1})}});
  (*meta.mutable_signature_def())["bags"] =
      Signature({{"bag_indices", Info("bag_indices:0", DT_INT64, {-1, 2})},
                 {"bag_values", Info("bag_values:0", DT_INT64, {-1})},
                 {"bag_dense_shape", Info("bag_dense_shape:0", DT_INT64, {2})},
                 {"dense", Info("dense:0", DT_FLOAT, {-1})}},
                {{"values", Info("values_out:0", DT_INT64, {-1})},
                 {"dense", Info("dense_out:0", DT_FLOAT, {-1})}});
  return meta;
}

absl::StatusOr<std::string> WriteTinyVersion(const std::string& base, int64_t version) {
  return WriteVersion(base, version, TinyMeta(static_cast<float>(version)));
}

std::vector<float> Floats(const Tensor& t) {
  if (t.dtype() != DT_FLOAT) return {};
  return std::vector<float>(t.flat<float>().begin(), t.flat<float>().end());
}

Tensor FloatVector(const std::vector<float>& values) {
  return Tensor::FromVector<float>({static_cast<int64_t>(values.size())}, values);
}

PredictRequest XRequest(const std::vector<float>& x) {
  PredictRequest request;
  request.mutable_model_spec()->set_name("m");
  (*request.mutable_inputs())["x"] = TensorToProto(FloatVector(x));
  return request;
}

// A bag request: `entries` ids spread over `rows` rows, and `dense_rows`
// dense values.
PredictRequest BagRequest(int64_t rows, int64_t entries, int64_t dense_rows) {
  PredictRequest request;
  request.mutable_model_spec()->set_signature_name("bags");
  std::vector<int64_t> indices, values;
  for (int64_t i = 0; i < entries; ++i) {
    indices.push_back(i % rows);
    indices.push_back(i / rows);
    values.push_back(100 + i);
  }
  auto& inputs = *request.mutable_inputs();
  inputs["bag_indices"] = TensorToProto(Tensor::FromVector<int64_t>({entries, 2}, indices));
  inputs["bag_values"] = TensorToProto(Tensor::FromVector<int64_t>({entries}, values));
  inputs["bag_dense_shape"] =
      TensorToProto(Tensor::FromVector<int64_t>({2}, {rows, (entries + rows - 1) / rows}));
  inputs["dense"] =
      TensorToProto(FloatVector(std::vector<float>(static_cast<size_t>(dense_rows), 1.0f)));
  return request;
}

std::string WarmupPath(const std::string& version_dir) {
  return version_dir + "/" + kExtraAssetsDirectory + "/" + kWarmupFilename;
}

// Writes `records` as the version's warmup file.
absl::Status WriteWarmup(const std::string& version_dir, const std::vector<std::string>& records) {
  std::filesystem::create_directories(version_dir + "/" + kExtraAssetsDirectory);
  return ::recship::testing::WriteRecords(WarmupPath(version_dir), records);
}

std::string PredictRecord(const PredictRequest& request) {
  PredictionLog log;
  *log.mutable_predict_log()->mutable_request() = request;
  return log.SerializeAsString();
}

// ---------------------------------------------------------------------------
// ReadModelServerConfig.

TEST(ModelConfigTest, ReadsPoliciesAndLabels) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path, R"(
model_config_list {
  config {
    name: "default"
    base_path: "/models/default"
    model_platform: "tensorflow"
  }
  config {
    name: "latest2"
    base_path: "/models/latest2"
    model_version_policy { latest { num_versions: 2 } }
  }
  config {
    name: "all"
    base_path: "/models/all"
    model_version_policy { all {} }
  }
  config {
    name: "specific"
    base_path: "/models/specific"
    model_version_policy { specific { versions: 3 versions: 7 } }
    version_labels { key: "stable" value: 3 }
    version_labels { key: "canary" value: 7 }
  }
}
)");
  ASSERT_OK_AND_ASSIGN(ModelServerConfig config, ReadModelServerConfig(path));
  const auto& models = config.model_config_list().config();
  ASSERT_EQ(models.size(), 4);
  EXPECT_EQ(models[0].name(), "default");
  EXPECT_EQ(models[0].base_path(), "/models/default");
  EXPECT_FALSE(models[0].has_model_version_policy());
  EXPECT_EQ(models[1].model_version_policy().latest().num_versions(), 2u);
  EXPECT_TRUE(models[2].model_version_policy().has_all());
  ASSERT_TRUE(models[3].model_version_policy().has_specific());
  EXPECT_EQ(std::vector<int64_t>(models[3].model_version_policy().specific().versions().begin(),
                                 models[3].model_version_policy().specific().versions().end()),
            (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(models[3].version_labels().at("stable"), 3);
  EXPECT_EQ(models[3].version_labels().at("canary"), 7);
}

TEST(ModelConfigTest, SyntaxErrorNamesTheFileAndTheLine) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path,
             "model_config_list {\n"
             "  config {\n"
             "    name: \"a\"\n"
             "    base_path \"/models/a\"\n"
             "  }\n"
             "}\n");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "line 4"}));
  WriteBytes(path, "model_config_list {\n  config {\n    nmae: \"a\"\n  }\n}\n");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "line 3", "nmae"}));
}

TEST(ModelConfigTest, RejectsBadModels) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path,
             "model_config_list { config { name: \"a\" base_path: \"/a\" }"
             " config { name: \"a\" base_path: \"/b\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "twice"}));
  WriteBytes(path, "model_config_list { config { name: \"a\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "base_path"}));
  WriteBytes(path, "model_config_list { config { base_path: \"/a\" } }");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "no name"}));
  WriteBytes(path,
             "model_config_list { config { name: \"a\" base_path: \"/a\""
             " model_platform: \"pytorch\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "pytorch", "not supported"}));
  WriteBytes(path, "");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "no model"}));
  EXPECT_TRUE(IsAnyError(ReadModelServerConfig(dir.Join("absent.config")).status(),
                         {dir.Join("absent.config")}));
}

TEST(ModelConfigTest, SingleModelConfigIsValid) {
  ModelServerConfig config = SingleModelConfig("m", "/models/m");
  EXPECT_OK(ValidateModelServerConfig(config));
  ASSERT_EQ(config.model_config_list().config_size(), 1);
  EXPECT_EQ(config.model_config_list().config(0).base_path(), "/models/m");
}

// ---------------------------------------------------------------------------
// ListVersions and AspiredVersions.

TEST(ListVersionsTest, NumericFoldersOnlyAscending) {
  TempDir dir;
  for (const char* name :
       {"10", "2", "1", "3", "temp-4", "abc", "-5", "1a", "99999999999999999999"})
    std::filesystem::create_directory(dir.Join(name));
  WriteBytes(dir.Join("7"), "a file, not a version");
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> versions, ListVersions(dir.path()));
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 10}));

  TempDir empty;
  ASSERT_OK_AND_ASSIGN(versions, ListVersions(empty.path()));
  EXPECT_TRUE(versions.empty());
  EXPECT_TRUE(
      IsError(ListVersions(dir.Join("absent")).status(), Code::kNotFound, {dir.Join("absent")}));
}

TEST(AspiredVersionsTest, EachPolicy) {
  const std::vector<int64_t> on_disk = {1, 2, 5, 9};
  VersionPolicy policy;
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));
  policy.mutable_latest();
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));  // 0 means 1.
  policy.mutable_latest()->set_num_versions(1);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));
  policy.mutable_latest()->set_num_versions(2);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{5, 9}));
  policy.mutable_latest()->set_num_versions(10);
  EXPECT_EQ(AspiredVersions(policy, on_disk), on_disk);
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());

  policy.mutable_all();
  EXPECT_EQ(AspiredVersions(policy, on_disk), on_disk);
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());

  policy.mutable_specific()->add_versions(5);
  policy.mutable_specific()->add_versions(7);  // Not on disk.
  policy.mutable_specific()->add_versions(1);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{1, 5}));
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());
  VersionPolicy none_listed;
  none_listed.mutable_specific();
  EXPECT_TRUE(AspiredVersions(none_listed, on_disk).empty());
}

// ---------------------------------------------------------------------------
// RunPredict.

class PredictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string path, WriteTinyVersion(dir_.Join("m"), 1));
    ASSERT_OK_AND_ASSIGN(model_, runtime::SavedModelBundle::Load(path));
  }

  TempDir dir_;
  std::unique_ptr<runtime::SavedModelBundle> model_;
};

TEST_F(PredictTest, RunsTheDefaultOrNamedSignature) {
  PredictResponse response;
  ASSERT_OK(RunPredict(*model_, XRequest({1, 2}), {}, &response));
  ASSERT_TRUE(response.outputs().contains("y"));
  ASSERT_OK_AND_ASSIGN(Tensor y, TensorFromProto(response.outputs().at("y")));
  EXPECT_EQ(Floats(y), (std::vector<float>{2, 3}));

  PredictRequest request = BagRequest(2, 3, 2);
  request.add_output_filter("dense");
  PredictResponse bag_response;
  ASSERT_OK(RunPredict(*model_, request, {}, &bag_response));
  EXPECT_EQ(bag_response.outputs().size(), 1u);
  EXPECT_TRUE(bag_response.outputs().contains("dense"));

  request.mutable_model_spec()->set_signature_name("nope");
  EXPECT_TRUE(IsError(RunPredict(*model_, request, {}, &bag_response), Code::kFailedPrecondition,
                      {"nope"}));
  PredictRequest bad = XRequest({1});
  (*bad.mutable_inputs())["x"].set_dtype(tensorflow::DT_INVALID);
  EXPECT_TRUE(IsError(RunPredict(*model_, bad, {}, &response), Code::kInvalidArgument, {"'x'"}));
}

TEST_F(PredictTest, BatchLimitCountsABagsDenseShapeRowsNotItsEntries) {
  PredictLimits limits;
  limits.max_batch_size = 2;
  PredictResponse response;
  // 2 rows holding 7 ids: within the limit.
  ASSERT_OK(RunPredict(*model_, BagRequest(2, 7, 2), limits, &response));
  ASSERT_OK_AND_ASSIGN(Tensor values, TensorFromProto(response.outputs().at("values")));
  EXPECT_EQ(values.num_elements(), 7);
  // 3 rows holding one id: over it, named by the dense shape.
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(3, 1, 3), limits, &response),
                      Code::kInvalidArgument, {"'bag_dense_shape'", "batch size 3", "limit of 2"}));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest({1, 2, 3}), limits, &response),
                      Code::kInvalidArgument, {"'x'"}));
  // No limit.
  EXPECT_OK(RunPredict(*model_, BagRequest(3, 20, 3), {}, &response));
  EXPECT_OK(RunPredict(*model_, XRequest({1, 2, 3}), {}, &response));
}

TEST_F(PredictTest, ABagsRowsMustBeTheBatchOfTheOtherInputs) {
  PredictResponse response;
  // The bag says 3 rows, the dense input has 2: refused before any kernel
  // runs, with or without a batch limit.
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(3, 1, 2), {}, &response),
                      Code::kInvalidArgument,
                      {"'bag_dense_shape'", "3 rows", "'dense'", "batch of 2"}));
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(1 << 30, 1, 2), {}, &response),
                      Code::kInvalidArgument, {"'bag_dense_shape'", "1073741824 rows"}));
}

TEST_F(PredictTest, BagIndicesOutsideTheDenseShapeAreRefusedNamingTheInput) {
  PredictResponse response;
  auto with_index = [](int64_t row, int64_t column) {
    PredictRequest request = BagRequest(2, 3, 2);  // dense_shape [2, 2]
    auto* indices = &(*request.mutable_inputs())["bag_indices"];
    *indices = TensorToProto(Tensor::FromVector<int64_t>({3, 2}, {0, 0, 1, 0, row, column}));
    return request;
  };
  ASSERT_OK(RunPredict(*model_, with_index(0, 1), {}, &response));
  for (auto [row, column] : std::vector<std::pair<int64_t, int64_t>>{
           {(int64_t{1} << 32) + 1, 0}, {2, 0}, {-1, 0}, {0, 2}, {0, -1}}) {
    EXPECT_TRUE(IsError(RunPredict(*model_, with_index(row, column), {}, &response),
                        Code::kInvalidArgument,
                        {"'bag_indices'", "entry 2", absl::StrCat("[", row, ", ", column, "]"),
                         "outside dense_shape [2, 2]"}))
        << row << ", " << column;
  }
  PredictRequest negative = BagRequest(2, 3, 2);
  (*negative.mutable_inputs())["bag_dense_shape"] =
      TensorToProto(Tensor::FromVector<int64_t>({2}, {2, -1}));
  EXPECT_TRUE(IsError(RunPredict(*model_, negative, {}, &response), Code::kInvalidArgument,
                      {"'bag_dense_shape'", "non-negative"}));
}

TEST_F(PredictTest, MemoryBudgetsBoundARequestAndAllRequestsTogether) {
  PredictLimits limits;
  limits.memory = runtime::MemoryBudget::Create("the process", 1 << 20);
  limits.max_request_memory_bytes = 64 << 10;
  PredictResponse response;
  std::vector<float> x(1000, 1.0f);  // 4 KB in, 4 KB out: within both.
  ASSERT_OK(RunPredict(*model_, XRequest(x), limits, &response));
  // 40 KB in and 40 KB out: over the request's 64 KiB.
  std::vector<float> big(10'000, 1.0f);
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest(big), limits, &response),
                      Code::kResourceExhausted, {"the request", "64 KiB"}));
  // Within the request's budget, but the process has less left.
  limits.max_request_memory_bytes = 4 << 20;
  ASSERT_OK(limits.memory->Reserve(1000 << 10));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest(big), limits, &response),
                      Code::kResourceExhausted, {"the process"}));
  limits.memory->Release(1000 << 10);
  ASSERT_OK(RunPredict(*model_, XRequest(big), limits, &response));
  // Every byte came back once the request was done.
  EXPECT_EQ(limits.memory->used(), 0u);
}

TEST_F(PredictTest, InputBytesLimit) {
  PredictLimits limits;
  limits.max_input_bytes = 16;
  PredictResponse response;
  EXPECT_OK(RunPredict(*model_, XRequest({1, 2, 3, 4}), limits, &response));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest({1, 2, 3, 4, 5}), limits, &response),
                      Code::kInvalidArgument, {"'x'"}));
}

// ---------------------------------------------------------------------------
// ReplayWarmup.

class WarmupReplayTest : public PredictTest {
 protected:
  std::string version_dir() const { return model_->export_dir(); }
};

TEST_F(WarmupReplayTest, NoFileReplaysNothing) {
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, 0);
}

TEST_F(WarmupReplayTest, ReplaysEveryRecord) {
  ASSERT_OK(WriteWarmup(version_dir(), {PredictRecord(XRequest({1})), PredictRecord(XRequest({})),
                                        PredictRecord(BagRequest(2, 3, 2))}));
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, 3);
}

TEST_F(WarmupReplayTest, ExactlyTheMaximumIsReplayed) {
  std::vector<std::string> records(kMaxWarmupRecords, PredictRecord(XRequest({1})));
  ASSERT_OK(WriteWarmup(version_dir(), records));
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, kMaxWarmupRecords);
}

TEST_F(WarmupReplayTest, BadRecordsNameTheFileAndTheRecord) {
  const std::string path = WarmupPath(version_dir());
  const std::string good = PredictRecord(XRequest({1}));
  auto replay_error = [&](const std::vector<std::string>& records) {
    absl::Status written = WriteWarmup(version_dir(), records);
    EXPECT_OK(written);
    return ReplayWarmup(*model_, {}).status();
  };

  // Field 1, length-delimited, claiming more bytes than there are.
  EXPECT_TRUE(IsError(replay_error({good, std::string("\x0a\x7f\x01", 3)}), Code::kInvalidArgument,
                      {path, "warmup record 1", "not a PredictionLog"}));
  PredictionLog classify;
  classify.mutable_classify_log();
  EXPECT_TRUE(IsError(replay_error({classify.SerializeAsString(), good}), Code::kInvalidArgument,
                      {path, "warmup record 0", "predict_log"}));
  PredictRequest wrong_dtype;
  (*wrong_dtype.mutable_inputs())["x"] = TensorToProto(Tensor::FromVector<int64_t>({1}, {1}));
  EXPECT_TRUE(IsError(replay_error({good, good, PredictRecord(wrong_dtype)}),
                      Code::kInvalidArgument, {path, "warmup record 2", "'x'"}));
  EXPECT_TRUE(IsError(replay_error(std::vector<std::string>(kMaxWarmupRecords + 1, good)),
                      Code::kInvalidArgument, {path, "warmup record 1000", "more than 1000"}));
  // The server's limits apply to warmup requests too.
  ASSERT_OK(WriteWarmup(version_dir(), {PredictRecord(XRequest({1, 2, 3}))}));
  PredictLimits limits;
  limits.max_batch_size = 2;
  EXPECT_TRUE(IsError(ReplayWarmup(*model_, limits).status(), Code::kInvalidArgument,
                      {path, "warmup record 0", "batch size 3"}));
  // A truncated file fails with the file named.
  std::string bytes = ::recship::testing::ReadBytes(path);
  WriteBytes(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_TRUE(IsAnyError(ReplayWarmup(*model_, {}).status(), {path}));
}

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
// A real export: StandaloneExporter over a hand-written model_fn
// (word_user_model.h) and checkpoint, served by ModelManager.

// out/bias = `bias`, everything else zero: every score is sigmoid(bias).
absl::Status WriteExportedCheckpoint(const std::string& dir, int64_t step, float bias) {
  ASSIGN_OR_RETURN(auto writer, model::CheckpointWriter::Create(dir, step));
  RETURN_IF_ERROR(
      writer->AddDense("words/embeddings", Tensor::Create(tensorflow::DT_FLOAT, {10, 3}).value()));
  RETURN_IF_ERROR(
      writer->AddDense("out/kernel", Tensor::Create(tensorflow::DT_FLOAT, {6, 1}).value()));
  RETURN_IF_ERROR(writer->AddDense("out/bias", Tensor::FromVector<float>({1}, {bias})));
  for (int i = 0; i < 2; ++i) {
    model::CheckpointWriter::TableShard shard{
        Tensor::FromVector<int64_t>({1}, {i == 0 ? 7 : -3}),
        Tensor::FromVector<float>({1, 3}, {1, 2, static_cast<float>(i)})};
    shard.slots["adagrad"] = Tensor::Create(tensorflow::DT_FLOAT, {1, 3}).value();
    shard.freqs = Tensor::Create(tensorflow::DT_INT64, {1}).value();
    RETURN_IF_ERROR(writer->AddTableShard("users", i, shard));
  }
  return writer->Finish().status();
}

TEST_F(ModelManagerTest, ServesStandaloneExportsAndSwapsThem) {
  const std::string model_dir = dir_.Join("model");
  exporter::StandaloneExporter exporter(WordUserModel, model_dir, base());
  ASSERT_OK(WriteExportedCheckpoint(model_dir, 1, 0.0f));
  ASSERT_OK(exporter.ExportSavedModel(WordUserInputs, {}, 1).status());

  ModelManager manager(Config(), Options());
  manager.Poll();
  PredictRequest request;
  request.mutable_model_spec()->set_name("m");
  (*request.mutable_inputs())["word"] = TensorToProto(Tensor::FromVector<int64_t>({3}, {0, 4, 9}));
  (*request.mutable_inputs())["user"] =
      TensorToProto(Tensor::FromVector<int64_t>({3}, {7, -3, 12345}));
  auto score = [&](const ServableHandle& handle) -> std::vector<float> {
    PredictResponse response;
    absl::Status ran = RunPredict(*handle.model, request, {}, &response);
    EXPECT_OK(ran);
    if (!ran.ok() || !response.outputs().contains("score")) return {};
    absl::StatusOr<Tensor> t = TensorFromProto(response.outputs().at("score"));
    if (!t.ok() || t->shape() != TensorShape{3, 1}) return {};
    return Floats(*t);
  };
  ASSERT_OK_AND_ASSIGN(ServableHandle one, manager.Get(Latest()));
  EXPECT_EQ(one.version, 1);
  EXPECT_EQ(score(one), std::vector<float>(3, 0.5f));
  EXPECT_GT(one.model->ResourceBytes(), 0u);

  // Version 2 from a later checkpoint: sigmoid(ln 3) = 0.75.
  ASSERT_OK(WriteExportedCheckpoint(model_dir, 2, std::log(3.0f)));
  ASSERT_OK(exporter.ExportSavedModel(WordUserInputs, {}, 2).status());
  manager.Poll();
  ASSERT_OK_AND_ASSIGN(ServableHandle two, manager.Get(Latest()));
  EXPECT_EQ(two.version, 2);
  std::vector<float> scores = score(two);
  ASSERT_EQ(scores.size(), 3u);
  for (float s : scores) EXPECT_NEAR(s, 0.75f, 1e-6);
  EXPECT_EQ(score(one), std::vector<float>(3, 0.5f));
  EXPECT_TRUE(IsError(manager.Get(Version(1)).status(), Code::kNotFound));
}

}  // namespace
}  // namespace recship::serving
