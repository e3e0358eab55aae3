// format/checkpoint_state.h: the `checkpoint` state file, written and read
// with relative and absolute paths (and as tf.train.Saver writes it), and
// LatestCheckpoint with tf.train.latest_checkpoint's rules: a missing state
// file, a stale entry whose files are gone, and a good entry.
#include "recship/format/checkpoint_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "recship/format/tensor_bundle.h"
#include "test_util.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using testing::IsError;
using testing::ListDir;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

void WriteTinyBundle(const std::string& prefix) {
  auto writer = BundleWriter::Create(prefix).value();
  ASSERT_OK(writer->Add("global_step", Tensor::FromVector<int64_t>({}, {1})));
  ASSERT_OK(writer->Finish());
}

TEST(CheckpointStateTest, PrefixesInsideTheFolderAreStoredRelative) {
  TempDir dir;
  const std::string p1 = dir.Join("model.ckpt-100");
  const std::string p2 = dir.Join("model.ckpt-200");
  ASSERT_OK(WriteCheckpointState(dir.path(), p2, {p1, p2}));
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"checkpoint"});
  // The text tf.train.Saver writes for the same state.
  EXPECT_EQ(ReadBytes(dir.Join("checkpoint")),
            "model_checkpoint_path: \"model.ckpt-200\"\n"
            "all_model_checkpoint_paths: \"model.ckpt-100\"\n"
            "all_model_checkpoint_paths: \"model.ckpt-200\"\n");

  ASSERT_OK_AND_ASSIGN(tensorflow::CheckpointState state, ReadCheckpointState(dir.path()));
  EXPECT_EQ(state.model_checkpoint_path(), p2);
  ASSERT_EQ(state.all_model_checkpoint_paths_size(), 2);
  EXPECT_EQ(state.all_model_checkpoint_paths(0), p1);
  EXPECT_EQ(state.all_model_checkpoint_paths(1), p2);

  // The folder can move: the paths follow it.
  const std::string moved = dir.Join("moved");
  ASSERT_TRUE(fs::create_directory(moved));
  fs::rename(dir.Join("checkpoint"), moved + "/checkpoint");
  ASSERT_OK_AND_ASSIGN(tensorflow::CheckpointState moved_state, ReadCheckpointState(moved));
  EXPECT_EQ(moved_state.model_checkpoint_path(), (fs::path(moved) / "model.ckpt-200").string());
}

TEST(CheckpointStateTest, PrefixesElsewhereStayAbsolute) {
  TempDir dir;
  TempDir elsewhere;
  const std::string outside = elsewhere.Join("model.ckpt-5");
  const std::string inside_sub = dir.Join("sub/model.ckpt-6");
  ASSERT_OK(WriteCheckpointState(dir.path(), outside, {inside_sub, outside}));
  const std::string text = ReadBytes(dir.Join("checkpoint"));
  EXPECT_NE(text.find("model_checkpoint_path: \"" + outside + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("all_model_checkpoint_paths: \"sub/model.ckpt-6\""), std::string::npos)
      << text;
  ASSERT_OK_AND_ASSIGN(tensorflow::CheckpointState state, ReadCheckpointState(dir.path()));
  EXPECT_EQ(state.model_checkpoint_path(), outside);
  EXPECT_EQ(state.all_model_checkpoint_paths(0), inside_sub);
  EXPECT_EQ(state.all_model_checkpoint_paths(1), outside);
}

TEST(CheckpointStateTest, ReadsWhatTensorFlowWrites) {
  // tf.train.CheckpointManager writes timestamps too; relative and absolute
  // paths may be mixed.
  TempDir dir;
  WriteBytes(dir.Join("checkpoint"),
             "model_checkpoint_path: \"ckpt-3\"\n"
             "all_model_checkpoint_paths: \"ckpt-2\"\n"
             "all_model_checkpoint_paths: \"/abs/ckpt-1\"\n"
             "all_model_checkpoint_timestamps: 1700000000.5\n"
             "last_preserved_timestamp: 1699999999.25\n");
  ASSERT_OK_AND_ASSIGN(tensorflow::CheckpointState state, ReadCheckpointState(dir.path()));
  EXPECT_EQ(state.model_checkpoint_path(), dir.Join("ckpt-3"));
  EXPECT_EQ(state.all_model_checkpoint_paths(0), dir.Join("ckpt-2"));
  EXPECT_EQ(state.all_model_checkpoint_paths(1), "/abs/ckpt-1");
}

TEST(CheckpointStateTest, ReadErrors) {
  TempDir dir;
  const std::string path = dir.Join("checkpoint");
  EXPECT_TRUE(
      IsError(ReadCheckpointState(dir.path()).status(), absl::StatusCode::kNotFound, {path}));
  WriteBytes(path, "this is { not a CheckpointState");
  EXPECT_TRUE(
      IsError(ReadCheckpointState(dir.path()).status(), absl::StatusCode::kDataLoss, {path}));
  WriteBytes(path, "all_model_checkpoint_paths: \"x\"\n");
  EXPECT_TRUE(IsError(ReadCheckpointState(dir.path()).status(), absl::StatusCode::kDataLoss,
                      {path, "model_checkpoint_path"}));
  WriteBytes(path, "");
  EXPECT_TRUE(
      IsError(ReadCheckpointState(dir.path()).status(), absl::StatusCode::kDataLoss, {path}));
}

TEST(LatestCheckpointTest, MissingStateFile) {
  TempDir dir;
  WriteTinyBundle(dir.Join("model.ckpt-1"));  // A bundle alone is not enough.
  EXPECT_TRUE(IsError(LatestCheckpoint(dir.path()).status(), absl::StatusCode::kNotFound,
                      {dir.Join("checkpoint")}));
  EXPECT_TRUE(
      IsError(LatestCheckpoint(dir.Join("no-such-folder")).status(), absl::StatusCode::kNotFound));
}

TEST(LatestCheckpointTest, StaleEntry) {
  TempDir dir;
  WriteTinyBundle(dir.Join("model.ckpt-1"));
  // The state names step 2, whose files were deleted (or never written).
  ASSERT_OK(WriteCheckpointState(dir.path(), dir.Join("model.ckpt-2"),
                                 {dir.Join("model.ckpt-1"), dir.Join("model.ckpt-2")}));
  EXPECT_TRUE(IsError(LatestCheckpoint(dir.path()).status(), absl::StatusCode::kNotFound,
                      {dir.Join("model.ckpt-2.index")}));
  // Data without an index is still stale.
  WriteBytes(dir.Join("model.ckpt-2.data-00000-of-00001"), "");
  EXPECT_TRUE(IsError(LatestCheckpoint(dir.path()).status(), absl::StatusCode::kNotFound));
}

TEST(LatestCheckpointTest, GoodEntryRelativeAndAbsolute) {
  TempDir dir;
  WriteTinyBundle(dir.Join("model.ckpt-1"));
  WriteTinyBundle(dir.Join("model.ckpt-2"));
  ASSERT_OK(WriteCheckpointState(dir.path(), dir.Join("model.ckpt-2"),
                                 {dir.Join("model.ckpt-1"), dir.Join("model.ckpt-2")}));
  ASSERT_OK_AND_ASSIGN(std::string latest, LatestCheckpoint(dir.path()));
  EXPECT_EQ(latest, dir.Join("model.ckpt-2"));
  ASSERT_OK(BundleReader::Open(latest));

  // An absolute path to a checkpoint in another folder.
  TempDir other;
  WriteTinyBundle(other.Join("model.ckpt-9"));
  WriteBytes(dir.Join("checkpoint"),
             "model_checkpoint_path: \"" + other.Join("model.ckpt-9") + "\"\n");
  ASSERT_OK_AND_ASSIGN(std::string absolute, LatestCheckpoint(dir.path()));
  EXPECT_EQ(absolute, other.Join("model.ckpt-9"));

  // A relative path written by hand, as TensorFlow writes it.
  WriteBytes(dir.Join("checkpoint"), "model_checkpoint_path: \"model.ckpt-1\"\n");
  ASSERT_OK_AND_ASSIGN(std::string relative, LatestCheckpoint(dir.path()));
  EXPECT_EQ(relative, dir.Join("model.ckpt-1"));
}

}  // namespace
}  // namespace recship
