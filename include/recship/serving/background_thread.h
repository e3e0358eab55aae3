// One thread for work that must not delay requests, such as writing table
// rows (deltas, hashtable_assign pushes): it runs at the lowest CPU
// priority Linux has (SCHED_IDLE; nice 19 where that is refused), so it
// gets the time that requests leave idle, and a request thread that wakes
// takes the core from it at once. Work runs in order, one piece at a time;
// so writes to tables never run two at once either.
#ifndef RECSHIP_SERVING_BACKGROUND_THREAD_H_
#define RECSHIP_SERVING_BACKGROUND_THREAD_H_

#include <deque>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace recship {

class BackgroundThread {
 public:
  BackgroundThread();
  // Finishes what was queued, then joins.
  ~BackgroundThread();
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  // Runs `work` on the thread and returns once it is done.
  void Run(absl::AnyInvocable<void() &&> work);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace recship

#endif  // RECSHIP_SERVING_BACKGROUND_THREAD_H_
