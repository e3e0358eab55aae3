// serving/model_config: the model config file, version folders and version
// policies.
#include "recship/serving/model_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"
#include "test_util.h"
#include "tiny_model.h"

namespace recship {
namespace {

using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using ::recship::testing::WriteBytes;
using tensorflow::serving::ModelServerConfig;
using Code = absl::StatusCode;
using VersionPolicy = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// ---------------------------------------------------------------------------
// ReadModelServerConfig.

TEST(ModelConfigTest, ReadsPoliciesAndLabels) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path, R"(
model_config_list {
  config {
    name: "default"
    base_path: "/models/default"
    model_platform: "tensorflow"
  }
  config {
    name: "latest2"
    base_path: "/models/latest2"
    model_version_policy { latest { num_versions: 2 } }
  }
  config {
    name: "all"
    base_path: "/models/all"
    model_version_policy { all {} }
  }
  config {
    name: "specific"
    base_path: "/models/specific"
    model_version_policy { specific { versions: 3 versions: 7 } }
    version_labels { key: "stable" value: 3 }
    version_labels { key: "canary" value: 7 }
  }
}
)");
  ASSERT_OK_AND_ASSIGN(ModelServerConfig config, ReadModelServerConfig(path));
  const auto& models = config.model_config_list().config();
  ASSERT_EQ(models.size(), 4);
  EXPECT_EQ(models[0].name(), "default");
  EXPECT_EQ(models[0].base_path(), "/models/default");
  EXPECT_FALSE(models[0].has_model_version_policy());
  EXPECT_EQ(models[1].model_version_policy().latest().num_versions(), 2u);
  EXPECT_TRUE(models[2].model_version_policy().has_all());
  ASSERT_TRUE(models[3].model_version_policy().has_specific());
  EXPECT_EQ(std::vector<int64_t>(models[3].model_version_policy().specific().versions().begin(),
                                 models[3].model_version_policy().specific().versions().end()),
            (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(models[3].version_labels().at("stable"), 3);
  EXPECT_EQ(models[3].version_labels().at("canary"), 7);
}

TEST(ModelConfigTest, SyntaxErrorNamesTheFileAndTheLine) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path,
             "model_config_list {\n"
             "  config {\n"
             "    name: \"a\"\n"
             "    base_path \"/models/a\"\n"
             "  }\n"
             "}\n");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "line 4"}));
  WriteBytes(path, "model_config_list {\n  config {\n    nmae: \"a\"\n  }\n}\n");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "line 3", "nmae"}));
}

TEST(ModelConfigTest, RejectsBadModels) {
  TempDir dir;
  const std::string path = dir.Join("models.config");
  WriteBytes(path,
             "model_config_list { config { name: \"a\" base_path: \"/a\" }"
             " config { name: \"a\" base_path: \"/b\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "twice"}));
  WriteBytes(path, "model_config_list { config { name: \"a\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "base_path"}));
  WriteBytes(path, "model_config_list { config { base_path: \"/a\" } }");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "no name"}));
  WriteBytes(path,
             "model_config_list { config { name: \"a\" base_path: \"/a\""
             " model_platform: \"pytorch\" } }");
  EXPECT_TRUE(IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument,
                      {path, "'a'", "pytorch", "not supported"}));
  WriteBytes(path, "");
  EXPECT_TRUE(
      IsError(ReadModelServerConfig(path).status(), Code::kInvalidArgument, {path, "no model"}));
  EXPECT_TRUE(IsAnyError(ReadModelServerConfig(dir.Join("absent.config")).status(),
                         {dir.Join("absent.config")}));
}

TEST(ModelConfigTest, SingleModelConfigIsValid) {
  ModelServerConfig config = SingleModelConfig("m", "/models/m");
  EXPECT_OK(ValidateModelServerConfig(config));
  ASSERT_EQ(config.model_config_list().config_size(), 1);
  EXPECT_EQ(config.model_config_list().config(0).base_path(), "/models/m");
}

// ---------------------------------------------------------------------------
// ListVersions and AspiredVersions.

TEST(ListVersionsTest, NumericFoldersOnlyAscending) {
  TempDir dir;
  for (const char* name :
       {"10", "2", "1", "3", "temp-4", "abc", "-5", "1a", "99999999999999999999"})
    std::filesystem::create_directory(dir.Join(name));
  WriteBytes(dir.Join("7"), "a file, not a version");
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> versions, ListVersions(dir.path()));
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 10}));

  TempDir empty;
  ASSERT_OK_AND_ASSIGN(versions, ListVersions(empty.path()));
  EXPECT_TRUE(versions.empty());
  EXPECT_TRUE(
      IsError(ListVersions(dir.Join("absent")).status(), Code::kNotFound, {dir.Join("absent")}));
}

TEST(AspiredVersionsTest, EachPolicy) {
  const std::vector<int64_t> on_disk = {1, 2, 5, 9};
  VersionPolicy policy;
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));
  policy.mutable_latest();
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));  // 0 means 1.
  policy.mutable_latest()->set_num_versions(1);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{9}));
  policy.mutable_latest()->set_num_versions(2);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{5, 9}));
  policy.mutable_latest()->set_num_versions(10);
  EXPECT_EQ(AspiredVersions(policy, on_disk), on_disk);
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());

  policy.mutable_all();
  EXPECT_EQ(AspiredVersions(policy, on_disk), on_disk);
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());

  policy.mutable_specific()->add_versions(5);
  policy.mutable_specific()->add_versions(7);  // Not on disk.
  policy.mutable_specific()->add_versions(1);
  EXPECT_EQ(AspiredVersions(policy, on_disk), (std::vector<int64_t>{1, 5}));
  EXPECT_TRUE(AspiredVersions(policy, {}).empty());
  VersionPolicy none_listed;
  none_listed.mutable_specific();
  EXPECT_TRUE(AspiredVersions(none_listed, on_disk).empty());
}

}  // namespace
}  // namespace recship
