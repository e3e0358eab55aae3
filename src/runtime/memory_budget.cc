#include "recship/runtime/memory_budget.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

// Returns its bytes to the budget when the tensor buffer holding it is freed.
class Charge {
 public:
  Charge(std::shared_ptr<MemoryBudget> budget, uint64_t bytes)
      : budget_(std::move(budget)), bytes_(bytes) {}
  ~Charge() { budget_->Release(bytes_); }
  Charge(const Charge&) = delete;
  Charge& operator=(const Charge&) = delete;

 private:
  std::shared_ptr<MemoryBudget> budget_;
  uint64_t bytes_;
};

// "4 MiB", "64 KiB", "100 bytes".
std::string Bytes(uint64_t n) {
  if (n >= (1 << 20) && n % (1 << 20) == 0) return absl::StrCat(n >> 20, " MiB");
  if (n >= (1 << 10) && n % (1 << 10) == 0) return absl::StrCat(n >> 10, " KiB");
  return absl::StrCat(n, " bytes");
}

}  // namespace

std::shared_ptr<MemoryBudget> MemoryBudget::Create(std::string what, uint64_t limit_bytes,
                                                   std::shared_ptr<MemoryBudget> parent) {
  return std::shared_ptr<MemoryBudget>(
      new MemoryBudget(std::move(what), limit_bytes, std::move(parent)));
}

MemoryBudget::MemoryBudget(std::string what, uint64_t limit_bytes,
                           std::shared_ptr<MemoryBudget> parent)
    : what_(std::move(what)), limit_(limit_bytes), parent_(std::move(parent)) {}

uint64_t MemoryBudget::available() const {
  uint64_t used = this->used();
  return used >= limit_ ? 0 : limit_ - used;
}

absl::Status MemoryBudget::ReserveHere(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(what_, " would hold more than ",
                                                       Bytes(limit_), " of tensors (", used,
                                                       " bytes held, ", bytes, " more asked)"));
    }
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return absl::OkStatus();
}

absl::Status MemoryBudget::Reserve(uint64_t bytes) {
  RECSHIP_RETURN_IF_ERROR(ReserveHere(bytes));
  if (parent_ != nullptr) {
    absl::Status status = parent_->Reserve(bytes);
    if (!status.ok()) {
      used_.fetch_sub(bytes, std::memory_order_relaxed);
      return status;
    }
  }
  return absl::OkStatus();
}

void MemoryBudget::Release(uint64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  if (parent_ != nullptr) parent_->Release(bytes);
}

absl::StatusOr<Tensor> MemoryBudget::Allocate(DataType dtype, TensorShape shape) {
  RECSHIP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  size_t element_size = std::max<size_t>(1, DataTypeSize(dtype));
  if (static_cast<uint64_t>(n) > UINT64_MAX / element_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a tensor of shape ", ShapeToString(shape), " is too large"));
  }
  uint64_t bytes = static_cast<uint64_t>(n) * element_size;
  absl::Status reserved = Reserve(bytes);
  if (!reserved.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a tensor of shape ", ShapeToString(shape), ": ", reserved.message()));
  }
  auto charge = std::make_shared<const Charge>(shared_from_this(), bytes);
  return Tensor::Create(dtype, std::move(shape), std::move(charge));
}

}  // namespace recship
