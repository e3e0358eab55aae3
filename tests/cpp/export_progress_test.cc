// The exporters' progress callback (export_progress.h): bytes only grow and
// end at the total, each sub-model starts and finishes once, and a callback
// that returns CANCELLED stops either exporter, which then leaves no version
// and no temp- folder behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "recship/core/status_macros.h"
#include "recship/export/distributed_exporter.h"
#include "recship/export/standalone_exporter.h"
#include "recship/graph/ops.h"
#include "recship/model/checkpoint.h"
#include "recship/model/layers.h"
#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::TempDir;
using Event = ExportProgress::Event;

constexpr int64_t kDim = 32;
constexpr int64_t kKeysPerShard = 40000;  // 5 MiB of values per shard: several chunks.

// One hash table on two shards and a dense layer.
absl::StatusOr<EstimatorSpec> TableModel(const Features& features, Mode, const RunConfig&) {
  const Scope& s = features.scope();
  RECSHIP_ASSIGN_OR_RETURN(Feature user, features.Get("user"));
  Output x = HashEmbeddingLookup(s, {"users", kDim, 2}, user.dense);
  EstimatorSpec spec;
  spec.predictions["score"] = Dense(s, x, 1, Activation::kSigmoid, "out");
  return spec;
}

absl::StatusOr<ServingInputReceiver> TableInputs(const Scope& s) {
  ServingInputReceiver receiver{Features(s), {}};
  Output ids = ops::Placeholder(s, tensorflow::DT_INT64, PartialShape::Of({-1}), "user");
  receiver.features.Set("user", {ids, {}, {}, {}});
  receiver.receiver_tensors["user"] = ids;
  return receiver;
}

// Table shard s in data shard s, so shared exports link two files.
absl::Status WriteTableCheckpoint(const std::string& dir) {
  RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(dir, 3, {2}));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("out/kernel", Tensor::Create(tensorflow::DT_FLOAT, {kDim, 1}).value()));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("out/bias", Tensor::Create(tensorflow::DT_FLOAT, {1}).value()));
  for (int shard = 0; shard < 2; ++shard) {
    std::vector<int64_t> keys(kKeysPerShard);
    for (int64_t k = 0; k < kKeysPerShard; ++k) keys[static_cast<size_t>(k)] = k * 2 + shard;
    CheckpointWriter::TableShard data{
        Tensor::FromVector<int64_t>({kKeysPerShard}, keys),
        Tensor::Create(tensorflow::DT_FLOAT, {kKeysPerShard, kDim}).value()};
    data.slots["adagrad"] = Tensor::Create(tensorflow::DT_FLOAT, {kKeysPerShard, kDim}).value();
    RECSHIP_RETURN_IF_ERROR(writer->AddTableShard("users", shard, data, shard));
  }
  return writer->Finish().status();
}

// Every version or temp- folder anywhere under `base`.
std::vector<std::string> VersionsAndTemps(const std::string& base) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(base, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("temp-") || name.find_first_not_of("0123456789") == std::string::npos) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

// Checks the invariants of a whole export's events and returns the number
// of kBytes events.
int CheckEvents(const std::vector<ExportProgress>& events, int num_sub_models) {
  EXPECT_FALSE(events.empty());
  if (events.empty()) return 0;
  uint64_t total = events.front().total_bytes;
  uint64_t last = 0;
  int bytes_events = 0;
  int started = 0;
  int finished = 0;
  for (const ExportProgress& p : events) {
    EXPECT_EQ(p.total_bytes, total);
    EXPECT_EQ(p.num_sub_models, num_sub_models);
    EXPECT_GE(p.bytes, last) << p.sub_model;
    EXPECT_LE(p.sub_model_bytes, p.sub_model_total_bytes) << p.sub_model;
    last = p.bytes;
    if (p.event == Event::kStarted) {
      EXPECT_EQ(p.sub_model_index, started++);
      EXPECT_EQ(p.sub_model_bytes, 0u);
    } else if (p.event == Event::kFinished) {
      EXPECT_EQ(p.sub_model_index, finished++);
      EXPECT_EQ(p.sub_model_bytes, p.sub_model_total_bytes);
    } else {
      ++bytes_events;
      EXPECT_EQ(finished + 1, started) << "bytes outside a sub-model";
    }
  }
  EXPECT_EQ(started, num_sub_models);
  EXPECT_EQ(finished, num_sub_models);
  EXPECT_EQ(events.back().event, Event::kFinished);
  EXPECT_EQ(last, total);
  return bytes_events;
}

class ExportProgressTest : public ::testing::TestWithParam<bool> {};  // shared_embedding

TEST_P(ExportProgressTest, StandaloneBytesGrowToTheTotal) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));
  std::vector<ExportProgress> events;
  ExportOptions options;
  options.shared_embedding = GetParam();
  options.progress = [&](const ExportProgress& p) {
    events.push_back(p);
    return absl::OkStatus();
  };
  StandaloneExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
  ASSERT_OK(exporter.ExportSavedModel(TableInputs, {}, 1));
  int bytes_events = CheckEvents(events, 1);
  EXPECT_EQ(events.back().total_bytes,
            exporter.last_summary().sub_models.at(0).variables.tensor_bytes);
  EXPECT_EQ(events.back().sub_model.name(), "standalone");
  // At most one call per 2 MiB chunk (and the last): streamed, or read once
  // for the crc32c check of shared bytes.
  uint64_t total = events.back().total_bytes;
  EXPECT_GE(bytes_events, 3);
  EXPECT_LE(bytes_events, static_cast<int>(total / (2 << 20)) + 1);
}

TEST_P(ExportProgressTest, DistributedReportsEverySubModel) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));
  DistributedExportOptions options;
  options.model_name = "m";
  options.shared_embedding = GetParam();
  std::vector<ExportProgress> events;
  options.progress = [&](const ExportProgress& p) {
    events.push_back(p);
    return absl::OkStatus();
  };
  DistributedExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
  ASSERT_OK(exporter.ExportSavedModel(TableInputs, {}, 1));
  CheckEvents(events, 3);
  std::vector<std::string> started;
  uint64_t tensor_bytes = 0;
  for (const auto& p : events) {
    if (p.event == Event::kStarted) started.push_back(p.sub_model.name());
  }
  for (const auto& sub : exporter.last_summary().sub_models) {
    tensor_bytes += sub.variables.tensor_bytes;
    EXPECT_GT(sub.seconds, 0) << sub.sub_model;
  }
  EXPECT_EQ(started, (std::vector<std::string>{"ps_0", "ps_1", "entry"}));
  EXPECT_EQ(events.back().total_bytes, tensor_bytes);
  EXPECT_EQ(VersionsAndTemps(dir.Join("export")).size(), 3u) << "ps_0/1, ps_1/1, entry/1";
}

INSTANTIATE_TEST_SUITE_P(CopyAndShared, ExportProgressTest, ::testing::Bool());

// Cancels at the first bytes reported for `sub_model`; counts calls after.
struct Canceller {
  std::string sub_model;
  bool cancelled = false;
  int calls_after = 0;

  absl::Status operator()(const ExportProgress& p) {
    if (cancelled) ++calls_after;
    if (p.event == Event::kBytes && p.sub_model.name() == sub_model) {
      cancelled = true;
      return absl::CancelledError("stop");
    }
    return absl::OkStatus();
  }

  // The export stopped at once with the callback's status and left no
  // version and no temp- folder under `base`; `base` was new, so it is gone
  // too, with the sub-model folders it would have held.
  void ExpectStoppedCleanly(const absl::Status& status, const std::string& base) const {
    EXPECT_TRUE(IsError(status, absl::StatusCode::kCancelled, {"stop"}));
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(calls_after, 0);
    EXPECT_EQ(VersionsAndTemps(base), std::vector<std::string>{});
    EXPECT_FALSE(std::filesystem::exists(base)) << base << " was left behind";
  }
};

TEST(ExportCancelTest, StandaloneStopsAndLeavesNothing) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));
  for (bool shared : {false, true}) {
    Canceller canceller{"standalone"};
    ExportOptions options;
    options.shared_embedding = shared;
    options.progress = [&](const ExportProgress& p) { return canceller(p); };
    StandaloneExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
    SCOPED_TRACE(shared ? "shared" : "copied");
    canceller.ExpectStoppedCleanly(exporter.ExportSavedModel(TableInputs, {}, 1).status(),
                                   dir.Join("export"));
  }
}

TEST(ExportCancelTest, DistributedStopsBeforePublishingAnySubModel) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));
  // ps_0 is written whole before ps_1 is cancelled: it must not be published.
  for (bool shared : {false, true}) {
    DistributedExportOptions options;
    options.model_name = "m";
    options.shared_embedding = shared;
    Canceller canceller{"ps_1"};
    options.progress = [&](const ExportProgress& p) { return canceller(p); };
    DistributedExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
    SCOPED_TRACE(shared ? "shared" : "copied");
    canceller.ExpectStoppedCleanly(exporter.ExportSavedModel(TableInputs, {}, 1).status(),
                                   dir.Join("export"));
  }
}

TEST(ExportCancelTest, ReshardingReportsItsRowsAndStopsLeavingNothing) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));  // 2 shards; served on 3.
  DistributedExportOptions options;
  options.model_name = "m";
  options.num_ps = 3;
  std::vector<ExportProgress> resharding;
  options.progress = [&](const ExportProgress& p) {
    if (p.event == Event::kRewritingTables) resharding.push_back(p);
    return absl::OkStatus();
  };
  DistributedExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
  ASSERT_OK(exporter.ExportSavedModel(TableInputs, {}, 1).status());
  EXPECT_EQ(exporter.last_summary().resharded_tables, std::vector<std::string>{"users"});
  ASSERT_GT(resharding.size(), 3u);  // 2 x 5 MiB of values, reported every MiB.
  uint64_t last = 0;
  for (const ExportProgress& p : resharding) {
    EXPECT_GE(p.bytes, last);
    EXPECT_LE(p.bytes, p.total_bytes);
    last = p.bytes;
  }
  EXPECT_EQ(last, resharding.back().total_bytes);
  EXPECT_EQ(resharding.back().num_sub_models, 3);

  // Ctrl-C while re-sharding: nothing is published, the staged checkpoint goes.
  options.progress = [](const ExportProgress& p) {
    return p.event == Event::kRewritingTables && p.bytes > p.total_bytes / 2
               ? absl::CancelledError("stop")
               : absl::OkStatus();
  };
  DistributedExporter cancelled(TableModel, dir.Join("model"), dir.Join("export2"), options);
  EXPECT_TRUE(IsError(cancelled.ExportSavedModel(TableInputs, {}, 1).status(),
                      absl::StatusCode::kCancelled, {"stop"}));
  EXPECT_EQ(VersionsAndTemps(dir.Join("export2")), std::vector<std::string>{});
}

TEST(ExportCancelTest, CancellingAtTheLastFinishStillPublishesNothing) {
  TempDir dir;
  ASSERT_OK(WriteTableCheckpoint(dir.Join("model")));
  DistributedExportOptions options;
  options.model_name = "m";
  options.progress = [](const ExportProgress& p) {
    bool last = p.event == Event::kFinished && p.sub_model_index + 1 == p.num_sub_models;
    return last ? absl::CancelledError("late") : absl::OkStatus();
  };
  DistributedExporter exporter(TableModel, dir.Join("model"), dir.Join("export"), options);
  EXPECT_TRUE(IsError(exporter.ExportSavedModel(TableInputs, {}, 1).status(),
                      absl::StatusCode::kCancelled, {"late"}));
  EXPECT_EQ(VersionsAndTemps(dir.Join("export")), std::vector<std::string>{});
}

}  // namespace
}  // namespace recship
