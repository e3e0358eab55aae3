// runtime/kernels/table_kernels: MutableHashTableOfTensorsV2 and
// MutableDenseHashTableV2 with LookupTableImportV2, LookupTableInsertV2,
// LookupTableFindV2, LookupTableSizeV2 and LookupTableExportV2, run through
// a Session on small graphs built by hand: defaults for unseen keys, tables
// shared by name, reserved keys refused, and errors naming the node.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "graph_builder.h"
#include "kernel_test_util.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/runtime/session.h"
#include "recship/tensorflow/core/framework/types.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::Attrs;
using ::recship::testing::BoolAttr;
using ::recship::testing::FloatAttr;
using ::recship::testing::GraphBuilder;
using ::recship::testing::IntAttr;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::RunOne;
using ::recship::testing::Scalar;
using ::recship::testing::ShapeAttr;
using ::recship::testing::StrAttr;
using ::recship::testing::T1;
using ::recship::testing::TensorIs;
using ::recship::testing::TypeAttr;
using ::recship::testing::VarAttrs;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// Hash table ops.

Attrs TableAttrs(const std::string& shared_name, DataType key, DataType value,
                 const TensorShape& value_shape) {
  return {{"container", StrAttr("")},
          {"shared_name", StrAttr(shared_name)},
          {"use_node_name_sharing", BoolAttr(false)},
          {"key_dtype", TypeAttr(key)},
          {"value_dtype", TypeAttr(value)},
          {"value_shape", ShapeAttr(value_shape)}};
}

Attrs TableOpAttrs(DataType key, DataType value) {
  return {{"Tin", TypeAttr(key)}, {"Tout", TypeAttr(value)}};
}

TEST(TableKernelTest, MutableHashTableOfTensors) {
  GraphBuilder g;
  g.Add("table", "MutableHashTableOfTensorsV2", {},
        TableAttrs("embedding", DT_INT64, DT_FLOAT, {2}));
  Attrs op = TableOpAttrs(DT_INT64, DT_FLOAT);
  g.Add("import", "LookupTableImportV2",
        {"table", g.Const("keys", T1<int64_t>({1, -5, 100})),
         g.Const("values", Tensor::FromVector<float>({3, 2}, {1, 1.5f, -5, -5.5f, 100, 100.5f}))},
        op);
  g.Add("insert", "LookupTableInsertV2",
        {"table", g.Const("new_keys", T1<int64_t>({100, 7})),
         g.Const("new_values", Tensor::FromVector<float>({2, 2}, {-100, -100.5f, 7, 7.5f}))},
        op);
  g.Placeholder("query", DT_INT64);
  g.Add("find", "LookupTableFindV2", {"table", "query", g.Const("default", T1<float>({0, -1}))},
        op);
  g.Add("find_bad_default", "LookupTableFindV2",
        {"table", "query", g.Const("default3", T1<float>({0, -1, 2}))}, op);
  g.Add("size", "LookupTableSizeV2", {"table"});
  g.Add("export", "LookupTableExportV2", {"table"},
        {{"Tkeys", TypeAttr(DT_INT64)}, {"Tvalues", TypeAttr(DT_FLOAT)}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));

  Tensor query = Tensor::FromVector<int64_t>({2, 3}, {1, 7, 100, -5, 0, 1});
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> before,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(before[0], {2, 3, 2}, {0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1}));
  EXPECT_TRUE(TensorIs<int64_t>(before[1], {}, {0}));

  ASSERT_OK(session->Run({}, {}, {"import"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> imported,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  // 7 and 0 are unseen: the default row.
  EXPECT_TRUE(TensorIs<float>(imported[0], {2, 3, 2},
                              {1, 1.5f, 0, -1, 100, 100.5f, -5, -5.5f, 0, -1, 1, 1.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(imported[1], {}, {3}));

  ASSERT_OK(session->Run({}, {}, {"insert"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> inserted,
                       session->Run({{"query", query}}, {"find", "size"}, {}));
  // 100 is overwritten, 7 is new.
  EXPECT_TRUE(TensorIs<float>(inserted[0], {2, 3, 2},
                              {1, 1.5f, 7, 7.5f, -100, -100.5f, -5, -5.5f, 0, -1, 1, 1.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(inserted[1], {}, {4}));
  // Export lists every key once with its row, in any order.
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> exported,
                       session->Run({}, {"export:0", "export:1"}, {}));
  ASSERT_EQ(exported[0].shape(), (TensorShape{4}));
  ASSERT_EQ(exported[1].shape(), (TensorShape{4, 2}));
  std::map<int64_t, std::pair<float, float>> rows;
  for (int i = 0; i < 4; ++i) {
    rows[exported[0].flat<int64_t>()[i]] = {exported[1].flat<float>()[2 * i],
                                            exported[1].flat<float>()[2 * i + 1]};
  }
  EXPECT_EQ(rows, (std::map<int64_t, std::pair<float, float>>{
                      {-5, {-5, -5.5f}}, {1, {1, 1.5f}}, {7, {7, 7.5f}}, {100, {-100, -100.5f}}}));

  // Importing again replaces the whole contents.
  ASSERT_OK(session->Run({}, {}, {"import"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> reimported,
                       session->Run({{"query", T1<int64_t>({7, 100})}}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(reimported[0], {2, 2}, {0, -1, 100, 100.5f}));
  EXPECT_TRUE(TensorIs<int64_t>(reimported[1], {}, {3}));

  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> empty,
                       session->Run({{"query", T1<int64_t>({})}}, {"find"}, {}));
  EXPECT_TRUE(TensorIs<float>(empty[0], {0, 2}, {}));

  EXPECT_TRUE(IsError(session->Run({{"query", query}}, {"find_bad_default"}, {}).status(),
                      Code::kInvalidArgument, {"'find_bad_default'", "embedding"}));
  EXPECT_TRUE(IsError(session->Run({{"query", T1<int32_t>({1})}}, {"find"}, {}).status(),
                      Code::kInvalidArgument, {"'find'"}));
}

TEST(TableKernelTest, TwoHandlesWithOneSharedNameShareATable) {
  GraphBuilder g;
  g.Add("t1", "MutableHashTableOfTensorsV2", {}, TableAttrs("shared", DT_INT32, DT_INT64, {}));
  g.Add("t2", "MutableHashTableOfTensorsV2", {}, TableAttrs("shared", DT_INT32, DT_INT64, {}));
  Attrs op = TableOpAttrs(DT_INT32, DT_INT64);
  g.Add("insert", "LookupTableInsertV2",
        {"t1", g.Const("keys", T1<int32_t>({std::numeric_limits<int32_t>::min(), 3})),
         g.Const("values", T1<int64_t>({11, 33}))},
        op);
  g.Add("find", "LookupTableFindV2",
        {"t2", g.Const("query", T1<int32_t>({3, 4, std::numeric_limits<int32_t>::min()})),
         g.Const("default", Scalar<int64_t>(-1))},
        op);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK(session->Run({}, {}, {"insert"}));
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"find"}, {}));
  EXPECT_TRUE(TensorIs<int64_t>(out[0], {3}, {33, -1, 11}));
}

TEST(TableKernelTest, MutableDenseHashTableRefusesReservedKeys) {
  GraphBuilder g;
  Attrs attrs = TableAttrs("dense", DT_INT64, DT_FLOAT, {2});
  attrs.emplace_back("initial_num_buckets", IntAttr(16));
  attrs.emplace_back("max_load_factor", FloatAttr(0.8f));
  g.Add("table", "MutableDenseHashTableV2",
        {g.Const("empty_key", Scalar<int64_t>(-1)), g.Const("deleted_key", Scalar<int64_t>(-2))},
        attrs);
  Attrs op = TableOpAttrs(DT_INT64, DT_FLOAT);
  g.Add("insert", "LookupTableInsertV2",
        {"table", g.Const("keys", T1<int64_t>({0, 5})),
         g.Const("values", Tensor::FromVector<float>({2, 2}, {0, 0.5f, 5, 5.5f}))},
        op);
  g.Add("insert_empty", "LookupTableInsertV2",
        {"table", g.Const("keys_e", T1<int64_t>({3, -1})),
         g.Const("values_e", Tensor::FromVector<float>({2, 2}, {3, 3, 1, 1}))},
        op);
  g.Add("insert_deleted", "LookupTableInsertV2",
        {"table", g.Const("keys_d", T1<int64_t>({-2})),
         g.Const("values_d", Tensor::FromVector<float>({1, 2}, {2, 2}))},
        op);
  g.Add("find", "LookupTableFindV2",
        {"table", g.Const("query", T1<int64_t>({5, 3, 0, -1})),
         g.Const("default", T1<float>({9, 9}))},
        op);
  g.Add("size", "LookupTableSizeV2", {"table"});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Session> session, Session::Create(g.graph()));
  ASSERT_OK(session->Run({}, {}, {"insert"}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"insert_empty"}).status(), Code::kInvalidArgument,
                      {"'insert_empty'", "-1", "reserved"}));
  EXPECT_TRUE(IsError(session->Run({}, {}, {"insert_deleted"}).status(), Code::kInvalidArgument,
                      {"'insert_deleted'", "-2"}));
  // The failed inserts left the table alone (3 was not inserted either).
  ASSERT_OK_AND_ASSIGN(std::vector<Tensor> out, session->Run({}, {"find", "size"}, {}));
  EXPECT_TRUE(TensorIs<float>(out[0], {4, 2}, {5, 5.5f, 9, 9, 0, 0.5f, 9, 9}));
  EXPECT_TRUE(TensorIs<int64_t>(out[1], {}, {2}));
}

TEST(TableKernelTest, TableOpsNeedATableHandle) {
  GraphBuilder g;
  g.Add("v", "VarHandleOp", {}, VarAttrs("not_a_table", DT_INT64));
  g.Add("size", "LookupTableSizeV2", {"v"});
  EXPECT_TRUE(IsError(RunOne(g, "size").status(), Code::kInvalidArgument, {"'size'"}));
  // A table of strings is refused when the session is created.
  GraphBuilder strings;
  strings.Add("table", "MutableHashTableOfTensorsV2", {},
              TableAttrs("t", DT_STRING, DT_FLOAT, {1}));
  EXPECT_TRUE(IsAnyError(Session::Create(strings.graph()).status(), {"'table'"}));
}

}  // namespace
}  // namespace recship
