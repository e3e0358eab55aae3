// serving/background_thread.h: work runs on one other thread, in order, at
// background priority (SCHED_IDLE, or nice 19 where refused), and Run
// returns only once it is done.
#include "recship/serving/background_thread.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace recship {
namespace {

TEST(BackgroundThreadTest, RunsWorkInOrderOnOneLowPriorityThread) {
  BackgroundThread background;
  std::vector<int> order;
  pid_t worker = 0;
  int policy = -1, niceness = 0;
  for (int i = 0; i < 5; ++i) {
    background.Run([&, i] {
      order.push_back(i);
      worker = gettid();
      policy = sched_getscheduler(0);
      niceness = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    });
    EXPECT_EQ(order.size(), static_cast<size_t>(i + 1));  // Done when Run returns.
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_NE(worker, gettid());
  EXPECT_TRUE(policy == SCHED_IDLE || niceness == 19) << policy << " " << niceness;
}

TEST(BackgroundThreadTest, RunsFromManyThreadsOneAtATime) {
  BackgroundThread background;
  int running = 0, most = 0, total = 0;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        background.Run([&] {
          most = std::max(most, ++running);
          ++total;
          --running;
        });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total, 200);
  EXPECT_EQ(most, 1);
}

}  // namespace
}  // namespace recship
