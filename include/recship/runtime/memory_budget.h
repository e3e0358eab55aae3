// Bounds the bytes of tensors that requests hold at once.
//
// A server has one process-wide budget; each request gets a child budget
// whose bytes are drawn from its parent as well, so neither one request nor
// many at once can hold more than their limits, whatever the concurrency.
// A tensor made by Allocate() is charged until the last tensor sharing its
// buffer is freed, which may be after the request ends (a response being
// written); the budget objects live as long as such tensors do. Thread-safe.
#ifndef RECSHIP_RUNTIME_MEMORY_BUDGET_H_
#define RECSHIP_RUNTIME_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recship/format/tensor.h"

namespace recship {

class MemoryBudget : public std::enable_shared_from_this<MemoryBudget> {
 public:
  // `what` names the budget in errors ("this request (--max_request_memory_mib 64)").
  static std::shared_ptr<MemoryBudget> Create(std::string what, uint64_t limit_bytes,
                                              std::shared_ptr<MemoryBudget> parent = nullptr);

  // A zeroed tensor charged to this budget and its parents until its buffer
  // is freed. ResourceExhausted naming the budget that would go over.
  absl::StatusOr<Tensor> Allocate(DataType dtype, TensorShape shape);

  // Charges `bytes` to this budget and its parents, or changes nothing and
  // returns ResourceExhausted naming the budget that would go over.
  absl::Status Reserve(uint64_t bytes);
  // Returns bytes that Reserve charged.
  void Release(uint64_t bytes);

  const std::string& what() const { return what_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }
  // What can still be reserved here (parents may allow less).
  uint64_t available() const;

 private:
  MemoryBudget(std::string what, uint64_t limit_bytes, std::shared_ptr<MemoryBudget> parent);
  absl::Status ReserveHere(uint64_t bytes);

  const std::string what_;
  const uint64_t limit_;
  const std::shared_ptr<MemoryBudget> parent_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_MEMORY_BUDGET_H_
