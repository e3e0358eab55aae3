// serving/batcher.h: concurrent requests merged into batches each get their
// own rows back; a batch whose outputs cannot be split runs its requests
// alone; a full queue refuses with UNAVAILABLE. Run under TSan too.
#include "recship/serving/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/metrics.h"
#include "test_util.h"
#include "tiny_model.h"
#include "tiny_model_test.h"

namespace recship {
namespace {

using ::recship::testing::BagRequest;
using ::recship::testing::Floats;
using ::recship::testing::TempDir;
using ::recship::testing::TinyModelTest;
using ::recship::testing::WriteTinyVersion;
using ::recship::testing::XRequest;
using tensorflow::serving::PredictResponse;

class BatcherTest : public TinyModelTest {};

double BatchCount() {
  const std::string text = Metrics::Global().RenderPrometheus();
  const std::string key = ":recship:batch_requests_count{model_name=\"batched\"} ";
  size_t at = text.find(key);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + key.size()));
}

TEST_F(BatcherTest, ConcurrentRequestsShareBatchesAndGetTheirOwnRows) {
  BatchingOptions options;
  options.max_batch_size = 64;
  options.batch_timeout = absl::Milliseconds(50);
  options.num_batch_threads = 1;
  Batcher batcher(options, PredictLimits());
  constexpr int kThreads = 16;
  const double batches_before = BatchCount();
  std::barrier start(kThreads);
  std::vector<std::vector<float>> got(kThreads);
  std::vector<absl::Status> status(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Thread t sends t + 1 rows: t, t + 0.5, ...
      std::vector<float> x;
      for (int i = 0; i <= t; ++i) x.push_back(static_cast<float>(t) + 0.5f * i);
      auto request = XRequest(x);
      request.mutable_model_spec()->set_name("batched");
      PredictResponse response;
      start.arrive_and_wait();
      status[t] = batcher.Predict(*model_, request, absl::InfiniteFuture(), &response);
      if (status[t].ok()) got[t] = Floats(*TensorFromProto(response.outputs().at("y")));
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(status[t]);
    std::vector<float> want;
    for (int i = 0; i <= t; ++i) want.push_back(static_cast<float>(t) + 0.5f * i + 1);
    EXPECT_EQ(got[t], want) << "thread " << t;
  }
  const double batches = BatchCount() - batches_before;
  EXPECT_GE(batches, 1);
  EXPECT_LT(batches, kThreads) << "no two requests shared a batch";
}

TEST_F(BatcherTest, OutputsThatCannotBeSplitRunEachRequestAlone) {
  // "bags" answers the bag's values: one row per id, not per example.
  BatchingOptions options;
  options.batch_timeout = absl::Milliseconds(20);
  Batcher batcher(options, PredictLimits());
  constexpr int kThreads = 4;
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto request = BagRequest(2, t + 1, 2);
      PredictResponse response;
      start.arrive_and_wait();
      absl::Status status = batcher.Predict(*model_, request, absl::InfiniteFuture(), &response);
      if (!status.ok()) return;
      auto values = TensorFromProto(response.outputs().at("values"));
      if (values.ok() && values->num_elements() == t + 1) ++right;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(right.load(), kThreads);
}

}  // namespace
}  // namespace recship
