// LayoutFilter (the --layout_filter grammar: patterns, conditions, bad
// filters and their messages) and LayoutModelServerConfig (a layout's
// sub-folders -> the ModelServerConfig `recship serve --layout_base_path`
// serves).
#include "recship/serving/layout_filter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using ::recship::testing::WriteBytes;
using Code = absl::StatusCode;

// The sub-models among `names` that `filter` matches.
std::vector<std::string> Matching(const std::string& filter,
                                  const std::vector<std::string>& names) {
  absl::StatusOr<LayoutFilter> parsed = LayoutFilter::Parse(filter);
  EXPECT_TRUE(parsed.ok()) << filter << ": " << parsed.status();
  std::vector<std::string> out;
  if (!parsed.ok()) return out;
  for (const std::string& name : names) {
    if (parsed->Matches(name)) out.push_back(name);
  }
  return out;
}

const std::vector<std::string> kLayout = {"entry", "ps_0",  "ps_1",   "ps_2",
                                          "ps_3",  "ps_10", "dense_0"};

TEST(LayoutFilterTest, PatternsWithoutConditionMatchNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Matching("entry", kLayout), V({"entry"}));
  EXPECT_EQ(Matching("  dense_0 ", kLayout), V({"dense_0"}));
  EXPECT_EQ(Matching("ps_{i}", kLayout), V({"ps_0", "ps_1", "ps_2", "ps_3", "ps_10"}));
  EXPECT_EQ(Matching("ps_1", kLayout), V({"ps_1"}));
  EXPECT_EQ(Matching("{i}", {"7", "07", "", "x"}), V({"7"}));
  EXPECT_EQ(Matching("shard_{i}", kLayout), V());
  // {i} is a number without leading zeros or sign, in the middle too.
  EXPECT_EQ(
      Matching("ps_{i}", {"ps_", "ps_01", "ps_-1", "ps_1x", "ps_00", "ps_99999999999999999999"}),
      V());
  EXPECT_EQ(Matching("a{i}b", {"a1b", "ab", "a12b", "a1", "1b", "a0b"}), V({"a1b", "a12b", "a0b"}));
}

TEST(LayoutFilterTest, Conditions) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Matching("ps_{i}; i % 2 == 0", kLayout), V({"ps_0", "ps_2", "ps_10"}));
  EXPECT_EQ(Matching("ps_{i};i%2==1", kLayout), V({"ps_1", "ps_3"}));
  EXPECT_EQ(Matching("ps_{i}; i < 2 or i >= 10", kLayout), V({"ps_0", "ps_1", "ps_10"}));
  EXPECT_EQ(Matching("ps_{i}; i > 0 && i <= 2", kLayout), V({"ps_1", "ps_2"}));
  EXPECT_EQ(Matching("ps_{i}; i != 1 and i != 2 || i == 2", kLayout),
            V({"ps_0", "ps_2", "ps_3", "ps_10"}));  // and binds tighter than or
  EXPECT_EQ(Matching("ps_{i}; i != 1 and (i != 2 || i == 2)", kLayout),
            V({"ps_0", "ps_2", "ps_3", "ps_10"}));
  EXPECT_EQ(Matching("ps_{i}; (i == 0 or i == 3) and i % 3 == 0", kLayout), V({"ps_0", "ps_3"}));
  EXPECT_EQ(Matching("ps_{i}; i % 4 % 3 == 1", kLayout), V({"ps_1"}));  // (i % 4) % 3
  EXPECT_EQ(Matching("ps_{i}; i % (7 % 4) == 1", kLayout), V({"ps_1", "ps_10"}));
  EXPECT_EQ(Matching("ps_{i}; 7 % 4 == i", kLayout), V({"ps_3"}));
  EXPECT_EQ(Matching("ps_{i}; 2 <= i", kLayout), V({"ps_2", "ps_3", "ps_10"}));
  EXPECT_EQ(Matching("ps_{i}; ((((i == 3))))", kLayout), V({"ps_3"}));
  EXPECT_EQ(Matching("dense_{i}; i == 0", kLayout), V({"dense_0"}));
  EXPECT_EQ(Matching("ps_{i}; i == 9223372036854775807", {"ps_9223372036854775807"}),
            V({"ps_9223372036854775807"}));
}

// Expects `filter` to be refused, with a message that quotes it and contains
// every one of `parts`.
void ExpectBad(const std::string& filter, std::initializer_list<std::string> parts) {
  absl::StatusOr<LayoutFilter> parsed = LayoutFilter::Parse(filter);
  std::initializer_list<std::string> quoted = {absl::StrCat("'", filter, "'")};
  EXPECT_TRUE(IsError(parsed.status(), Code::kInvalidArgument, quoted)) << filter;
  EXPECT_TRUE(IsError(parsed.status(), Code::kInvalidArgument, parts)) << filter;
}

TEST(LayoutFilterTest, BadPatterns) {
  ExpectBad("", {"column 1", "pattern is empty"});
  ExpectBad("  ; i == 1", {"column 3", "pattern is empty"});
  ExpectBad("ps_{j}", {"column 4, '{j}'", "only {i}"});
  ExpectBad("ps_{i", {"column 4, '{'", "only {i}"});
  ExpectBad("ps_{i}_{i}", {"column 8, '{i}'", "only once"});
  ExpectBad("ps-{i}", {"column 3, '-'", "letters, digits"});
  ExpectBad("ps_}", {"column 4, '}'"});
  ExpectBad("ps {i}", {"column 3, ' '"});
  ExpectBad("entry; i == 0", {"column 6, ';'", "needs {i}"});
  ExpectBad("ps_{i};", {"column 7, ';'", "expected a condition"});
  ExpectBad("ps_{i};   ", {"column 7, ';'", "expected a condition"});
}

TEST(LayoutFilterTest, BadConditions) {
  ExpectBad("ps_{i}; i % 2 = 0", {"column 15, '='", "'=='"});
  ExpectBad("ps_{i}; i % 2 ==", {"column 17, at the end", "expected a number, i or '('"});
  ExpectBad("ps_{i}; j == 1", {"column 9, 'j'", "unknown name"});
  ExpectBad("ps_{i}; i == 1 and", {"column 19, at the end"});
  ExpectBad("ps_{i}; i == 1 and or i == 2", {"column 20, 'or'", "expected a number"});
  ExpectBad("ps_{i}; i + 1 == 2", {"column 11, '+'", "unexpected character"});
  ExpectBad("ps_{i}; i == 1; i == 2", {"column 15, ';'", "unexpected character"});
  ExpectBad("ps_{i}; i & 1", {"column 11, '&'"});
  ExpectBad("ps_{i}; !(i == 1)", {"column 9, '!'"});
  ExpectBad("ps_{i}; i == -1", {"column 14, '-'"});
  ExpectBad("ps_{i}; i == 2x", {"column 14, '2x'", "not a number"});
  ExpectBad("ps_{i}; i", {"column 9, 'i'", "is a number, not a comparison"});
  ExpectBad("ps_{i}; i % 2", {"column 9, 'i'", "is a number"});
  ExpectBad("ps_{i}; 1 < i < 3", {"column 15, '<'", "do not chain"});
  ExpectBad("ps_{i}; i and i == 1", {"column 11, 'and'", "left side is a number"});
  ExpectBad("ps_{i}; i == 1 || 2", {"column 16, '||'", "right side is a number"});
  ExpectBad("ps_{i}; (i == 1) == 1", {"column 18, '=='", "left side is a condition"});
  ExpectBad("ps_{i}; i % (i == 1) == 0", {"column 11, '%'", "right side is a condition"});
  ExpectBad("ps_{i}; i % 0 == 0", {"column 11, '%'", "division by zero"});
  ExpectBad("ps_{i}; i % (4 % 2) == 0", {"column 11, '%'", "division by zero"});
  ExpectBad("ps_{i}; 5 % i == 0", {"column 11, '%'", "constant"});
  ExpectBad("ps_{i}; (i == 1", {"column 16, at the end", "')'", "column 9"});
  ExpectBad("ps_{i}; i == 1)", {"column 15, ')'", "closes no '('"});
  ExpectBad("ps_{i}; ()", {"column 10, ')'", "expected a number"});
  ExpectBad("ps_{i}; i == 99999999999999999999", {"column 14", "too large"});
}

TEST(LayoutFilterTest, NestingIsBounded) {
  auto nested = [](int depth) {
    return absl::StrCat("ps_{i}; ", std::string(depth, '('), "i == 1", std::string(depth, ')'));
  };
  EXPECT_EQ(Matching(nested(LayoutFilter::kMaxNesting), {"ps_0", "ps_1"}),
            std::vector<std::string>({"ps_1"}));
  ExpectBad(nested(LayoutFilter::kMaxNesting + 1),
            {absl::StrCat("column ", 9 + LayoutFilter::kMaxNesting, ", '('"), "nest more than"});
  // Far deeper than any stack: refused, not a crash.
  ExpectBad(nested(1000000), {"nest more than"});
  // Long flat chains are not nesting: they parse and evaluate without recursion.
  std::string chain = "ps_{i}; i == 0";
  for (int k = 1; k < 100000; ++k) absl::StrAppend(&chain, " or i == ", k);
  EXPECT_EQ(Matching(chain, {"ps_5", "ps_99999", "ps_100000"}),
            std::vector<std::string>({"ps_5", "ps_99999"}));
}

// A layout folder: entry/1, ps_0..ps_3/1, dense_0/1, plus things to ignore.
class LayoutConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* sub : {"entry", "ps_0", "ps_1", "ps_2", "ps_3", "ps_10", "dense_0"}) {
      std::filesystem::create_directories(std::filesystem::path(dir_.path()) / sub / "1");
    }
    std::filesystem::create_directories(dir_.Join("ps_01"));
    std::filesystem::create_directories(dir_.Join("temp-ps_4"));
    std::filesystem::create_directories(dir_.Join("other"));
    WriteBytes(dir_.Join("ps_5"), "a file, not a sub-model");
  }

  absl::StatusOr<tensorflow::serving::ModelServerConfig> Config(
      const std::vector<std::string>& filters, const std::string& model = "ctr") {
    std::vector<LayoutFilter> parsed;
    for (const std::string& text : filters) {
      absl::StatusOr<LayoutFilter> filter = LayoutFilter::Parse(text);
      EXPECT_TRUE(filter.ok()) << filter.status();
      if (filter.ok()) parsed.push_back(*filter);
    }
    return LayoutModelServerConfig(dir_.path(), model, parsed);
  }

  static std::vector<std::string> Names(const tensorflow::serving::ModelServerConfig& config) {
    std::vector<std::string> names;
    for (const auto& model : config.model_config_list().config()) names.push_back(model.name());
    return names;
  }

  TempDir dir_;
};

TEST_F(LayoutConfigTest, ListsSubModelsInOrder) {
  ASSERT_OK_AND_ASSIGN(std::vector<SubModel> subs, ListLayoutSubModels(dir_.path()));
  std::vector<std::string> names;
  for (const SubModel& sub : subs) names.push_back(sub.name());
  EXPECT_EQ(names, std::vector<std::string>(
                       {"entry", "ps_0", "ps_1", "ps_2", "ps_3", "ps_10", "dense_0"}));
  EXPECT_TRUE(
      IsError(ListLayoutSubModels(dir_.Join("missing")).status(), Code::kNotFound, {"missing"}));
}

TEST_F(LayoutConfigTest, NoFilterServesEverySubModel) {
  ASSERT_OK_AND_ASSIGN(auto config, Config({}));
  EXPECT_EQ(Names(config), std::vector<std::string>({"ctr", "ctr:ps_0", "ctr:ps_1", "ctr:ps_2",
                                                     "ctr:ps_3", "ctr:ps_10", "ctr:dense_0"}));
  for (const auto& model : config.model_config_list().config()) {
    std::string sub = model.name() == "ctr" ? "entry" : model.name().substr(4);
    EXPECT_EQ(model.base_path(), dir_.Join(sub));
    EXPECT_EQ(model.model_platform(), "tensorflow");
    ASSERT_TRUE(model.model_version_policy().has_latest());
    EXPECT_EQ(model.model_version_policy().latest().num_versions(), 1u);
  }
}

TEST_F(LayoutConfigTest, AnyFilterMayMatch) {
  ASSERT_OK_AND_ASSIGN(auto even, Config({"ps_{i}; i % 2 == 0"}));
  EXPECT_EQ(Names(even), std::vector<std::string>({"ctr:ps_0", "ctr:ps_2", "ctr:ps_10"}));
  ASSERT_OK_AND_ASSIGN(auto odd, Config({"ps_{i}; i % 2 == 1", "entry", "entry"}, "m"));
  EXPECT_EQ(Names(odd), std::vector<std::string>({"m", "m:ps_1", "m:ps_3"}));
  ASSERT_OK_AND_ASSIGN(auto dense, Config({"dense_0", "shard_{i}"}));
  EXPECT_EQ(Names(dense), std::vector<std::string>({"ctr:dense_0"}));
}

TEST_F(LayoutConfigTest, Errors) {
  EXPECT_TRUE(IsError(Config({"ps_{i}; i > 10", "dense_1"}).status(), Code::kNotFound,
                      {dir_.path(), "'ps_{i}; i > 10', 'dense_1'",
                       "sub-models found: entry, ps_0, ps_1, ps_2, ps_3, ps_10, dense_0"}));
  EXPECT_TRUE(IsError(Config({}, "").status(), Code::kInvalidArgument, {"name"}));
  TempDir empty;
  std::filesystem::create_directories(empty.Join("other"));
  EXPECT_TRUE(IsError(LayoutModelServerConfig(empty.path(), "ctr", {}).status(), Code::kNotFound,
                      {"no sub-model", empty.path()}));
  EXPECT_TRUE(IsError(LayoutModelServerConfig(empty.Join("missing"), "ctr", {}).status(),
                      Code::kNotFound, {"missing"}));
}

}  // namespace
}  // namespace recship
