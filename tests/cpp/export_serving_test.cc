// A real export served: StandaloneExporter over a hand-written model_fn
// (word_user_model.h) and checkpoint, loaded and swapped by ModelManager and
// answered by RunPredict.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "recship/core/status_macros.h"
#include "recship/export/standalone_exporter.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/model/checkpoint.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/runtime/session.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "test_util.h"
#include "tiny_model.h"
#include "word_user_model.h"

namespace recship {
namespace {

using ::recship::testing::Floats;
using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using ::recship::testing::WordUserInputs;
using ::recship::testing::WordUserModel;
using tensorflow::serving::ModelSpec;
using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;

class ExportServingTest : public ::testing::Test {
 protected:
  std::string base() const { return dir_.Join("m"); }
  TempDir dir_;
};

ModelSpec Latest() {
  ModelSpec spec;
  spec.set_name("m");
  return spec;
}

// ---------------------------------------------------------------------------
// A real export: StandaloneExporter over a hand-written model_fn
// (word_user_model.h) and checkpoint, served by ModelManager.

// out/bias = `bias`, everything else zero: every score is sigmoid(bias).
absl::Status WriteExportedCheckpoint(const std::string& dir, int64_t step, float bias) {
  RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(dir, step));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("words/embeddings", Tensor::Create(tensorflow::DT_FLOAT, {10, 3}).value()));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("out/kernel", Tensor::Create(tensorflow::DT_FLOAT, {6, 1}).value()));
  RECSHIP_RETURN_IF_ERROR(writer->AddDense("out/bias", Tensor::FromVector<float>({1}, {bias})));
  for (int i = 0; i < 2; ++i) {
    CheckpointWriter::TableShard shard{
        Tensor::FromVector<int64_t>({1}, {i == 0 ? 7 : -3}),
        Tensor::FromVector<float>({1, 3}, {1, 2, static_cast<float>(i)})};
    shard.slots["adagrad"] = Tensor::Create(tensorflow::DT_FLOAT, {1, 3}).value();
    shard.freqs = Tensor::Create(tensorflow::DT_INT64, {1}).value();
    RECSHIP_RETURN_IF_ERROR(writer->AddTableShard("users", i, shard));
  }
  return writer->Finish().status();
}

TEST_F(ExportServingTest, ServesStandaloneExportsAndSwapsThem) {
  const std::string model_dir = dir_.Join("model");
  StandaloneExporter exporter(WordUserModel, model_dir, base());
  ASSERT_OK(WriteExportedCheckpoint(model_dir, 1, 0.0f));
  ASSERT_OK(exporter.ExportSavedModel(WordUserInputs, {}, 1).status());

  ModelManager manager(SingleModelConfig("m", base()), {});
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
  // Rows and index are mapped from the export's files, not in the heap.
  EXPECT_GT(one.model->MappedBytes(), 0u);
  EXPECT_GE(one.model->mapped_table_indexes(), 1);
  EXPECT_EQ(one.model->ResourceBytes(), 0u);

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
  ModelSpec one_spec = Latest();
  one_spec.mutable_version()->set_value(1);
  EXPECT_TRUE(IsError(manager.Get(one_spec).status(), absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------
// Compressed tables (ExportOptions::embedding_dtype): recship's runtime folds
// each lookup's decode chain into the lookup kernel, and answers exactly what
// the graph's own stock decode ops answer.

absl::Status WriteUserCheckpoint(const std::string& dir) {
  RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(dir, 3));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("words/embeddings", Tensor::Create(tensorflow::DT_FLOAT, {10, 3}).value()));
  RECSHIP_RETURN_IF_ERROR(writer->AddDense(
      "out/kernel", Tensor::FromVector<float>({6, 1}, {0, 0, 0, 1.0f, 0.5f, -2.0f})));
  RECSHIP_RETURN_IF_ERROR(writer->AddDense("out/bias", Tensor::FromVector<float>({1}, {0.1f})));
  const std::vector<std::vector<float>> rows = {{0.3f, -1.7f, 0.011f}, {2.5f, 0.25f, -0.9f}};
  for (int i = 0; i < 2; ++i) {
    CheckpointWriter::TableShard shard{Tensor::FromVector<int64_t>({1}, {i == 0 ? 7 : -3}),
                                       Tensor::FromVector<float>({1, 3}, rows[i])};
    RECSHIP_RETURN_IF_ERROR(writer->AddTableShard("users", i, shard));
  }
  return writer->Finish().status();
}

// The scores of the export's graph run as written (stock decode ops), with
// its variables restored: the runtime without SavedModelBundle's fusion.
absl::StatusOr<Tensor> UnfusedScores(const std::string& version,
                                     const std::vector<NamedTensor>& feeds) {
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::SavedModel saved_model, ReadSavedModel(version));
  const tensorflow::MetaGraphDef& meta = saved_model.meta_graphs(0);
  RECSHIP_ASSIGN_OR_RETURN(auto session, Session::Create(meta.graph_def()));
  RunOptions run;
  RECSHIP_RETURN_IF_ERROR(session
                              ->Run({{meta.saver_def().filename_tensor_name(),
                                      Tensor::FromStrings({}, {VariablesPrefix(version)})}},
                                    {}, {"save/restore_all"}, run)
                              .status());
  const auto& signature = meta.signature_def().at("serving_default");
  std::vector<NamedTensor> named;
  for (const auto& [key, tensor] : feeds)
    named.emplace_back(signature.inputs().at(key).name(), tensor);
  RECSHIP_ASSIGN_OR_RETURN(std::vector<Tensor> out,
                           session->Run(named, {signature.outputs().at("score").name()}, {}));
  return out.at(0);
}

TEST_F(ExportServingTest, CompressedTablesAreDecodedInTheirLookupAsTheGraphDecodesThem) {
  const std::string model_dir = dir_.Join("model");
  ASSERT_OK(WriteUserCheckpoint(model_dir));
  const std::vector<NamedTensor> feeds = {
      {"word", Tensor::FromVector<int64_t>({3}, {0, 4, 9})},
      {"user", Tensor::FromVector<int64_t>({3}, {7, -3, 12345})}};
  int64_t version = 1;
  for (EmbeddingDtype dtype :
       {EmbeddingDtype::kFloat16, EmbeddingDtype::kBFloat16, EmbeddingDtype::kInt8}) {
    SCOPED_TRACE(EmbeddingDtypeName(dtype));
    ExportOptions options;
    options.embedding_dtype = dtype;
    StandaloneExporter exporter(WordUserModel, model_dir, base(), options);
    ASSERT_OK_AND_ASSIGN(std::string path,
                         exporter.ExportSavedModel(WordUserInputs, {}, version++));
    ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
    EXPECT_EQ(bundle->fused_embedding_decodes(), 1);
    std::map<std::string, Tensor> inputs(feeds.begin(), feeds.end());
    ASSERT_OK_AND_ASSIGN(auto fused, bundle->RunSignature("serving_default", inputs));
    ASSERT_OK_AND_ASSIGN(Tensor unfused, UnfusedScores(path, feeds));
    EXPECT_TRUE(fused.at("score").Equals(unfused)) << ShapeToString(unfused.shape());
    // The unseen id's row decodes to zeros: its score is sigmoid(bias).
    EXPECT_FLOAT_EQ(Floats(fused.at("score"))[2], 1.0f / (1.0f + std::exp(-0.1f)));
    // Compression changed the seen ids' scores a little, not a lot.
    const float exact_7 = 1.0f / (1.0f + std::exp(-(0.3f - 0.85f - 0.022f + 0.1f)));
    EXPECT_NEAR(Floats(fused.at("score"))[0], exact_7, 0.02f);
    EXPECT_NE(Floats(fused.at("score"))[0], exact_7);
  }
}

}  // namespace
}  // namespace recship
