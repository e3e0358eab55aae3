#include "recship/serving/background_thread.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "absl/synchronization/notification.h"

namespace recship {
namespace {

void LowerThisThreadsPriority() {
  sched_param none{};
  if (sched_setscheduler(0, SCHED_IDLE, &none) == 0) return;
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
}

}  // namespace

BackgroundThread::BackgroundThread() : thread_([this] { Loop(); }) {}

BackgroundThread::~BackgroundThread() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void BackgroundThread::Run(absl::AnyInvocable<void() &&> work) {
  absl::Notification done;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back([&work, &done]() mutable {
      std::move(work)();
      done.Notify();
    });
  }
  done.WaitForNotification();
}

void BackgroundThread::Loop() {
  LowerThisThreadsPriority();
  for (;;) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BackgroundThread* t)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->mu_) { return t->stopping_ || !t->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(work)();
  }
}

}  // namespace recship
