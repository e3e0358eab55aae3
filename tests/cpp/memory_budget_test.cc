// runtime/memory_budget.h: a request's budget and the process-wide one it
// draws from; tensors hold their charge until their buffer is freed.
#include "recship/runtime/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;

TEST(MemoryBudgetTest, ReserveAndReleaseWithinTheLimit) {
  auto budget = MemoryBudget::Create("the budget", 100);
  ASSERT_OK(budget->Reserve(60));
  EXPECT_EQ(budget->available(), 40u);
  EXPECT_TRUE(IsError(budget->Reserve(41), absl::StatusCode::kResourceExhausted,
                      {"the budget", "100 bytes", "60 bytes held", "41 more"}));
  EXPECT_EQ(budget->used(), 60u);  // A refusal changes nothing.
  ASSERT_OK(budget->Reserve(40));
  budget->Release(100);
  EXPECT_EQ(budget->used(), 0u);
}

TEST(MemoryBudgetTest, AChildDrawsFromItsParentAndNamesTheOneThatRefuses) {
  auto process = MemoryBudget::Create("the process", 4 << 10);
  auto a = MemoryBudget::Create("request a", 3 << 10, process);
  auto b = MemoryBudget::Create("request b", 3 << 10, process);
  ASSERT_OK(a->Reserve(3 << 10));
  EXPECT_TRUE(IsError(a->Reserve(1), absl::StatusCode::kResourceExhausted, {"request a", "3 KiB"}));
  EXPECT_TRUE(
      IsError(b->Reserve(2 << 10), absl::StatusCode::kResourceExhausted, {"the process", "4 KiB"}));
  EXPECT_EQ(b->used(), 0u);  // Rolled back when the parent refused.
  ASSERT_OK(b->Reserve(1 << 10));
  EXPECT_EQ(process->used(), 4u << 10);
  a->Release(3 << 10);
  b->Release(1 << 10);
  EXPECT_EQ(process->used(), 0u);
}

TEST(MemoryBudgetTest, TensorsHoldTheirChargeUntilTheLastCopyIsFreed) {
  auto process = MemoryBudget::Create("the process", 1 << 20);
  Tensor kept;
  {
    auto request = MemoryBudget::Create("the request", 1 << 20, process);
    ASSERT_OK_AND_ASSIGN(Tensor t, request->Allocate(tensorflow::DT_FLOAT, {10, 100}));
    EXPECT_EQ(request->used(), 4000u);
    EXPECT_EQ(process->used(), 4000u);
    ASSERT_OK_AND_ASSIGN(Tensor other, request->Allocate(tensorflow::DT_INT64, {5}));
    kept = t;  // Outlives the request and its budget object.
    EXPECT_TRUE(IsError(request->Allocate(tensorflow::DT_FLOAT, {1 << 20}).status(),
                        absl::StatusCode::kResourceExhausted, {"the request", "[1048576]"}));
  }
  EXPECT_EQ(process->used(), 4000u);
  kept = Tensor();
  EXPECT_EQ(process->used(), 0u);
}

TEST(MemoryBudgetTest, ConcurrentRequestsNeverGoOverTheProcessLimit) {
  auto process = MemoryBudget::Create("the process", 10 << 10);
  std::vector<std::thread> threads;
  std::atomic<uint64_t> peak{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto request = MemoryBudget::Create("a request", 4 << 10, process);
        absl::StatusOr<Tensor> a = request->Allocate(tensorflow::DT_FLOAT, {256});
        absl::StatusOr<Tensor> b = request->Allocate(tensorflow::DT_FLOAT, {512});
        uint64_t used = process->used();
        uint64_t seen = peak.load();
        while (used > seen && !peak.compare_exchange_weak(seen, used)) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(peak.load(), 10u << 10);
  EXPECT_GT(peak.load(), 0u);
  EXPECT_EQ(process->used(), 0u);
}

}  // namespace
}  // namespace recship
