// InterruptFlag: while it lives, SIGINT and SIGTERM only set a flag, which a
// long command (`recship export`) polls to stop cleanly. The first signal
// restores the default handlers, so a second one kills the process at once.
// The destructor restores the handlers that were there before.
#ifndef RECSHIP_CLI_INTERRUPT_FLAG_H_
#define RECSHIP_CLI_INTERRUPT_FLAG_H_

#include <signal.h>

#include <atomic>

namespace recship {

class InterruptFlag {
 public:
  InterruptFlag() {
    signal_.store(0);
    struct sigaction action = {};
    action.sa_handler = &InterruptFlag::OnSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptFlag() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptFlag(const InterruptFlag&) = delete;
  InterruptFlag& operator=(const InterruptFlag&) = delete;

  // The first signal received, or 0.
  int signal() const { return signal_.load(std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

  // Async-signal-safe: an atomic store and sigaction(2).
  static void OnSignal(int signo) {
    int none = 0;
    signal_.compare_exchange_strong(none, signo, std::memory_order_relaxed);
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    ::sigaction(SIGINT, &fallback, nullptr);
    ::sigaction(SIGTERM, &fallback, nullptr);
  }

  static inline std::atomic<int> signal_{0};
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

}  // namespace recship

#endif  // RECSHIP_CLI_INTERRUPT_FLAG_H_
