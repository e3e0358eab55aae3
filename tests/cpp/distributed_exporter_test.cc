// export/distributed_exporter: every DistributedExportOptions field, on a
// hand-written model_fn (word_user_model.h: a "users" table on two shards)
// and checkpoint, reading back the SavedModels it writes: which sub-models
// and versions, device placements, the entry's remote calls, and errors.
#include "recship/export/distributed_exporter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "recship/format/saved_model.h"
#include "recship/format/sub_model.h"
#include "recship/format/table_index_file.h"
#include "recship/format/warmup.h"
#include "recship/model/checkpoint.h"
#include "recship/model/layers.h"
#include "test_util.h"
#include "tiny_model.h"
#include "word_user_model.h"

namespace recship {
namespace {

using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::ListDir;
using ::recship::testing::PredictRecord;
using ::recship::testing::TempDir;
using ::recship::testing::WordUserInputs;
using ::recship::testing::WordUserModel;
using ::recship::testing::WriteWordUserCheckpoint;
using ::recship::testing::XRequest;
using Code = absl::StatusCode;

constexpr int64_t kStep = 5;  // WriteWordUserCheckpoint's global step.

// WordUserModel with its output layer placed on a GPU, as a trainer's graph
// may be.
absl::StatusOr<EstimatorSpec> GpuWordUserModel(const Features& features, Mode mode,
                                               const RunConfig& config) {
  Features on_gpu(features.scope().WithDevice("/device:GPU:0"));
  for (const auto& [name, feature] : features.all()) on_gpu.Set(name, feature);
  return WordUserModel(on_gpu, mode, config);
}

class FixedClock : public Clock {
 public:
  explicit FixedClock(int64_t seconds = 1'700'000'000) : seconds_(seconds) {}
  absl::Time Now() const override { return absl::FromUnixSeconds(seconds_); }

 private:
  int64_t seconds_;
};

class DistributedExporterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(WriteWordUserCheckpoint(dir_.Join("model"))); }

  absl::StatusOr<std::vector<std::string>> Export(DistributedExportOptions options,
                                                  ModelFn model_fn = WordUserModel) {
    if (options.model_name.empty()) options.model_name = "m";
    DistributedExporter exporter(model_fn, dir_.Join("model"), base(), std::move(options));
    absl::StatusOr<std::vector<std::string>> paths =
        exporter.ExportSavedModel(WordUserInputs, {}, std::nullopt);
    if (paths.ok()) summary_ = exporter.last_summary();
    return paths;
  }
  std::string base() const { return dir_.Join("export"); }

  // The graph of sub-model `sub`, version `version`.
  tensorflow::GraphDef Graph(const std::string& sub, int64_t version) {
    std::string path = base() + "/" + sub + "/" + std::to_string(version);
    absl::StatusOr<tensorflow::SavedModel> saved = ReadSavedModel(path);
    EXPECT_TRUE(saved.ok()) << saved.status();
    return saved.ok() ? saved->meta_graphs(0).graph_def() : tensorflow::GraphDef();
  }

  TempDir dir_;
  ExportSummary summary_;
};

std::vector<const tensorflow::NodeDef*> RemoteCalls(const tensorflow::GraphDef& g) {
  std::vector<const tensorflow::NodeDef*> calls;
  for (const auto& node : g.node()) {
    if (node.op() == "TfServingRemotePredict") calls.push_back(&node);
  }
  return calls;
}

std::vector<std::string> Devices(const tensorflow::GraphDef& g) {
  std::vector<std::string> devices;
  for (const auto& node : g.node()) {
    if (!node.device().empty()) devices.push_back(node.device());
  }
  return devices;
}

std::vector<std::string> Written(const ExportSummary& summary) {
  std::vector<std::string> names;
  for (const auto& w : summary.sub_models) names.push_back(w.sub_model.name());
  return names;
}

TEST_F(DistributedExporterTest, WritesShardsThenTheEntryAtOneVersionNamedByTheClock) {
  FixedClock clock;
  DistributedExportOptions options;
  options.clock = &clock;
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> paths, Export(options));
  EXPECT_EQ(Written(summary_), (std::vector<std::string>{"ps_0", "ps_1", "entry"}));
  EXPECT_EQ(summary_.version, 1'700'000'000);
  EXPECT_EQ(paths.back(), base() + "/entry/1700000000");
  EXPECT_EQ(ListDir(base()), (std::vector<std::string>{"entry", "ps_0", "ps_1"}));
  tensorflow::GraphDef entry = Graph("entry", 1'700'000'000);
  std::vector<const tensorflow::NodeDef*> calls = RemoteCalls(entry);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]->attr().at("model_name").s(), "m:ps_0");
  EXPECT_EQ(calls[1]->attr().at("model_name").s(), "m:ps_1");
  EXPECT_EQ(calls[0]->attr().at("model_version").i(), -1) << "unpinned: the latest";
  EXPECT_TRUE(RemoteCalls(Graph("ps_0", 1'700'000'000)).empty());
}

// Each shard ships the index of its own shard of each table (the entry has
// no table, so no index), for the server to map rather than build.
TEST_F(DistributedExporterTest, EachShardShipsTheIndexOfItsTableShard) {
  DistributedExportOptions options;
  options.global_step_as_timestamp = true;
  ASSERT_OK(Export(options).status());
  const std::vector<std::vector<int64_t>> shard_keys = {{0, 2, -4}, {1, -1}};
  for (int shard = 0; shard < 2; ++shard) {
    std::string dir = base() + "/ps_" + std::to_string(shard) + "/" + std::to_string(kStep) +
                      "/assets.extra/" + kTableIndexDirectory;
    ASSERT_EQ(ListDir(dir), std::vector<std::string>{"users"});
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<TableIndexFile> file,
                         TableIndexFile::Open(dir + "/users"));
    ASSERT_EQ(file->views().size(), 1u);
    const std::vector<int64_t>& keys = shard_keys[static_cast<size_t>(shard)];
    EXPECT_EQ(file->views()[0].rows, static_cast<int64_t>(keys.size()));
    std::unique_ptr<RowIndex> index = file->TakeIndex();
    for (size_t row = 0; row < keys.size(); ++row) {
      EXPECT_EQ(index->Find(keys[row]), TableRowRef(1, static_cast<int64_t>(row)));
    }
  }
  EXPECT_FALSE(std::filesystem::exists(base() + "/entry/" + std::to_string(kStep) +
                                       "/assets.extra/" + kTableIndexDirectory));
}

TEST_F(DistributedExporterTest, GlobalStepAsTimestampAndPinVersions) {
  DistributedExportOptions options;
  options.global_step_as_timestamp = true;
  options.pin_versions = true;
  ASSERT_OK(Export(options).status());
  EXPECT_EQ(summary_.version, kStep);
  tensorflow::GraphDef entry = Graph("entry", kStep);
  for (const tensorflow::NodeDef* call : RemoteCalls(entry)) {
    EXPECT_EQ(call->attr().at("model_version").i(), kStep) << call->name();
  }
}

TEST_F(DistributedExporterTest, DenseOnlyWritesOnlyTheEntry) {
  DistributedExportOptions options;
  options.dense_only = true;
  options.global_step_as_timestamp = true;
  ASSERT_OK(Export(options).status());
  EXPECT_EQ(Written(summary_), std::vector<std::string>{"entry"});
  EXPECT_EQ(ListDir(base()), std::vector<std::string>{"entry"});
}

TEST_F(DistributedExporterTest, IncludeGraphsWritesOnlyThoseAndRefusesUnknownOnes) {
  DistributedExportOptions options;
  options.global_step_as_timestamp = true;
  options.include_graphs = {SubModel::Ps(1)};
  ASSERT_OK(Export(options).status());
  EXPECT_EQ(Written(summary_), std::vector<std::string>{"ps_1"});
  EXPECT_EQ(ListDir(base()), std::vector<std::string>{"ps_1"});

  options.include_graphs = {SubModel::Ps(5), SubModel::Entry()};
  EXPECT_TRUE(IsError(Export(options).status(), Code::kInvalidArgument,
                      {"include_graphs names 'ps_5'", "ps_0, ps_1, entry"}));
}

TEST_F(DistributedExporterTest, GpuPlacementsArePinnedToTheCpuUnlessAllowed) {
  // One version per export.
  FixedClock first(1), second(2), third(3);
  DistributedExportOptions options;
  options.clock = &first;
  ASSERT_OK(Export(options, GpuWordUserModel).status());
  for (const std::string& device : Devices(Graph("entry", summary_.version))) {
    EXPECT_EQ(device, "/device:CPU:0");
  }
  EXPECT_FALSE(Devices(Graph("entry", summary_.version)).empty());

  options.allow_gpu = true;
  options.clock = &second;
  ASSERT_OK(Export(options, GpuWordUserModel).status());
  std::vector<std::string> kept = Devices(Graph("entry", summary_.version));
  EXPECT_NE(std::find(kept.begin(), kept.end(), "/device:GPU:0"), kept.end());

  options.clear_entry_devices = true;
  options.clock = &third;
  ASSERT_OK(Export(options, GpuWordUserModel).status());
  EXPECT_TRUE(Devices(Graph("entry", summary_.version)).empty());
}

TEST_F(DistributedExporterTest, WithRemoteGpuMovesTheDenseNetworkToDense0) {
  DistributedExportOptions options;
  options.with_remote_gpu = true;
  options.global_step_as_timestamp = true;
  ASSERT_OK(Export(options).status());
  EXPECT_EQ(Written(summary_), (std::vector<std::string>{"ps_0", "ps_1", "dense_0", "entry"}));
  tensorflow::GraphDef entry = Graph("entry", kStep);
  std::vector<const tensorflow::NodeDef*> calls = RemoteCalls(entry);
  std::vector<std::string> called;
  for (const tensorflow::NodeDef* call : calls) called.push_back(call->attr().at("model_name").s());
  EXPECT_NE(std::find(called.begin(), called.end(), "m:dense_0"), called.end());
  tensorflow::GraphDef dense = Graph("dense_0", kStep);
  EXPECT_TRUE(RemoteCalls(dense).empty());
  for (const std::string& device : Devices(dense)) EXPECT_EQ(device, "/device:GPU:0");
  ASSERT_OK_AND_ASSIGN(tensorflow::SavedModel saved,
                       ReadSavedModel(base() + "/dense_0/" + std::to_string(kStep)));
  EXPECT_TRUE(saved.meta_graphs(0).signature_def().contains(kGpuRemoteCallSignature));
}

TEST_F(DistributedExporterTest, TheWarmupFileShipsWithTheEntryOnly) {
  std::string warmup = dir_.Join("warmup");
  ASSERT_OK(::recship::testing::WriteRecords(warmup, {PredictRecord(XRequest({1}))}));
  DistributedExportOptions options;
  options.warmup_file = warmup;
  options.global_step_as_timestamp = true;
  ASSERT_OK(Export(options).status());
  std::string entry = base() + "/entry/" + std::to_string(kStep);
  EXPECT_TRUE(std::filesystem::exists(entry + "/assets.extra/tf_serving_warmup_requests"));
  EXPECT_FALSE(std::filesystem::exists(base() + "/ps_0/" + std::to_string(kStep) +
                                       "/assets.extra/tf_serving_warmup_requests"));
}

TEST_F(DistributedExporterTest, BadOptionsAreRefusedAndLeaveNothing) {
  DistributedExportOptions options;
  options.model_name = "a:b";
  EXPECT_TRUE(IsError(Export(options).status(), Code::kInvalidArgument, {"without ':'"}));
  options.model_name = "m";
  options.warmup_file = dir_.Join("no-such-warmup");
  EXPECT_TRUE(IsAnyError(Export(options).status(), {"no-such-warmup"}));
  EXPECT_FALSE(std::filesystem::exists(base()));
}

}  // namespace
}  // namespace recship
