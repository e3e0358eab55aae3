// core/staged_directory.h: a folder built under temp-<name> and published
// whole by Commit. An existing version is never overwritten, a leftover
// temp-<name> of a live writer is a clear error, every dead writer's temp-*
// is cleared, and an uncommitted folder is removed.
#include "recship/core/staged_directory.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using testing::Exists;
using testing::IsAnyError;
using testing::IsError;
using testing::ListDir;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

TEST(StagedDirectoryTest, CommitPublishesTheTree) {
  TempDir dir;
  const std::string base = dir.Join("exports");  // Created on demand.
  ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(base, "17"));
  EXPECT_EQ(staged.path(), (fs::path(base) / "temp-17").string());
  EXPECT_EQ(staged.final_path(), (fs::path(base) / "17").string());
  EXPECT_TRUE(fs::is_directory(staged.path()));
  EXPECT_FALSE(Exists(staged.final_path()));

  ASSERT_TRUE(fs::create_directories(fs::path(staged.path()) / "variables"));
  WriteBytes((fs::path(staged.path()) / "saved_model.pb").string(), "pb");
  WriteBytes((fs::path(staged.path()) / "variables" / "v.index").string(), "idx");

  ASSERT_OK_AND_ASSIGN(std::string published, staged.Commit());
  EXPECT_EQ(published, (fs::path(base) / "17").string());
  EXPECT_EQ(ListDir(base), std::vector<std::string>{"17"});
  EXPECT_EQ(ReadBytes(published + "/saved_model.pb"), "pb");
  EXPECT_EQ(ReadBytes(published + "/variables/v.index"), "idx");

  // A second Commit is refused and the published folder is untouched.
  EXPECT_TRUE(IsError(staged.Commit().status(), absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadBytes(published + "/saved_model.pb"), "pb");
}

TEST(StagedDirectoryTest, CommittedFolderSurvivesDestruction) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(dir.path(), "1"));
    WriteBytes(staged.path() + "/f", "x");
    ASSERT_OK(staged.Commit());
  }
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"1"});
  EXPECT_EQ(ReadBytes(dir.Join("1/f")), "x");
}

TEST(StagedDirectoryTest, ExistingVersionIsNeverOverwritten) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir.Join("5")));
  WriteBytes(dir.Join("5/saved_model.pb"), "old");
  absl::Status status = StagedDirectory::Create(dir.path(), "5").status();
  EXPECT_TRUE(IsError(status, absl::StatusCode::kAlreadyExists, {dir.Join("5")}));
  EXPECT_EQ(ReadBytes(dir.Join("5/saved_model.pb")), "old");
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"5"});  // No temp-5 made.
}

TEST(StagedDirectoryTest, VersionAppearingBeforeCommitIsNotReplaced) {
  // Another writer publishes the same version while we build ours: Commit
  // must fail, leave theirs alone and clean up ours. Covers both a non-empty
  // and an empty folder (plain rename(2) would replace an empty one).
  for (bool empty : {false, true}) {
    TempDir dir;
    ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(dir.path(), "9"));
    WriteBytes(staged.path() + "/saved_model.pb", "mine");
    ASSERT_TRUE(fs::create_directory(dir.Join("9")));
    if (!empty) WriteBytes(dir.Join("9/saved_model.pb"), "theirs");

    absl::Status status = staged.Commit().status();
    EXPECT_TRUE(IsError(status, absl::StatusCode::kAlreadyExists, {dir.Join("9")}))
        << "empty=" << empty;
    EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"9"}) << "empty=" << empty;
    if (empty) {
      EXPECT_TRUE(ListDir(dir.Join("9")).empty());
    } else {
      EXPECT_EQ(ReadBytes(dir.Join("9/saved_model.pb")), "theirs");
    }
  }
}

TEST(StagedDirectoryTest, TempFolderOfALiveWriterIsAClearError) {
  TempDir dir;
  auto first = StagedDirectory::Create(dir.path(), "3");
  ASSERT_TRUE(first.ok()) << first.status();
  WriteBytes(dir.Join("temp-3/partial"), "half");
  absl::Status status = StagedDirectory::Create(dir.path(), "3").status();
  EXPECT_TRUE(IsError(status, absl::StatusCode::kAlreadyExists, {dir.Join("temp-3"), "running"}));
  // The live writer's folder is left as it was.
  EXPECT_EQ(ReadBytes(dir.Join("temp-3/partial")), "half");
  EXPECT_FALSE(Exists(dir.Join("3")));
}

TEST(StagedDirectoryTest, TempFolderOfADeadWriterIsClearedAndReused) {
  TempDir dir;
  // No process holds its lock: a writer died (say by SIGKILL) before Commit.
  ASSERT_TRUE(fs::create_directory(dir.Join("temp-3")));
  WriteBytes(dir.Join("temp-3/partial"), "half");
  auto staged = StagedDirectory::Create(dir.path(), "3");
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_FALSE(Exists(dir.Join("temp-3/partial")));
  WriteBytes(dir.Join("temp-3/saved_model.pb"), "whole");
  ASSERT_TRUE(staged->Commit().ok());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"3"});
  EXPECT_EQ(ReadBytes(dir.Join("3/saved_model.pb")), "whole");
}

TEST(StagedDirectoryTest, EveryDeadWritersTempFolderIsClearedWhateverItsName) {
  TempDir dir;
  // Two dead writers of other versions, a live one, and folders that are not
  // staging folders at all.
  for (const char* name : {"temp-100", "temp-1700000000"}) {
    ASSERT_TRUE(fs::create_directory(dir.Join(name)));
    WriteBytes(dir.Join(std::string(name) + "/partial"), "half");
  }
  ASSERT_OK_AND_ASSIGN(StagedDirectory live, StagedDirectory::Create(dir.path(), "8"));
  ASSERT_TRUE(fs::create_directory(dir.Join("5")));
  WriteBytes(dir.Join("temporary"), "not a folder of ours");
  ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(dir.path(), "9"));
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"5", "temp-8", "temp-9", "temporary"}));
  // The same sweep on its own, with nothing dead left to clear.
  ASSERT_OK(StagedDirectory::RemoveDeadStagingFolders(dir.path()));
  EXPECT_EQ(ListDir(dir.path()).size(), 4u);
  ASSERT_OK(StagedDirectory::RemoveDeadStagingFolders(dir.Join("missing")));
}

TEST(StagedDirectoryTest, DestructionWithoutCommitRemovesTheTempFolder) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(dir.path(), "2"));
    ASSERT_TRUE(fs::create_directories(staged.path() + "/a/b"));
    WriteBytes(staged.path() + "/a/b/f", "data");
    EXPECT_TRUE(Exists(dir.Join("temp-2")));
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());
  // The version can now be written again.
  ASSERT_OK_AND_ASSIGN(StagedDirectory again, StagedDirectory::Create(dir.path(), "2"));
  ASSERT_OK(again.Commit());
  EXPECT_TRUE(fs::is_directory(dir.Join("2")));
}

TEST(StagedDirectoryTest, AbandonRemovesNow) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(StagedDirectory staged, StagedDirectory::Create(dir.path(), "4"));
  WriteBytes(staged.path() + "/f", "x");
  staged.Abandon();
  EXPECT_TRUE(ListDir(dir.path()).empty());
  EXPECT_TRUE(IsAnyError(staged.Commit().status()));
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(StagedDirectoryTest, MovesTransferOwnership) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(StagedDirectory a, StagedDirectory::Create(dir.path(), "1"));
  {
    StagedDirectory b = std::move(a);
    EXPECT_TRUE(Exists(dir.Join("temp-1")));
    ASSERT_OK_AND_ASSIGN(StagedDirectory c, StagedDirectory::Create(dir.path(), "2"));
    // Move-assigning over an active folder abandons the old one.
    c = std::move(b);
    EXPECT_FALSE(Exists(dir.Join("temp-2")));
    EXPECT_TRUE(Exists(dir.Join("temp-1")));
    ASSERT_OK(c.Commit());
  }
  // Destroying the moved-from objects removes nothing.
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"1"});
}

}  // namespace
}  // namespace recship
