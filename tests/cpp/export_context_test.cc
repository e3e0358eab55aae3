// The export-mode rules: thread-local, no nesting, always restored.
#include "recship/model/export_context.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace recship {
namespace {

TEST(ExportModeTest, ScopeSetsAndRestoresTheMode) {
  EXPECT_FALSE(IsExporting());
  ExportContext ctx;
  {
    auto scope = EnterExportMode(ExportMode::kStandalone, &ctx);
    ASSERT_TRUE(scope.ok()) << scope.status();
    EXPECT_TRUE(IsExporting());
    EXPECT_TRUE(IsExportingStandalone());
    EXPECT_FALSE(IsExportingDistributed());
    EXPECT_EQ(GetCurrentExportContext(), &ctx);
  }
  EXPECT_FALSE(IsExporting());
  EXPECT_EQ(GetCurrentExportContext(), nullptr);
}

TEST(ExportModeTest, NestingIsRejected) {
  auto outer = EnterExportMode(ExportMode::kDistributed);
  ASSERT_TRUE(outer.ok());
  auto inner = EnterExportMode(ExportMode::kStandalone);
  EXPECT_EQ(inner.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(inner.status().message().find("nest"), std::string::npos);
  EXPECT_TRUE(IsExportingDistributed());  // The outer mode is untouched.
}

TEST(ExportModeTest, RestoredAfterAnException) {
  try {
    auto scope = EnterExportMode(ExportMode::kStandalone);
    ASSERT_TRUE(scope.ok());
    throw std::runtime_error("model_fn failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(IsExporting());
  EXPECT_TRUE(EnterExportMode(ExportMode::kStandalone).ok());
}

TEST(ExportModeTest, ThreadsDoNotSeeEachOther) {
  ExportContext a, b;
  auto scope = EnterExportMode(ExportMode::kStandalone, &a);
  ASSERT_TRUE(scope.ok());
  bool other_saw_export = true;
  bool other_entered = false;
  std::thread other([&] {
    other_saw_export = IsExporting();
    auto s = EnterExportMode(ExportMode::kDistributed, &b);
    other_entered = s.ok() && IsExportingDistributed() && GetCurrentExportContext() == &b;
  });
  other.join();
  EXPECT_FALSE(other_saw_export);
  EXPECT_TRUE(other_entered);
  EXPECT_TRUE(IsExportingStandalone());
  EXPECT_EQ(GetCurrentExportContext(), &a);
}

TEST(ExportContextTest, SubGraphsAndSignatures) {
  ExportContext ctx(/*with_remote_gpu=*/true);
  EXPECT_TRUE(ctx.with_remote_gpu());
  EXPECT_FALSE(ctx.has_sub_graph("ps_0"));
  Graph& ps0 = ctx.sub_graph("ps_0");
  EXPECT_EQ(&ps0, &ctx.sub_graph("ps_0"));
  ctx.add_signature("ps_0", {"lookup", {}, {}});
  ASSERT_EQ(ctx.signatures("ps_0").size(), 1u);
  EXPECT_EQ(ctx.signatures("ps_0")[0].name, "lookup");
  EXPECT_TRUE(ctx.signatures("entry").empty());
  EXPECT_EQ(ctx.sub_graph_names(), std::vector<std::string>{"ps_0"});
}

}  // namespace
}  // namespace recship
