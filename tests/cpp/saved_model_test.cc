// format/saved_model.h: SavedModelWriter builds <base>/<v> under temp-<v>
// (saved_model.pb, variables/ prefix, assets/, assets.extra/ copies), commits
// it, never overwrites a version and leaves nothing behind on failure;
// ReadSavedModel and FindMetaGraph read it back.
#include "recship/format/saved_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "recship/format/tensor_bundle.h"
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

tensorflow::SavedModel MakeSavedModel() {
  tensorflow::SavedModel sm;
  sm.set_saved_model_schema_version(1);
  tensorflow::MetaGraphDef* mg = sm.add_meta_graphs();
  mg->mutable_meta_info_def()->add_tags(kServeTag);
  mg->mutable_meta_info_def()->set_tensorflow_version("2.21.0");
  tensorflow::NodeDef* node = mg->mutable_graph_def()->add_node();
  node->set_name("x");
  node->set_op("Placeholder");
  tensorflow::SignatureDef& sig = (*mg->mutable_signature_def())[kDefaultServingSignatureKey];
  sig.set_method_name(kPredictMethodName);
  (*sig.mutable_inputs())["x"].set_name("x:0");
  (*sig.mutable_outputs())["y"].set_name("y:0");
  tensorflow::MetaGraphDef* gpu = sm.add_meta_graphs();
  gpu->mutable_meta_info_def()->add_tags("gpu");
  gpu->mutable_meta_info_def()->add_tags(kServeTag);
  return sm;
}

TEST(SavedModelTest, ConstantsAreTensorFlows) {
  EXPECT_STREQ(kSavedModelFilename, "saved_model.pb");
  EXPECT_STREQ(kVariablesDirectory, "variables");
  EXPECT_STREQ(kVariablesFilename, "variables");
  EXPECT_STREQ(kAssetsDirectory, "assets");
  EXPECT_STREQ(kExtraAssetsDirectory, "assets.extra");
  EXPECT_STREQ(kWarmupFilename, "tf_serving_warmup_requests");
  EXPECT_STREQ(kPredictMethodName, "tensorflow/serving/predict");
  EXPECT_STREQ(kInitOpSignatureKey, "__saved_model_init_op");
}

TEST(SavedModelWriterTest, WritesAndCommitsAVersion) {
  TempDir dir;
  const std::string base = dir.Join("exports");
  const std::string warmup_source = dir.Join("warmup.tfrecord");
  WriteBytes(warmup_source, "warmup bytes");
  const tensorflow::SavedModel sm = MakeSavedModel();

  ASSERT_OK_AND_ASSIGN(SavedModelWriter writer, SavedModelWriter::Begin(base, 1700000000));
  EXPECT_EQ(writer.path(), (fs::path(base) / "temp-1700000000").string());
  const std::string prefix = writer.variables_prefix();
  EXPECT_EQ(prefix, (fs::path(writer.path()) / "variables" / "variables").string());
  EXPECT_TRUE(fs::is_directory(fs::path(writer.path()) / "variables"));

  {
    ASSERT_OK_AND_ASSIGN(auto bundle, BundleWriter::Create(prefix));
    ASSERT_OK(bundle->Add("w", Tensor::FromVector<float>({2}, {1.5f, 2.5f})));
    ASSERT_OK(bundle->Finish());
  }
  ASSERT_OK(writer.WriteSavedModel(sm));
  ASSERT_OK(writer.AddAsset("vocab.txt", "a\nb\n"));
  ASSERT_OK(writer.AddAsset("second.txt", ""));
  ASSERT_OK(writer.CopyExtraAsset(kWarmupFilename, warmup_source));
  EXPECT_FALSE(IsSavedModelDirectory(dir.Join("exports/1700000000")));
  EXPECT_TRUE(IsSavedModelDirectory(writer.path()));

  ASSERT_OK_AND_ASSIGN(std::string published, writer.Commit());
  EXPECT_EQ(published, (fs::path(base) / "1700000000").string());
  EXPECT_EQ(ListDir(base), std::vector<std::string>{"1700000000"});
  EXPECT_EQ(ListDir(published),
            (std::vector<std::string>{"assets", "assets.extra", "saved_model.pb", "variables"}));
  EXPECT_EQ(ListDir(published + "/variables"),
            (std::vector<std::string>{"variables.data-00000-of-00001", "variables.index"}));
  EXPECT_EQ(ReadBytes(published + "/assets/vocab.txt"), "a\nb\n");
  EXPECT_EQ(ReadBytes(published + "/assets/second.txt"), "");
  EXPECT_EQ(ReadBytes(published + "/assets.extra/tf_serving_warmup_requests"), "warmup bytes");
  EXPECT_TRUE(ReadBytes(published + "/saved_model.pb") == sm.SerializeAsString());
  EXPECT_TRUE(IsSavedModelDirectory(published));

  // The variables moved with the folder and still read.
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(published + "/variables/variables"));
  ASSERT_OK_AND_ASSIGN(Tensor w, reader->Read("w"));
  EXPECT_EQ(w.flat<float>()[1], 2.5f);

  ASSERT_OK_AND_ASSIGN(tensorflow::SavedModel back, ReadSavedModel(published));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, sm));
}

TEST(SavedModelWriterTest, ExistingVersionIsNeverOverwritten) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directories(dir.Join("7/variables")));
  WriteBytes(dir.Join("7/saved_model.pb"), "old model");
  EXPECT_TRUE(IsError(SavedModelWriter::Begin(dir.path(), 7).status(),
                      absl::StatusCode::kAlreadyExists, {dir.Join("7")}));
  EXPECT_EQ(ReadBytes(dir.Join("7/saved_model.pb")), "old model");
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"7"});

  // A version that appears while ours is being written wins; ours is removed.
  ASSERT_OK_AND_ASSIGN(SavedModelWriter writer, SavedModelWriter::Begin(dir.path(), 8));
  ASSERT_OK(writer.WriteSavedModel(MakeSavedModel()));
  ASSERT_TRUE(fs::create_directory(dir.Join("8")));
  WriteBytes(dir.Join("8/saved_model.pb"), "theirs");
  EXPECT_TRUE(IsError(writer.Commit().status(), absl::StatusCode::kAlreadyExists, {dir.Join("8")}));
  EXPECT_EQ(ReadBytes(dir.Join("8/saved_model.pb")), "theirs");
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"7", "8"}));
}

TEST(SavedModelWriterTest, LiveWritersTempFolderAndBadVersion) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(SavedModelWriter live, SavedModelWriter::Begin(dir.path(), 3));
  EXPECT_TRUE(IsError(SavedModelWriter::Begin(dir.path(), 3).status(),
                      absl::StatusCode::kAlreadyExists, {dir.Join("temp-3")}));
  EXPECT_TRUE(Exists(dir.Join("temp-3")));
  EXPECT_TRUE(IsError(SavedModelWriter::Begin(dir.path(), -1).status(),
                      absl::StatusCode::kInvalidArgument, {"-1"}));
}

TEST(SavedModelWriterTest, FailureLeavesNothingBehind) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(SavedModelWriter writer, SavedModelWriter::Begin(dir.path(), 5));
    ASSERT_OK(writer.WriteSavedModel(MakeSavedModel()));
    {
      ASSERT_OK_AND_ASSIGN(auto bundle, BundleWriter::Create(writer.variables_prefix()));
      ASSERT_OK(bundle->Add("w", Tensor::FromVector<float>({1}, {1.0f})));
      ASSERT_OK(bundle->Finish());
    }
    const std::string missing = dir.Join("no-such-warmup-file");
    EXPECT_TRUE(IsAnyError(writer.CopyExtraAsset(kWarmupFilename, missing), {missing}));
    // The caller gives up: the writer goes out of scope without Commit.
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(SavedModelWriterTest, MovedWriterOwnsTheFolder) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(SavedModelWriter a, SavedModelWriter::Begin(dir.path(), 1));
  SavedModelWriter b = std::move(a);
  ASSERT_OK(b.WriteSavedModel(MakeSavedModel()));
  ASSERT_OK(b.Commit());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"1"});
}

TEST(ReadSavedModelTest, ErrorsNameTheFile) {
  TempDir dir;
  const std::string pb = dir.Join("saved_model.pb");
  EXPECT_TRUE(IsError(ReadSavedModel(dir.path()).status(), absl::StatusCode::kNotFound, {pb}));
  EXPECT_FALSE(IsSavedModelDirectory(dir.path()));
  WriteBytes(pb, std::string("\xff\xff\xff\xff\xff", 5));
  EXPECT_TRUE(IsError(ReadSavedModel(dir.path()).status(), absl::StatusCode::kDataLoss, {pb}));
  // A folder named saved_model.pb is not a SavedModel.
  TempDir other;
  ASSERT_TRUE(fs::create_directory(other.Join("saved_model.pb")));
  EXPECT_FALSE(IsSavedModelDirectory(other.path()));
  EXPECT_TRUE(IsAnyError(ReadSavedModel(other.path()).status(), {other.Join("saved_model.pb")}));
}

TEST(FindMetaGraphTest, PicksTheExactTagSet) {
  const tensorflow::SavedModel sm = MakeSavedModel();
  ASSERT_OK_AND_ASSIGN(const tensorflow::MetaGraphDef* serve, FindMetaGraph(sm, {"serve"}));
  EXPECT_EQ(serve, &sm.meta_graphs(0));
  ASSERT_OK_AND_ASSIGN(const tensorflow::MetaGraphDef* gpu1, FindMetaGraph(sm, {"serve", "gpu"}));
  EXPECT_EQ(gpu1, &sm.meta_graphs(1));
  ASSERT_OK_AND_ASSIGN(const tensorflow::MetaGraphDef* gpu2, FindMetaGraph(sm, {"gpu", "serve"}));
  EXPECT_EQ(gpu2, &sm.meta_graphs(1));

  absl::Status missing = FindMetaGraph(sm, {"train"}).status();
  EXPECT_TRUE(IsError(missing, absl::StatusCode::kNotFound, {"train", "{serve}", "{gpu,serve}"}));
  EXPECT_TRUE(IsError(FindMetaGraph(sm, {"gpu"}).status(), absl::StatusCode::kNotFound));
  EXPECT_TRUE(IsError(FindMetaGraph(tensorflow::SavedModel(), {"serve"}).status(),
                      absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace recship
