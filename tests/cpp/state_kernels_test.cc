// runtime/kernels/state_kernels: resource variables (VarHandleOp,
// AssignVariableOp, ReadVariableOp) and checkpoints (SaveV2, RestoreV2), run
// through a Session on small graphs built by hand: variables shared by name,
// reads of unset variables, failed assigns leaving the value alone, and a save
// then restore round trip with its errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/format/tensor.h"
#include "recship/runtime/resource_manager.h"
#include "recship/runtime/session.h"
#include "recship/tensorflow/core/framework/types.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::GraphBuilder;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::RunGraph;
using ::recship::testing::RunOne;
using ::recship::testing::Strings;
using ::recship::testing::StringsAre;
using ::recship::testing::T1;
using ::recship::testing::TempDir;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using ::recship::testing::TypeListAttr;
using ::recship::testing::VarAttrs;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// Variables and checkpoints.

TEST(StateKernelTest, AssignAndReadVariable) {
  GraphBuilder g;
  g.Add("v", "VarHandleOp", {}, VarAttrs("weights", DT_FLOAT));
  g.Add("v_again", "VarHandleOp", {}, VarAttrs("weights", DT_FLOAT));
  g.Add("assign", "AssignVariableOp",
        {"v", g.Const("init", Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4}))},
        {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("assign_int", "AssignVariableOp", {"v", g.Const("int_value", T1<int32_t>({1}))},
        {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read", "ReadVariableOp", {"v"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read_again", "ReadVariableOp", {"v_again"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Op("double", "AddV2", {"read", "read"}, DT_FLOAT);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));

  EXPECT_TRUE(IsError(session->Run({}, {"read"}, {}).status(), Code::kFailedPrecondition,
                      {"'read'", "variable 'weights'"}));
  ASSERT_OK(session->Run({}, {}, {"assign"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                       session->Run({}, {"read", "read_again", "double"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(TensorIs<float>(out[1], {2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(TensorIs<float>(out[2], {2, 2}, {2, 4, 6, 8}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"assign_int"}).status(), Code::kInvalidArgument,
                      {"'assign_int'", "weights"}));
  // A failed assign leaves the value alone.
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> still, session->Run({}, {"read"}, {}));
  EXPECT_TRUE(TensorIs<float>(still[0], {2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(session->resources().All().size(), 1u);
}

TEST(StateKernelTest, ReadOfUnnamedVariableUsesTheNodeName) {
  GraphBuilder g;
  g.Add("my_var", "VarHandleOp", {}, VarAttrs("", DT_INT64));
  g.Add("read", "ReadVariableOp", {"my_var"}, {{"dtype", TypeAttr(DT_INT64)}});
  EXPECT_TRUE(IsError(RunOne(g, "read").status(), Code::kFailedPrecondition, {"my_var"}));
}

TEST(StateKernelTest, SaveV2ThenRestoreV2) {
  TempDir dir;
  const std::string prefix = dir.Join("model");
  Tensor a = Tensor::FromVector<float>({2, 3}, {1.5f, -2, 3, 4, 5, 6});
  Tensor b = T1<int64_t>({std::numeric_limits<int64_t>::min(), 0, 42});
  Tensor s = Strings({"x", "yz"});
  {
    GraphBuilder g;
    // Names out of order: the writer sorts them.
    g.Add("save", "SaveV2",
          {g.Const("prefix", Tensor::FromStrings({}, {prefix})),
           g.Const("names", Strings({"w/b", "w/a", "vocab"})),
           g.Const("slices", Strings({"", "", ""})), g.Const("b", b), g.Const("a", a),
           g.Const("s", s)},
          {{"dtypes", TypeListAttr({DT_INT64, DT_FLOAT, DT_STRING})}});
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
    ASSERT_OK(session->Run({}, {}, {"save"}));
  }
  EXPECT_TRUE(::recship::testing::Exists(prefix + ".index"));

  GraphBuilder g;
  g.Const("prefix", Tensor::FromStrings({}, {prefix}));
  g.Add("restore", "RestoreV2",
        {"prefix", g.Const("names", Strings({"w/a", "vocab", "w/b"})),
         g.Const("slices", Strings({"", "", ""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT, DT_STRING, DT_INT64})}});
  g.Add("v", "VarHandleOp", {}, VarAttrs("a", DT_FLOAT));
  g.Add("assign", "AssignVariableOp", {"v", "restore:0"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("read", "ReadVariableOp", {"v", "^assign"}, {{"dtype", TypeAttr(DT_FLOAT)}});
  g.Add("restore_bad_dtype", "RestoreV2",
        {"prefix", g.Const("names2", Strings({"w/a"})), g.Const("slices2", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_INT32})}});
  g.Add("restore_missing", "RestoreV2",
        {"prefix", g.Const("names3", Strings({"nope"})), g.Const("slices3", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT})}});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out,
                       RunGraph(g, {"restore:0", "restore:1", "restore:2", "read"}));
  EXPECT_TRUE(out[0].Equals(a));
  EXPECT_TRUE(StringsAre(out[1], {2}, {"x", "yz"}));
  EXPECT_TRUE(out[2].Equals(b));
  EXPECT_TRUE(TensorIs<float>(out[3], {2, 3}, {1.5f, -2, 3, 4, 5, 6}));
  EXPECT_TRUE(IsError(RunOne(g, "restore_bad_dtype").status(), Code::kInvalidArgument,
                      {"'restore_bad_dtype'", "w/a"}));
  EXPECT_TRUE(IsAnyError(RunOne(g, "restore_missing").status(), {"'restore_missing'", "nope"}));
}

TEST(StateKernelTest, RestoreFromMissingCheckpointFails) {
  TempDir dir;
  GraphBuilder g;
  g.Add("restore", "RestoreV2",
        {g.Const("prefix", Tensor::FromStrings({}, {dir.Join("absent")})),
         g.Const("names", Strings({"a"})), g.Const("slices", Strings({""}))},
        {{"dtypes", TypeListAttr({DT_FLOAT})}});
  EXPECT_TRUE(IsAnyError(RunOne(g, "restore").status(), {"'restore'"}));
}

}  // namespace
}  // namespace recship
