// runtime/saved_model_bundle: SavedModelBundle::Load on small SavedModels
// built by hand the way TensorFlow 1 writes them (a save/restore_all
// subgraph, init ops in signatures or collections, asset tensors), and
// RunSignature's checks of a request.
#include "recship/runtime/saved_model_bundle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor.h"
#include "recship/runtime/session.h"
#include "saved_model_builder.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::GraphBuilder;
using ::recship::testing::Info;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::MetaGraph;
using ::recship::testing::Signature;
using ::recship::testing::TempDir;
using ::recship::testing::UnknownRankInfo;
using ::recship::testing::VersionContents;
using ::recship::testing::WriteVersion;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

std::vector<float> Floats(const Tensor& t) {
  if (t.dtype() != DT_FLOAT) return {};
  return std::vector<float>(t.flat<float>().begin(), t.flat<float>().end());
}

Tensor Rows(const std::vector<float>& values) {
  return Tensor::FromVector<float>({static_cast<int64_t>(values.size() / 3), 3}, values);
}

// The model most tests load: y = x + w, where w is the variable restored
// from checkpoint key "dense/kernel", and a second signature sum = a + b. The
// restore op also copies the filename it is fed into the string variable
// "restored_from", so a test can see what the loader fed.
void AddAffine(GraphBuilder& g, const std::string& save_path_extra_op = "") {
  g.Placeholder("x", DT_FLOAT);
  g.Var("w", DT_FLOAT);
  g.Read("w/read", "w", DT_FLOAT);
  g.Op("y", "AddV2", {"x", "w/read"}, DT_FLOAT);
  g.Placeholder("x2", DT_FLOAT);
  g.Op("sum", "AddV2", {"x", "x2"}, DT_FLOAT);
  g.Var("restored_from", DT_STRING);
  g.Read("restored_from/read", "restored_from", DT_STRING);
  g.Assign("save/record_filename", "restored_from", "save/Const", DT_STRING);
  // save/restore_all runs the variables' assigns; AffineMeta's restore op
  // also runs save/record_filename.
  AddSaver(g, {{"dense/kernel", "w", DT_FLOAT}}, save_path_extra_op);
}

tensorflow::MetaGraphDef AffineMeta(GraphBuilder& g, const std::string& save_path_extra_op = "") {
  AddAffine(g, save_path_extra_op);
  g.Group("save/restore_all_and_record", {"save/restore_all", "save/record_filename"});
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  tensorflow::SaverDef* saver = meta.mutable_saver_def();
  saver->set_filename_tensor_name("save/Const:0");
  saver->set_save_tensor_name("save/control_dependency:0");
  saver->set_restore_op_name("save/restore_all_and_record");
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({{"x", Info("x:0", DT_FLOAT, {-1, 3})}},
                {{"y", Info("y:0", DT_FLOAT, {-1, 3})}, {"w", Info("w/read:0", DT_FLOAT, {3})}});
  (*meta.mutable_signature_def())["sum"] =
      Signature({{"a", Info("x:0", DT_FLOAT, {-1, 3})}, {"b", UnknownRankInfo("x2:0", DT_FLOAT)}},
                {{"sum", Info("sum:0", DT_FLOAT, {-1, 3})}});
  (*meta.mutable_signature_def())["restored_from"] =
      Signature({}, {{"path", Info("restored_from/read:0", DT_STRING, {})}});
  return meta;
}

VersionContents Weights() {
  VersionContents contents;
  contents.variables["dense/kernel"] = Tensor::FromVector<float>({3}, {10, 20, 30});
  return contents;
}

class SavedModelBundleTest : public ::testing::Test {
 protected:
  // Writes `meta` as version `version` of the test's base folder.
  std::string Write(const tensorflow::MetaGraphDef& meta, const VersionContents& contents = {},
                    int64_t version = 1) {
    absl::StatusOr<std::string> path = WriteVersion(dir_.Join("model"), version, meta, contents);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.ok() ? *path : "";
  }

  TempDir dir_;
};

TEST_F(SavedModelBundleTest, RestoresTheCheckpointFedWithTheVariablesPrefix) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g), Weights());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  EXPECT_EQ(bundle->export_dir(), path);
  ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature(kDefaultServingSignatureKey,
                                                      {{"x", Rows({1, 2, 3, 4, 5, 6})}}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out["y"].shape(), (TensorShape{2, 3}));
  EXPECT_EQ(Floats(out["y"]), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(Floats(out["w"]), (std::vector<float>{10, 20, 30}));
  // The filename tensor was fed <export_dir>/variables/variables.
  ASSERT_OK_AND_ASSIGN(auto fed, bundle->RunSignature("restored_from", {}));
  ASSERT_EQ(fed["path"].strings().size(), 1u);
  EXPECT_EQ(fed["path"].strings()[0], path + "/variables/variables");
  // An empty batch runs too.
  ASSERT_OK_AND_ASSIGN(auto empty,
                       bundle->RunSignature(kDefaultServingSignatureKey, {{"x", Rows({})}}, {"y"}));
  EXPECT_EQ(empty["y"].shape(), (TensorShape{0, 3}));
}

TEST_F(SavedModelBundleTest, ResourceBytesCountsVariablesInTheHeap) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g), Weights());
  const size_t prefix_bytes = (path + "/variables/variables").size();
  // Read: w (3 floats) and restored_from (the variables prefix) in the heap.
  LoadOptions read;
  read.map_variables = false;
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path, read));
  EXPECT_EQ(bundle->ResourceBytes(), 3 * sizeof(float) + prefix_bytes);
  EXPECT_EQ(bundle->MappedBytes(), 0u);
  // Mapped (the default): w's floats are the file's.
  ASSERT_OK_AND_ASSIGN(auto mapped, SavedModelBundle::Load(path));
  EXPECT_EQ(mapped->ResourceBytes(), prefix_bytes);
  EXPECT_EQ(mapped->MappedBytes(), 3 * sizeof(float));
  ASSERT_OK_AND_ASSIGN(
      auto out, mapped->RunSignature(kDefaultServingSignatureKey, {{"x", Rows({1, 2, 3})}}, {"y"}));
  EXPECT_EQ(Floats(out["y"]), (std::vector<float>{11, 22, 33}));
}

// A graph whose serving_default answers y = x + `offset` with no variables.
tensorflow::MetaGraphDef OffsetMeta(const std::vector<std::string>& tags, float offset) {
  GraphBuilder g;
  g.Placeholder("x", DT_FLOAT);
  g.Op("y", "AddV2", {"x", g.Const("offset", Tensor::FromVector<float>({}, {offset}))}, DT_FLOAT);
  tensorflow::MetaGraphDef meta = MetaGraph(tags, g);
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({{"x", Info("x:0", DT_FLOAT, {-1})}}, {{"y", Info("y:0", DT_FLOAT, {-1})}});
  return meta;
}

TEST_F(SavedModelBundleTest, PicksTheMetaGraphByTagSet) {
  tensorflow::SavedModel saved_model;
  *saved_model.add_meta_graphs() = OffsetMeta({"train"}, 100);
  *saved_model.add_meta_graphs() = OffsetMeta({kServeTag, "gpu"}, 200);
  *saved_model.add_meta_graphs() = OffsetMeta({kServeTag}, 1);
  ASSERT_OK_AND_ASSIGN(std::string path, WriteVersion(dir_.Join("model"), 1, saved_model));
  Tensor x = Tensor::FromVector<float>({2}, {1, 2});

  ASSERT_OK_AND_ASSIGN(auto serve, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(auto out, serve->RunSignature(kDefaultServingSignatureKey, {{"x", x}}));
  EXPECT_EQ(Floats(out["y"]), (std::vector<float>{2, 3}));
  std::vector<std::string> tags(serve->meta_graph().meta_info_def().tags().begin(),
                                serve->meta_graph().meta_info_def().tags().end());
  EXPECT_EQ(tags, std::vector<std::string>{kServeTag});

  // Tag order does not matter.
  LoadOptions options;
  options.tags = {"gpu", kServeTag};
  ASSERT_OK_AND_ASSIGN(auto gpu, SavedModelBundle::Load(path, options));
  ASSERT_OK_AND_ASSIGN(out, gpu->RunSignature(kDefaultServingSignatureKey, {{"x", x}}));
  EXPECT_EQ(Floats(out["y"]), (std::vector<float>{201, 202}));

  options.tags = {"tpu"};
  EXPECT_TRUE(IsError(SavedModelBundle::Load(path, options).status(), Code::kNotFound,
                      {"{tpu}", "{train}", "{gpu,serve}", "{serve}"}));

  tensorflow::SavedModel train_only;
  *train_only.add_meta_graphs() = OffsetMeta({"train"}, 100);
  ASSERT_OK_AND_ASSIGN(std::string train_path, WriteVersion(dir_.Join("model"), 2, train_only));
  EXPECT_TRUE(IsError(SavedModelBundle::Load(train_path).status(), Code::kNotFound,
                      {"{serve}", "{train}"}));
}

TEST_F(SavedModelBundleTest, SkipsRestoreWithoutAVariablesIndex) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g));
  ASSERT_FALSE(::recship::testing::Exists(path + "/variables/variables.index"));
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  // Nothing assigned w: reading it fails, naming the variable.
  EXPECT_TRUE(
      IsError(bundle->RunSignature(kDefaultServingSignatureKey, {{"x", Rows({1, 2, 3})}}).status(),
              Code::kFailedPrecondition, {"variable 'w'"}));
  // Signatures that do not read it still run.
  ASSERT_OK_AND_ASSIGN(
      auto out, bundle->RunSignature("sum", {{"a", Rows({1, 2, 3})}, {"b", Rows({1, 1, 1})}}));
  EXPECT_EQ(Floats(out["sum"]), (std::vector<float>{2, 3, 4}));
}

// A model with three candidate init ops: init_sig sets v = 1, init_main
// v = 2, init_legacy v = 3. Each is reachable from nothing else.
tensorflow::MetaGraphDef InitOpMeta(bool signature, bool main_op, bool legacy) {
  GraphBuilder g;
  g.Var("v", DT_INT64);
  g.Read("v/read", "v", DT_INT64);
  int64_t value = 1;
  for (const char* name : {"init_sig", "init_main", "init_legacy"}) {
    std::string assign =
        g.Assign(absl::StrCat(name, "/assign"), "v",
                 g.Const(absl::StrCat(name, "/value"), Tensor::FromVector<int64_t>({}, {value++})),
                 DT_INT64);
    g.Group(name, {assign});
  }
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({}, {{"v", Info("v/read:0", DT_INT64, {})}});
  if (signature) {
    (*meta.mutable_signature_def())[kInitOpSignatureKey] =
        Signature({}, {{kInitOpSignatureKey, Info("init_sig", tensorflow::DT_INVALID, {})}});
  }
  if (main_op) {
    (*meta.mutable_collection_def())[kMainOpCollection].mutable_node_list()->add_value("init_main");
  }
  if (legacy) {
    (*meta.mutable_collection_def())[kLegacyInitOpCollection].mutable_node_list()->add_value(
        "init_legacy");
  }
  return meta;
}

TEST_F(SavedModelBundleTest, RunsTheInitOpFromSignatureElseMainOpElseLegacyInitOp) {
  struct Case {
    bool signature, main_op, legacy;
    int64_t expected;
  };
  const Case cases[] = {
      {true, false, false, 1}, {false, true, false, 2}, {false, false, true, 3},
      {true, true, true, 1},   {false, true, true, 2},  {true, false, true, 1},
  };
  int64_t version = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(
        absl::StrCat("signature=", c.signature, " main_op=", c.main_op, " legacy=", c.legacy));
    std::string path = Write(InitOpMeta(c.signature, c.main_op, c.legacy), {}, version++);
    ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
    ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature(kDefaultServingSignatureKey, {}));
    ASSERT_EQ(out["v"].dtype(), DT_INT64);
    EXPECT_EQ(out["v"].flat<int64_t>()[0], c.expected);
  }
  // No init op: nothing assigns v.
  std::string path = Write(InitOpMeta(false, false, false), {}, version++);
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  EXPECT_TRUE(IsError(bundle->RunSignature(kDefaultServingSignatureKey, {}).status(),
                      Code::kFailedPrecondition, {"variable 'v'"}));
}

TEST_F(SavedModelBundleTest, TheInitOpSignatureIsNotServed) {
  std::string path = Write(InitOpMeta(true, false, false));
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  absl::Status status = bundle->RunSignature(kInitOpSignatureKey, {}).status();
  EXPECT_TRUE(IsError(status, Code::kFailedPrecondition, {kInitOpSignatureKey, "serving_default"}));
  // The list of signatures leaves it out.
  EXPECT_EQ(status.message().find(kInitOpSignatureKey),
            status.message().rfind(kInitOpSignatureKey));
}

TEST_F(SavedModelBundleTest, TheInitOpRunsAfterTheRestore) {
  GraphBuilder g;
  AddAffine(g);
  // init: w_plus_one = w + 1, which needs the restored w.
  g.Var("w_plus_one", DT_FLOAT);
  g.Read("w_plus_one/read", "w_plus_one", DT_FLOAT);
  g.Assign("init/assign", "w_plus_one",
           g.Op("init/add", "AddV2",
                {"w/read", g.Const("init/one", Tensor::FromVector<float>({}, {1}))}, DT_FLOAT),
           DT_FLOAT);
  g.Group("init", {"init/assign"});
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  meta.mutable_saver_def()->set_filename_tensor_name("save/Const:0");
  meta.mutable_saver_def()->set_restore_op_name("save/restore_all");
  (*meta.mutable_collection_def())[kLegacyInitOpCollection].mutable_node_list()->add_value("init");
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({}, {{"z", Info("w_plus_one/read:0", DT_FLOAT, {3})}});
  std::string path = Write(meta, Weights());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature(kDefaultServingSignatureKey, {}));
  EXPECT_EQ(Floats(out["z"]), (std::vector<float>{11, 21, 31}));
}

// An asset tensor (a Const holding the file's original name, as TF1 writes
// it) that the init op copies into a string variable, read by the "vocab"
// signature: it shows what the loader fed the asset tensor.
tensorflow::MetaGraphDef AssetMeta() {
  GraphBuilder g;
  g.Const("asset_filepath", Tensor::FromStrings({}, {"vocab.txt"}));
  g.Const("other_asset_filepath", Tensor::FromStrings({}, {"other.txt"}));
  g.Var("vocab_path", DT_STRING);
  g.Read("vocab_path/read", "vocab_path", DT_STRING);
  g.Var("other_path", DT_STRING);
  g.Read("other_path/read", "other_path", DT_STRING);
  g.Group("init_all", {g.Assign("init/vocab", "vocab_path", "asset_filepath", DT_STRING),
                       g.Assign("init/other", "other_path", "other_asset_filepath", DT_STRING)});
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  (*meta.mutable_collection_def())[kMainOpCollection].mutable_node_list()->add_value("init_all");
  (*meta.mutable_signature_def())["vocab"] =
      Signature({}, {{"path", Info("vocab_path/read:0", DT_STRING, {})},
                     {"other", Info("other_path/read:0", DT_STRING, {})}});
  return meta;
}

tensorflow::AssetFileDef Asset(const std::string& tensor, const std::string& filename) {
  tensorflow::AssetFileDef asset;
  asset.mutable_tensor_info()->set_name(tensor);
  asset.mutable_tensor_info()->set_dtype(DT_STRING);
  asset.set_filename(filename);
  return asset;
}

VersionContents VocabAssets() {
  VersionContents contents;
  contents.assets["vocab.txt"] = "a\nb\n";
  contents.assets["other.txt"] = "c\n";
  return contents;
}

TEST_F(SavedModelBundleTest, FeedsAssetPathsFromAssetFileDef) {
  tensorflow::MetaGraphDef meta = AssetMeta();
  *meta.add_asset_file_def() = Asset("asset_filepath:0", "vocab.txt");
  std::string path = Write(meta, VocabAssets());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature("vocab", {}));
  EXPECT_EQ(out["path"].strings(), std::vector<std::string>{path + "/assets/vocab.txt"});
  // A Const that is not an asset keeps its value.
  EXPECT_EQ(out["other"].strings(), std::vector<std::string>{"other.txt"});
}

TEST_F(SavedModelBundleTest, FeedsAssetPathsFromTheAssetsCollection) {
  tensorflow::MetaGraphDef meta = AssetMeta();
  auto* any_list = (*meta.mutable_collection_def())[kAssetsCollection].mutable_any_list();
  // As TensorFlow writes them: its own type name in the URL.
  for (const auto& asset :
       {Asset("asset_filepath:0", "vocab.txt"), Asset("other_asset_filepath:0", "other.txt")}) {
    google::protobuf::Any* any = any_list->add_value();
    any->set_type_url("type.googleapis.com/tensorflow.AssetFileDef");
    any->set_value(asset.SerializeAsString());
  }
  std::string path = Write(meta, VocabAssets());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature("vocab", {}));
  EXPECT_EQ(out["path"].strings(), std::vector<std::string>{path + "/assets/vocab.txt"});
  EXPECT_EQ(out["other"].strings(), std::vector<std::string>{path + "/assets/other.txt"});
}

TEST_F(SavedModelBundleTest, AssetFileDefWinsOverTheAssetsCollection) {
  tensorflow::MetaGraphDef meta = AssetMeta();
  *meta.add_asset_file_def() = Asset("asset_filepath:0", "vocab.txt");
  (*meta.mutable_collection_def())[kAssetsCollection].mutable_any_list()->add_value()->PackFrom(
      Asset("other_asset_filepath:0", "other.txt"));
  std::string path = Write(meta, VocabAssets());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(auto out, bundle->RunSignature("vocab", {}));
  EXPECT_EQ(out["path"].strings(), std::vector<std::string>{path + "/assets/vocab.txt"});
  EXPECT_EQ(out["other"].strings(), std::vector<std::string>{"other.txt"});
}

TEST_F(SavedModelBundleTest, UnsupportedOpOnASignaturePathFailsLoad) {
  GraphBuilder g;
  tensorflow::MetaGraphDef meta = AffineMeta(g);
  GraphBuilder extra;
  extra.Add(
      "features/joined", "StringJoin",
      {extra.Const("features/a", Tensor::FromStrings({}, {"a"})),
       extra.Const("features/b", Tensor::FromStrings({}, {"b"}))},
      {{"N", ::recship::testing::IntAttr(2)}, {"separator", ::recship::testing::StrAttr("")}});
  extra.Op("joined_out", "Identity", {"features/joined"}, DT_STRING);
  for (const auto& node : extra.graph().node()) *meta.mutable_graph_def()->add_node() = node;
  (*meta.mutable_signature_def())["joined"] =
      Signature({}, {{"s", Info("joined_out:0", DT_STRING, {})}});
  std::string path = Write(meta, Weights());
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(path).status(),
                         {"features/joined", "StringJoin", path + "/saved_model.pb"}));

  // The same op reached only from the init op fails the load too.
  meta.mutable_signature_def()->erase("joined");
  (*meta.mutable_collection_def())[kLegacyInitOpCollection].mutable_node_list()->add_value(
      "joined_out");
  path = Write(meta, Weights(), 2);
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(path).status(),
                         {"features/joined", "StringJoin", path + "/saved_model.pb"}));
}

TEST_F(SavedModelBundleTest, UnsupportedOpOffEveryPathTheLoaderRunsIsIgnored) {
  // StringJoin on the save path (as sharded TF1 savers have), and a dangling
  // unsupported node nothing reaches.
  GraphBuilder g;
  tensorflow::MetaGraphDef meta = AffineMeta(g, "StringJoin");
  tensorflow::NodeDef* dangling = meta.mutable_graph_def()->add_node();
  dangling->set_name("debug/unused");
  dangling->set_op("PrintV2");
  dangling->add_input("y");
  std::string path = Write(meta, Weights());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  ASSERT_OK_AND_ASSIGN(
      auto out, bundle->RunSignature(kDefaultServingSignatureKey, {{"x", Rows({0, 0, 1})}}, {"y"}));
  EXPECT_EQ(Floats(out["y"]), (std::vector<float>{10, 20, 31}));
}

TEST_F(SavedModelBundleTest, RunSignatureChecksTheRequest) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g), Weights());
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path));
  auto run = [&](const std::string& signature, const std::map<std::string, Tensor>& inputs,
                 const std::vector<std::string>& filter = {}) {
    return bundle->RunSignature(signature, inputs, filter).status();
  };
  const Tensor x = Rows({1, 2, 3});

  EXPECT_TRUE(IsError(run("sum", {{"a", x}}), Code::kInvalidArgument, {"missing", "b", "'sum'"}));
  EXPECT_TRUE(IsError(run("sum", {}), Code::kInvalidArgument, {"a, b"}));
  EXPECT_TRUE(IsError(run(kDefaultServingSignatureKey, {{"x", x}, {"bogus", x}}),
                      Code::kInvalidArgument, {"'bogus'", "serving_default"}));
  EXPECT_TRUE(IsError(
      run(kDefaultServingSignatureKey, {{"x", Tensor::FromVector<int64_t>({1, 3}, {1, 2, 3})}}),
      Code::kInvalidArgument, {"'x'", "float", "int64"}));
  EXPECT_TRUE(
      IsError(run(kDefaultServingSignatureKey, {{"x", Tensor::FromVector<float>({3}, {1, 2, 3})}}),
              Code::kInvalidArgument, {"'x'", "[3]", "[?, 3]"}));
  EXPECT_TRUE(IsError(
      run(kDefaultServingSignatureKey, {{"x", Tensor::FromVector<float>({1, 4}, {1, 2, 3, 4})}}),
      Code::kInvalidArgument, {"'x'", "[1, 4]", "[?, 3]"}));
  // A scalar where [?, 3] is expected is a wrong rank too.
  EXPECT_TRUE(IsError(run(kDefaultServingSignatureKey, {{"x", Tensor::FromVector<float>({}, {1})}}),
                      Code::kInvalidArgument, {"'x'"}));
  // An input of unknown rank takes any shape.
  EXPECT_OK(run("sum", {{"a", x}, {"b", Tensor::FromVector<float>({}, {1})}}));
  EXPECT_OK(run("sum", {{"a", x}, {"b", x}}));

  EXPECT_TRUE(IsError(run("nope", {{"x", x}}), Code::kFailedPrecondition,
                      {"\"nope\"", "restored_from, serving_default, sum"}));

  ASSERT_OK_AND_ASSIGN(auto only_w,
                       bundle->RunSignature(kDefaultServingSignatureKey, {{"x", x}}, {"w"}));
  ASSERT_EQ(only_w.size(), 1u);
  EXPECT_EQ(Floats(only_w["w"]), (std::vector<float>{10, 20, 30}));
  ASSERT_OK_AND_ASSIGN(auto both,
                       bundle->RunSignature(kDefaultServingSignatureKey, {{"x", x}}, {"y", "w"}));
  EXPECT_EQ(both.size(), 2u);
  EXPECT_EQ(Floats(both["y"]), (std::vector<float>{11, 22, 33}));
  EXPECT_TRUE(IsError(run(kDefaultServingSignatureKey, {{"x", x}}, {"y", "score"}),
                      Code::kInvalidArgument, {"'score'", "serving_default"}));
}

TEST_F(SavedModelBundleTest, ConcurrentRunSignatureCallsAgree) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g), Weights());
  ThreadPool pool(2);
  LoadOptions options;
  options.thread_pool = &pool;
  ASSERT_OK_AND_ASSIGN(auto bundle, SavedModelBundle::Load(path, options));

  constexpr int kThreads = 8, kRuns = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        // Batch sizes vary, so the threads do not all share one plan's shapes.
        const int rows = 1 + (t + i) % 5;
        std::vector<float> x(static_cast<size_t>(rows) * 3), want(x.size());
        for (size_t k = 0; k < x.size(); ++k) {
          x[k] = static_cast<float>(t * 1000 + i + static_cast<int>(k));
          want[k] = x[k] + static_cast<float>(10 * (k % 3 + 1));
        }
        // Half the threads ask for y alone, half for everything.
        std::vector<std::string> filter;
        if (t % 2 == 0) filter = {"y"};
        auto out = bundle->RunSignature(kDefaultServingSignatureKey, {{"x", Rows(x)}}, filter);
        if (!out.ok() || Floats((*out)["y"]) != want) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SavedModelBundleTest, CorruptVariablesIndexFailsLoadNamingTheFile) {
  GraphBuilder g;
  std::string path = Write(AffineMeta(g), Weights());
  ::recship::testing::WriteBytes(path + "/variables/variables.index",
                                 ::recship::testing::RandomBytes(300, 7));
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(path).status(),
                         {path, "restoring variables", "variables/variables.index"}));
}

TEST_F(SavedModelBundleTest, CheckpointMissingATensorFailsLoadNamingIt) {
  GraphBuilder g;
  VersionContents contents;
  contents.variables["dense/bias"] = Tensor::FromVector<float>({3}, {1, 2, 3});
  std::string path = Write(AffineMeta(g), contents);
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(path).status(),
                         {path, "restoring variables", "dense/kernel", "save/RestoreV2"}));
}

TEST_F(SavedModelBundleTest, CheckpointTensorOfTheWrongDtypeFailsLoad) {
  GraphBuilder g;
  VersionContents contents;
  contents.variables["dense/kernel"] = Tensor::FromVector<int64_t>({3}, {1, 2, 3});
  std::string path = Write(AffineMeta(g), contents);
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(path).status(), {path, "dense/kernel"}));
}

TEST_F(SavedModelBundleTest, UnreadableSavedModelFailsLoadNamingTheFile) {
  std::string version = dir_.Join("1");
  std::filesystem::create_directories(version);
  EXPECT_TRUE(IsAnyError(SavedModelBundle::Load(version).status(), {version + "/saved_model.pb"}));
  ::recship::testing::WriteBytes(version + "/saved_model.pb", "\x0a\xff\xff not a proto");
  EXPECT_TRUE(IsError(SavedModelBundle::Load(version).status(), Code::kDataLoss,
                      {version + "/saved_model.pb"}));
}

TEST_F(SavedModelBundleTest, MalformedGraphFailsLoadNamingTheFile) {
  GraphBuilder g;
  tensorflow::MetaGraphDef meta = AffineMeta(g);
  // A signature output naming no node.
  (*meta.mutable_signature_def())["ghost"] = Signature({}, {{"g", Info("ghost:0", DT_FLOAT, {})}});
  std::string path = Write(meta, Weights());
  EXPECT_TRUE(
      IsAnyError(SavedModelBundle::Load(path).status(), {"ghost", path + "/saved_model.pb"}));
}

}  // namespace
}  // namespace recship
