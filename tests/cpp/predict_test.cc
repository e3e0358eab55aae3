// serving/predict: RunPredict over a hand-built SavedModel: signatures, the
// batch limit, SparseTensor bags, memory budgets and input limits.
#include "recship/serving/predict.h"

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
#include "recship/format/tensor_proto.h"
#include "recship/runtime/memory_budget.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"
#include "test_util.h"
#include "tiny_model.h"
#include "tiny_model_test.h"

namespace recship {
namespace {

using ::recship::testing::BagRequest;
using ::recship::testing::Floats;
using ::recship::testing::IsError;
using ::recship::testing::TempDir;
using ::recship::testing::TinyModelTest;
using ::recship::testing::WriteTinyVersion;
using ::recship::testing::XRequest;
using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// RunPredict.

class PredictTest : public TinyModelTest {};

TEST_F(PredictTest, RunsTheDefaultOrNamedSignature) {
  PredictResponse response;
  ASSERT_OK(RunPredict(*model_, XRequest({1, 2}), {}, &response));
  ASSERT_TRUE(response.outputs().contains("y"));
  ASSERT_OK_AND_ASSIGN(Tensor y, TensorFromProto(response.outputs().at("y")));
  EXPECT_EQ(Floats(y), (std::vector<float>{2, 3}));

  PredictRequest request = BagRequest(2, 3, 2);
  request.add_output_filter("dense");
  PredictResponse bag_response;
  ASSERT_OK(RunPredict(*model_, request, {}, &bag_response));
  EXPECT_EQ(bag_response.outputs().size(), 1u);
  EXPECT_TRUE(bag_response.outputs().contains("dense"));

  request.mutable_model_spec()->set_signature_name("nope");
  EXPECT_TRUE(IsError(RunPredict(*model_, request, {}, &bag_response), Code::kFailedPrecondition,
                      {"nope"}));
  PredictRequest bad = XRequest({1});
  (*bad.mutable_inputs())["x"].set_dtype(tensorflow::DT_INVALID);
  EXPECT_TRUE(IsError(RunPredict(*model_, bad, {}, &response), Code::kInvalidArgument, {"'x'"}));
}

TEST_F(PredictTest, BatchLimitCountsABagsDenseShapeRowsNotItsEntries) {
  PredictLimits limits;
  limits.max_batch_size = 2;
  PredictResponse response;
  // 2 rows holding 7 ids: within the limit.
  ASSERT_OK(RunPredict(*model_, BagRequest(2, 7, 2), limits, &response));
  ASSERT_OK_AND_ASSIGN(Tensor values, TensorFromProto(response.outputs().at("values")));
  EXPECT_EQ(values.num_elements(), 7);
  // 3 rows holding one id: over it, named by the dense shape.
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(3, 1, 3), limits, &response),
                      Code::kInvalidArgument, {"'bag_dense_shape'", "batch size 3", "limit of 2"}));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest({1, 2, 3}), limits, &response),
                      Code::kInvalidArgument, {"'x'"}));
  // No limit.
  EXPECT_OK(RunPredict(*model_, BagRequest(3, 20, 3), {}, &response));
  EXPECT_OK(RunPredict(*model_, XRequest({1, 2, 3}), {}, &response));
}

TEST_F(PredictTest, ABagsRowsMustBeTheBatchOfTheOtherInputs) {
  PredictResponse response;
  // The bag says 3 rows, the dense input has 2: refused before any kernel
  // runs, with or without a batch limit.
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(3, 1, 2), {}, &response),
                      Code::kInvalidArgument,
                      {"'bag_dense_shape'", "3 rows", "'dense'", "batch of 2"}));
  EXPECT_TRUE(IsError(RunPredict(*model_, BagRequest(1 << 30, 1, 2), {}, &response),
                      Code::kInvalidArgument, {"'bag_dense_shape'", "1073741824 rows"}));
}

TEST_F(PredictTest, BagIndicesOutsideTheDenseShapeAreRefusedNamingTheInput) {
  PredictResponse response;
  auto with_index = [](int64_t row, int64_t column) {
    PredictRequest request = BagRequest(2, 3, 2);  // dense_shape [2, 2]
    auto* indices = &(*request.mutable_inputs())["bag_indices"];
    *indices = TensorToProto(Tensor::FromVector<int64_t>({3, 2}, {0, 0, 1, 0, row, column}));
    return request;
  };
  ASSERT_OK(RunPredict(*model_, with_index(0, 1), {}, &response));
  for (auto [row, column] : std::vector<std::pair<int64_t, int64_t>>{
           {(int64_t{1} << 32) + 1, 0}, {2, 0}, {-1, 0}, {0, 2}, {0, -1}}) {
    EXPECT_TRUE(IsError(RunPredict(*model_, with_index(row, column), {}, &response),
                        Code::kInvalidArgument,
                        {"'bag_indices'", "entry 2", absl::StrCat("[", row, ", ", column, "]"),
                         "outside dense_shape [2, 2]"}))
        << row << ", " << column;
  }
  PredictRequest negative = BagRequest(2, 3, 2);
  (*negative.mutable_inputs())["bag_dense_shape"] =
      TensorToProto(Tensor::FromVector<int64_t>({2}, {2, -1}));
  EXPECT_TRUE(IsError(RunPredict(*model_, negative, {}, &response), Code::kInvalidArgument,
                      {"'bag_dense_shape'", "non-negative"}));
}

TEST_F(PredictTest, MemoryBudgetsBoundARequestAndAllRequestsTogether) {
  PredictLimits limits;
  limits.memory = MemoryBudget::Create("the process", 1 << 20);
  limits.max_request_memory_bytes = 64 << 10;
  PredictResponse response;
  std::vector<float> x(1000, 1.0f);  // 4 KB in, 4 KB out: within both.
  ASSERT_OK(RunPredict(*model_, XRequest(x), limits, &response));
  // 40 KB in and 40 KB out: over the request's 64 KiB.
  std::vector<float> big(10'000, 1.0f);
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest(big), limits, &response),
                      Code::kResourceExhausted, {"the request", "64 KiB"}));
  // Within the request's budget, but the process has less left.
  limits.max_request_memory_bytes = 4 << 20;
  ASSERT_OK(limits.memory->Reserve(1000 << 10));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest(big), limits, &response),
                      Code::kResourceExhausted, {"the process"}));
  limits.memory->Release(1000 << 10);
  ASSERT_OK(RunPredict(*model_, XRequest(big), limits, &response));
  // Every byte came back once the request was done.
  EXPECT_EQ(limits.memory->used(), 0u);
}

TEST_F(PredictTest, InputBytesLimit) {
  PredictLimits limits;
  limits.max_input_bytes = 16;
  PredictResponse response;
  EXPECT_OK(RunPredict(*model_, XRequest({1, 2, 3, 4}), limits, &response));
  EXPECT_TRUE(IsError(RunPredict(*model_, XRequest({1, 2, 3, 4, 5}), limits, &response),
                      Code::kInvalidArgument, {"'x'"}));
}

}  // namespace
}  // namespace recship
