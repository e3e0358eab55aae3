// CheckpointWriter/Reader (contract 1) and StandaloneExporter with a
// hand-written model_fn: what the export holds, and that failures name the
// tensor at fault and leave no version folder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "recship/core/status_macros.h"
#include "recship/export/standalone_exporter.h"
#include "recship/format/saved_model.h"
#include "recship/graph/op_table.h"
#include "recship/graph/ops.h"
#include "recship/model/checkpoint.h"
#include "recship/model/layers.h"
#include "test_util.h"
#include "word_user_model.h"

namespace recship {
namespace {

using testing::IsError;
using testing::ListDir;
using testing::TempDir;
using testing::WordUserInputs;
using testing::WordUserModel;
using testing::WordUserShard;
using testing::WriteWordUserCheckpoint;

TEST(CheckpointWriterTest, WritesContractOneAndTheStateFile) {
  TempDir dir;
  ASSERT_OK(WriteWordUserCheckpoint(dir.path()));
  ASSERT_OK_AND_ASSIGN(auto reader, CheckpointReader::Open(dir.Join("model.ckpt-5")));
  EXPECT_EQ(reader->global_step(), 5);
  ASSERT_EQ(reader->tables().size(), 1u);
  EXPECT_EQ(reader->tables().at("users"), (std::vector<int>{0, 1}));
  EXPECT_NE(reader->bundle().Find("users/shard_0-slot-adagrad"), nullptr);
  EXPECT_NE(reader->bundle().Find("users/shard_1-freqs"), nullptr);
  ASSERT_OK_AND_ASSIGN(Tensor keys, reader->bundle().Read("users/shard_1-keys"));
  EXPECT_EQ(std::vector<int64_t>(keys.flat<int64_t>().begin(), keys.flat<int64_t>().end()),
            (std::vector<int64_t>{1, -1}));
}

TEST(CheckpointWriterTest, RejectsKeysAndValuesThatDisagree) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto writer, CheckpointWriter::Create(dir.path(), 1));
  auto shard = WordUserShard({1, 2, 3}, 4);
  shard.values = Tensor::Create(tensorflow::DT_FLOAT, {2, 4}).value();
  EXPECT_TRUE(IsError(writer->AddTableShard("t", 0, shard), absl::StatusCode::kInvalidArgument,
                      {"table t shard 0", "values"}));
}

TEST(StandaloneExporterTest, ExportsOnlyServingTensorsWithStockOps) {
  TempDir dir;
  ASSERT_OK(WriteWordUserCheckpoint(dir.Join("model")));
  StandaloneExporter exporter(WordUserModel, dir.Join("model"), dir.Join("export"));
  ASSERT_OK_AND_ASSIGN(std::string path, exporter.ExportSavedModel(WordUserInputs, {}, 42));
  EXPECT_EQ(path, dir.Join("export/42"));
  ASSERT_OK_AND_ASSIGN(auto bundle, BundleReader::Open(path + "/variables/variables"));
  std::vector<std::string> names;
  for (const auto& entry : bundle->entries()) names.push_back(entry.name);
  EXPECT_EQ(names, (std::vector<std::string>{"out/bias", "out/kernel", "users/shard_0-keys",
                                             "users/shard_0-values", "users/shard_1-keys",
                                             "users/shard_1-values", "words/embeddings"}));
  ASSERT_OK_AND_ASSIGN(tensorflow::SavedModel saved_model, ReadSavedModel(path));
  ASSERT_OK_AND_ASSIGN(const tensorflow::MetaGraphDef* meta_graph,
                       FindMetaGraph(saved_model, {kServeTag}));
  EXPECT_EQ(meta_graph->saver_def().restore_op_name(), "save/restore_all");
  const auto& signature = meta_graph->signature_def().at(kDefaultServingSignatureKey);
  EXPECT_EQ(signature.method_name(), kPredictMethodName);
  EXPECT_EQ(signature.inputs().size(), 2u);
  EXPECT_TRUE(signature.outputs().contains("score"));
  for (const auto& node : meta_graph->graph_def().node()) {
    EXPECT_TRUE(ValidateNode(node).ok()) << node.name();
  }
}

TEST(StandaloneExporterTest, SharedAcrossFilesystemsCopiesOnlyTheExportedTensors) {
  // /dev/shm is a tmpfs on Debian: another filesystem than the temp folder,
  // where neither a hard link nor a reflink can share the checkpoint's bytes.
  TempDir dir;
  struct stat tmp_stat, shm_stat;
  ASSERT_EQ(::stat(dir.path().c_str(), &tmp_stat), 0);
  ASSERT_EQ(::stat("/dev/shm", &shm_stat), 0) << "this test needs /dev/shm";
  ASSERT_NE(tmp_stat.st_dev, shm_stat.st_dev) << "/dev/shm must be another filesystem";
  ASSERT_OK(WriteWordUserCheckpoint(dir.Join("model")));
  std::string base = "/dev/shm/recship-shared-test-" + std::to_string(::getpid());
  StandaloneExporter exporter(WordUserModel, dir.Join("model"), base,
                              ExportOptions{.shared_embedding = true});
  absl::StatusOr<std::string> path = exporter.ExportSavedModel(WordUserInputs, {}, 7);
  std::error_code error;
  uint64_t data_bytes =
      std::filesystem::file_size(base + "/7/variables/variables.data-00000-of-00001", error);
  std::filesystem::remove_all(base);
  ASSERT_OK(path);
  ASSERT_FALSE(error) << error.message();
  const VariablesStats& stats = exporter.last_summary().sub_models.at(0).variables;
  EXPECT_EQ(stats.shared_by, CloneMethod::kCopy);
  EXPECT_EQ(stats.copied_bytes, stats.tensor_bytes);
  // Only the serving tensors (each aligned to 8 bytes): no Adagrad slot, no
  // freqs.
  EXPECT_GE(data_bytes, stats.tensor_bytes);
  EXPECT_LT(data_bytes, stats.tensor_bytes + 8 * 16);
  EXPECT_LT(data_bytes,
            std::filesystem::file_size(dir.Join("model/model.ckpt-5.data-00000-of-00001")));
}

TEST(StandaloneExporterTest, ExportOutputsBecomeSignatures) {
  TempDir dir;
  ASSERT_OK(WriteWordUserCheckpoint(dir.Join("model")));
  auto two_heads = [](const Features& features, Mode mode,
                      const RunConfig& config) -> absl::StatusOr<EstimatorSpec> {
    RECSHIP_ASSIGN_OR_RETURN(EstimatorSpec spec, WordUserModel(features, mode, config));
    spec.export_outputs["score_only"].outputs["score"] = spec.predictions.at("score");
    return spec;
  };
  StandaloneExporter exporter(two_heads, dir.Join("model"), dir.Join("export"));
  ASSERT_OK_AND_ASSIGN(std::string path, exporter.ExportSavedModel(WordUserInputs, {}, 1));
  ASSERT_OK_AND_ASSIGN(tensorflow::SavedModel saved_model, ReadSavedModel(path));
  const auto& signatures = saved_model.meta_graphs(0).signature_def();
  EXPECT_TRUE(signatures.contains(kDefaultServingSignatureKey));
  ASSERT_TRUE(signatures.contains("score_only"));
  EXPECT_EQ(signatures.at("score_only").outputs().at("score").name(),
            signatures.at(kDefaultServingSignatureKey).outputs().at("score").name());
}

TEST(StandaloneExporterTest, ShapeMismatchNamesTheTensorAndLeavesNothing) {
  TempDir dir;
  ASSERT_OK(WriteWordUserCheckpoint(dir.Join("model"), /*out_rows=*/7));
  StandaloneExporter exporter(WordUserModel, dir.Join("model"), dir.Join("export"));
  absl::Status status = exporter.ExportSavedModel(WordUserInputs).status();
  EXPECT_TRUE(IsError(status, absl::StatusCode::kFailedPrecondition, {"out/kernel", "[7, 1]"}));
  EXPECT_FALSE(testing::Exists(dir.Join("export")) && !ListDir(dir.Join("export")).empty());
}

TEST(StandaloneExporterTest, MissingTableNamesIt) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto writer, CheckpointWriter::Create(dir.Join("model"), 1));
  ASSERT_OK(
      writer->AddDense("words/embeddings", Tensor::Create(tensorflow::DT_FLOAT, {10, 3}).value()));
  ASSERT_OK(writer->Finish().status());
  StandaloneExporter exporter(WordUserModel, dir.Join("model"), dir.Join("export"));
  EXPECT_TRUE(IsError(exporter.ExportSavedModel(WordUserInputs).status(),
                      absl::StatusCode::kNotFound, {"users"}));
}

}  // namespace
}  // namespace recship
