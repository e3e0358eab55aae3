// format/delta.h: a manifest round-trips through JSON and a bad one is
// refused naming the file and the field; ListDeltas sees only published
// delta folders, in sequence order.
#include "recship/format/delta.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::TempDir;

TEST(DeltaManifestTest, RoundTripsAndRefusesBadManifests) {
  DeltaManifest m;
  m.base_version = 100;
  m.sequence = 3;
  m.checkpoint = "/t/model.ckpt-7";
  m.global_step = 7;
  m.created_unix_seconds = 1700000000;
  m.tables["user_id"] = {12, 4, 1765000009, 1765000001, 1765000008};
  m.tables["no_timestamps"] = {1, 0};
  m.index_crc32c = 0xdeadbeef;
  ASSERT_OK_AND_ASSIGN(DeltaManifest back, DeltaManifest::Parse(m.ToJson(), "m.json"));
  EXPECT_EQ(back.base_version, 100);
  EXPECT_EQ(back.sequence, 3);
  EXPECT_EQ(back.checkpoint, m.checkpoint);
  EXPECT_EQ(back.tables.at("user_id").rows, 12);
  EXPECT_EQ(back.tables.at("user_id").deleted, 4);
  EXPECT_EQ(back.tables.at("user_id").updated_through, 1765000009);
  EXPECT_EQ(back.tables.at("user_id").rows_updated_from, 1765000001);
  EXPECT_EQ(back.tables.at("user_id").rows_updated_to, 1765000008);
  EXPECT_FALSE(back.tables.at("no_timestamps").updated_through.has_value());
  EXPECT_FALSE(back.tables.at("no_timestamps").rows_updated_from.has_value());
  EXPECT_EQ(back.index_crc32c, 0xdeadbeefu);

  EXPECT_TRUE(IsError(DeltaManifest::Parse("{", "m.json").status(), absl::StatusCode::kDataLoss,
                      {"m.json", "not a JSON object"}));
  EXPECT_TRUE(IsError(DeltaManifest::Parse(R"({"format": "other"})", "m.json").status(),
                      absl::StatusCode::kDataLoss, {"m.json", "format"}));
  std::string no_sequence = m.ToJson();
  no_sequence.replace(no_sequence.find("\"sequence\""), 10, "\"sequenc_\"");
  EXPECT_TRUE(IsError(DeltaManifest::Parse(no_sequence, "m.json").status(),
                      absl::StatusCode::kDataLoss, {"m.json", "sequence"}));
}

TEST(DeltaManifestTest, ListDeltasSeesPublishedFoldersInOrder) {
  TempDir dir;
  const std::string root = DeltaRoot(dir.path(), 5);
  EXPECT_EQ(root, dir.path() + "/deltas/5");
  EXPECT_TRUE(ListDeltas(root).empty());
  for (const char* name :
       {"delta-000010", "delta-000002", "temp-delta-000003", "delta-7", "delta-00000x", "notes"}) {
    std::filesystem::create_directories(std::filesystem::path(root) / name);
  }
  EXPECT_EQ(ListDeltas(root), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(DeltaFolderName(42), "delta-000042");
}

}  // namespace
}  // namespace recship
