#include "src/runtime/row_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "absl/numeric/int128.h"

namespace recship {
namespace {

// MurmurHash3's 64-bit finalizer: ids are often multiples of a shard count,
// which an identity hash would pile into a few slots.
inline uint64_t Mix(int64_t key) {
  uint64_t h = static_cast<uint64_t>(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Loops over many slots prefetch the one this many places ahead.
constexpr size_t kPrefetchDistance = 16;

}  // namespace

RowIndex::~RowIndex() { Free(slots_, capacity_); }

size_t RowIndex::Home(int64_t key) const {
  // Lemire's multiply-shift maps the hash onto [0, capacity) without a
  // division and without needing a power of two.
  return static_cast<size_t>(absl::Uint128High64(absl::uint128(Mix(key)) * capacity_));
}

std::pair<RowIndex::Slot*, size_t> RowIndex::Allocate(size_t capacity) {
  void* p = mmap(nullptr, capacity * sizeof(Slot), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  madvise(p, capacity * sizeof(Slot), MADV_HUGEPAGE);
  std::pair<Slot*, size_t> old = {slots_, capacity_};
  slots_ = static_cast<Slot*>(p);
  capacity_ = capacity;
  size_ = 0;
  return old;
}

void RowIndex::Free(Slot* slots, size_t capacity) {
  if (slots != nullptr) munmap(slots, capacity * sizeof(Slot));
}

void RowIndex::Reserve(int64_t keys) {
  auto wanted = static_cast<size_t>(static_cast<double>(keys) / kMaxLoadFactor) + 1;
  if (wanted <= capacity_) return;
  // Grow by half at least, so inserting one key at a time stays amortized O(1).
  auto [old, old_capacity] = Allocate(std::max(wanted, capacity_ + capacity_ / 2));
  for (size_t j = 0; j < old_capacity; ++j) {
    if (j + kPrefetchDistance < old_capacity && old[j + kPrefetchDistance].ref_plus_one != 0) {
      Prefetch(old[j + kPrefetchDistance].key);
    }
    if (old[j].ref_plus_one != 0) Put(old[j].key, old[j].ref_plus_one - 1);
  }
  Free(old, old_capacity);
}

int64_t RowIndex::Put(int64_t key, int64_t ref) {
  for (size_t i = Home(key);; i = (i + 1 == capacity_) ? 0 : i + 1) {
    Slot& slot = slots_[i];
    if (slot.ref_plus_one == 0) {
      slot = Slot{key, ref + 1};
      ++size_;
      return kNone;
    }
    if (slot.key == key) return std::exchange(slot.ref_plus_one, ref + 1) - 1;
  }
}

bool RowIndex::PutBefore(size_t home, int64_t key, int64_t ref, size_t limit, int64_t* added) {
  for (size_t i = home; i < limit; ++i) {
    Slot& slot = slots_[i];
    if (slot.ref_plus_one == 0) {
      slot = Slot{key, ref + 1};
      ++*added;
      return true;
    }
    if (slot.key == key) {
      slot.ref_plus_one = ref + 1;
      return true;
    }
  }
  return false;
}

int64_t RowIndex::Find(int64_t key) const {
  if (capacity_ == 0) return kNone;
  for (size_t i = Home(key);; i = (i + 1 == capacity_) ? 0 : i + 1) {
    const Slot& slot = slots_[i];
    if (slot.ref_plus_one == 0) return kNone;
    if (slot.key == key) return slot.ref_plus_one - 1;
  }
}

void RowIndex::Clear() {
  Free(slots_, capacity_);
  slots_ = nullptr;
  capacity_ = 0;
  size_ = 0;
}

}  // namespace recship
