// Where code that names or times things gets the time, so that tests can set
// it. Clock::Real() is the system clock; implementations are thread-safe.
#ifndef RECSHIP_CORE_CLOCK_H_
#define RECSHIP_CORE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace recship {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The system clock; never destroyed.
  static const Clock& Real();
};

// `clock` when not null, else the system clock.
inline const Clock& ClockOrReal(const Clock* clock) { return clock ? *clock : Clock::Real(); }

}  // namespace recship

#endif  // RECSHIP_CORE_CLOCK_H_
