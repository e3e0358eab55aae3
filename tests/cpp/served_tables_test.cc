// export/served_tables.h: what a version serves, diffed against the next
// checkpoint. Where the checkpoint has -timestamps, rows updated before the
// newest timestamp the version recorded are not read (a row changed without
// a new timestamp is not seen: that is the trust it puts in the trainer);
// rows updated since are compared; a checkpoint whose timestamps all went
// back (a trainer restored from an earlier step) is compared in full; and
// --since-time on a table without timestamps is an error naming it.
#include "recship/export/served_tables.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "recship/format/saved_model.h"
#include "recship/format/table_times.h"
#include "recship/format/tensor_bundle.h"
#include "test_util.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using testing::IsError;
using testing::TempDir;

constexpr int64_t kRows = 100;
constexpr int64_t kDim = 2;
constexpr int64_t kVersion = 1;

struct Rows {
  std::vector<int64_t> keys;
  std::vector<float> values;
  std::vector<int64_t> timestamps;
};

Rows InitialRows() {
  Rows rows;
  for (int64_t i = 0; i < kRows; ++i) {
    rows.keys.push_back(i * 7);
    rows.values.push_back(static_cast<float>(i));
    rows.values.push_back(-static_cast<float>(i));
    rows.timestamps.push_back(1000 + i % 10);
  }
  return rows;
}

Tensor Int64s(const std::vector<int64_t>& v) {
  return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
}
Tensor Values(const Rows& rows) {
  return Tensor::FromVector<float>({static_cast<int64_t>(rows.keys.size()), kDim}, rows.values);
}

// Version kVersion of one table "t" (shard 0) under `base`, recording the
// newest of the rows' timestamps as a full export does.
void WriteVersion(const std::string& base, const Rows& rows) {
  const fs::path dir = fs::path(base) / std::to_string(kVersion);
  fs::create_directories(dir / kVariablesDirectory);
  fs::create_directories(dir / kExtraAssetsDirectory);
  auto writer = BundleWriter::Create(VariablesPrefix(dir.string())).value();
  ASSERT_OK(writer->Add("t/shard_0-keys", Int64s(rows.keys)));
  ASSERT_OK(writer->Add("t/shard_0-values", Values(rows)));
  ASSERT_OK(writer->Finish());
  ASSERT_OK(WriteTableTimes((dir / kExtraAssetsDirectory / kTableTimesFilename).string(),
                            {{"t", NewestTimestamp({Int64s(rows.timestamps)}).value()}}));
}

std::unique_ptr<CheckpointReader> WriteCheckpoint(const std::string& model_dir, int64_t step,
                                                  const Rows& rows, bool with_timestamps = true) {
  auto writer = CheckpointWriter::Create(model_dir, step).value();
  CheckpointWriter::TableShard shard{Int64s(rows.keys), Values(rows)};
  if (with_timestamps) shard.timestamps = Int64s(rows.timestamps);
  EXPECT_OK(writer->AddTableShard("t", 0, shard));
  return CheckpointReader::Open(writer->Finish().value()).value();
}

class ServedTablesTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteVersion(base_.path(), rows_); }

  ServedTables::TableChanges DiffOf(const Rows& rows, std::optional<int64_t> since = {}) {
    auto served = ServedTables::Open(base_.path(), kVersion).value();
    auto changes = served->Diff(*WriteCheckpoint(model_dir_.path(), ++step_, rows), since);
    EXPECT_OK(changes.status());
    return changes.ok() ? changes->at("t") : ServedTables::TableChanges{};
  }

  TempDir base_, model_dir_;
  Rows rows_ = InitialRows();
  int64_t step_ = 0;
};

TEST_F(ServedTablesTest, ReadsOnlyRowsUpdatedSinceTheVersion) {
  Rows next = rows_;
  next.values[2 * 5] = 42;  // Row 5 changed and timestamped...
  next.timestamps[5] = 2000;
  next.values[2 * 6] = 43;    // ...row 6 changed without a new timestamp.
  next.timestamps[7] = 2001;  // Row 7 timestamped, unchanged.
  ServedTables::TableChanges changes = DiffOf(next);
  EXPECT_EQ(changes.keys, (std::vector<int64_t>{35}));
  EXPECT_EQ(changes.updated_through, 2001);
  EXPECT_EQ(changes.rows_updated_from, 2000);
  EXPECT_EQ(changes.rows_updated_to, 2000);
  EXPECT_TRUE(changes.deleted.empty());
}

TEST_F(ServedTablesTest, ComparesEveryRowWhenTheTimestampsWentBack) {
  Rows next = rows_;
  next.values[2 * 6] = 43;
  for (int64_t& t : next.timestamps) t = 500;  // All older than the version's.
  EXPECT_EQ(DiffOf(next).keys, (std::vector<int64_t>{42}));
}

TEST_F(ServedTablesTest, ComparesEveryRowWithoutTimestamps) {
  Rows next = rows_;
  next.values[2 * 6] = 43;
  auto served = ServedTables::Open(base_.path(), kVersion).value();
  auto changes = served->Diff(*WriteCheckpoint(model_dir_.path(), 1, next, false));
  ASSERT_OK(changes.status());
  EXPECT_EQ(changes->at("t").keys, (std::vector<int64_t>{42}));
  EXPECT_FALSE(changes->at("t").updated_through.has_value());
  EXPECT_TRUE(
      IsError(served->Diff(*WriteCheckpoint(model_dir_.path(), 2, next, false), 900).status(),
              absl::StatusCode::kInvalidArgument, {"--since-time", "t/shard_0-timestamps", "'t'"}));
}

TEST_F(ServedTablesTest, SinceTimeOverridesTheRecordedTime) {
  Rows next = rows_;
  next.values[2 * 6] = 43;  // Timestamp 1006.
  EXPECT_TRUE(DiffOf(next).keys.empty());
  EXPECT_EQ(DiffOf(next, 1006).keys, (std::vector<int64_t>{42}));
}

TEST_F(ServedTablesTest, AppendedIdsAreNewRowsAndDroppedOnesDeletions) {
  Rows next = rows_;
  next.keys.push_back(9999);
  next.values.insert(next.values.end(), {1, 2});
  next.timestamps.push_back(2000);
  ServedTables::TableChanges added = DiffOf(next);
  EXPECT_EQ(added.keys, (std::vector<int64_t>{9999}));
  EXPECT_TRUE(added.deleted.empty());

  // The id a recorded change inserted, then gone: deleted, without an index
  // of the checkpoint (every version id is still in place).
  auto served = ServedTables::Open(base_.path(), kVersion).value();
  served->Record({{"t", added}});
  auto changes = served->Diff(*WriteCheckpoint(model_dir_.path(), 9, rows_));
  ASSERT_OK(changes.status());
  EXPECT_TRUE(changes->at("t").keys.empty());
  EXPECT_EQ(changes->at("t").deleted, (std::vector<int64_t>{9999}));

  // A version id dropped: deleted.
  Rows dropped = rows_;
  dropped.keys.erase(dropped.keys.begin() + 3);
  dropped.values.erase(dropped.values.begin() + 6, dropped.values.begin() + 8);
  dropped.timestamps.erase(dropped.timestamps.begin() + 3);
  EXPECT_EQ(DiffOf(dropped).deleted, (std::vector<int64_t>{21}));
}

}  // namespace
}  // namespace recship
