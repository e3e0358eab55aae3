// Makes Debian's Abseil mutexes visible to ThreadSanitizer.
//
// libabsl_synchronization from Debian is not built with -fsanitize=thread,
// so TSan does not see absl::Mutex and CondVar order memory: every field a
// Mutex guards would be reported as a race. Linked into the test executables
// of a ThreadSanitizer build only, this file defines the Mutex and CondVar
// entry points itself (the executable's definitions win over the shared
// library's, for callers in recship, gRPC and Abseil alike), calls the
// library's own through dlsym(RTLD_NEXT), and tells TSan that each unlock
// happens before the next lock of the same mutex. Waits that release and
// retake the mutex (Await, CondVar::Wait) release before and acquire after.
//
// Abseil's own deadlock detector keeps its lock graph (GraphCycles) under an
// internal spinlock TSan cannot see either, so it is turned off here: the
// graph's updates would all be reported as races.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"

namespace {

#define RECSHIP_STR2(x) #x
#define RECSHIP_STR(x) RECSHIP_STR2(x)

// The library's own definition of absl::<Class>::<rest>, where `rest` is
// the rest of its mangled name after the class (e.g. "4LockEv").
template <typename F>
F Real(const char* cls, const char* rest) {
  const std::string ns = RECSHIP_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + cls + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_annotations: no %s in Abseil\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

void Acquired(const void* mu) { __tsan_acquire(const_cast<void*>(mu)); }
void Releasing(const void* mu) { __tsan_release(const_cast<void*>(mu)); }

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using MutexFn = void (*)(Mutex*);
using TryFn = bool (*)(Mutex*);
using WhenFn = void (*)(Mutex*, const Condition&);
using WhenTimeoutFn = bool (*)(Mutex*, const Condition&, Duration);
using WhenDeadlineFn = bool (*)(Mutex*, const Condition&, Time);

void Mutex::Lock() {
  static auto real = Real<MutexFn>("5Mutex", "4LockEv");
  real(this);
  Acquired(this);
}
void Mutex::ReaderLock() {
  static auto real = Real<MutexFn>("5Mutex", "10ReaderLockEv");
  real(this);
  Acquired(this);
}
void Mutex::Unlock() {
  static auto real = Real<MutexFn>("5Mutex", "6UnlockEv");
  Releasing(this);
  real(this);
}
void Mutex::ReaderUnlock() {
  static auto real = Real<MutexFn>("5Mutex", "12ReaderUnlockEv");
  Releasing(this);
  real(this);
}
bool Mutex::TryLock() {
  static auto real = Real<TryFn>("5Mutex", "7TryLockEv");
  bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}
bool Mutex::ReaderTryLock() {
  static auto real = Real<TryFn>("5Mutex", "13ReaderTryLockEv");
  bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}
void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<WhenFn>("5Mutex", "8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  Acquired(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<WhenFn>("5Mutex", "14ReaderLockWhenERKNS0_9ConditionE");
  real(this, cond);
  Acquired(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real =
      Real<WhenTimeoutFn>("5Mutex", "19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool met = real(this, cond, timeout);
  Acquired(this);
  return met;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<WhenDeadlineFn>("5Mutex", "20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool met = real(this, cond, deadline);
  Acquired(this);
  return met;
}
void Mutex::Await(const Condition& cond) {
  static auto real = Real<WhenFn>("5Mutex", "5AwaitERKNS0_9ConditionE");
  Releasing(this);
  real(this, cond);
  Acquired(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real =
      Real<WhenTimeoutFn>("5Mutex", "16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Releasing(this);
  bool met = real(this, cond, timeout);
  Acquired(this);
  return met;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<WhenDeadlineFn>("5Mutex", "17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Releasing(this);
  bool met = real(this, cond, deadline);
  Acquired(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar", "4WaitEPNS0_5MutexE");
  Releasing(mu);
  real(this, mu);
  Acquired(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      "7CondVar", "15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Releasing(mu);
  bool timed_out = real(this, mu, timeout);
  Acquired(mu);
  return timed_out;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      "7CondVar", "16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Releasing(mu);
  bool timed_out = real(this, mu, deadline);
  Acquired(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
