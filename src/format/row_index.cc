#include "recship/format/row_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <thread>

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

// Runs with at least this many keys in all are put by several threads.
constexpr int64_t kParallelKeys = 1 << 16;

inline int64_t KeyAt(const Tensor& keys, int64_t i) {
  return keys.dtype() == tensorflow::DT_INT32 ? keys.flat<int32_t>()[i] : keys.flat<int64_t>()[i];
}

}  // namespace

RowIndex::RowIndex(std::shared_ptr<void> owner, Slot* slots, size_t capacity, int64_t size)
    : owner_(std::move(owner)), slots_(slots), capacity_(capacity), size_(size) {}

RowIndex::~RowIndex() { Release(); }

size_t RowIndex::CapacityFor(int64_t keys) {
  return static_cast<size_t>(static_cast<double>(keys) / kMaxLoadFactor) + 1;
}

size_t RowIndex::Home(int64_t key) const {
  // Lemire's multiply-shift maps the hash onto [0, capacity) without a
  // division and without needing a power of two.
  return static_cast<size_t>(absl::Uint128High64(absl::uint128(Mix(key)) * capacity_));
}

void RowIndex::Allocate(size_t capacity) {
  void* p = mmap(nullptr, capacity * sizeof(Slot), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  madvise(p, capacity * sizeof(Slot), MADV_HUGEPAGE);
  slots_ = static_cast<Slot*>(p);
  capacity_ = capacity;
  size_ = 0;
}

void RowIndex::Release() {
  if (owner_) {
    owner_.reset();
  } else if (slots_ != nullptr) {
    munmap(slots_, capacity_ * sizeof(Slot));
  }
  slots_ = nullptr;
  capacity_ = 0;
  size_ = 0;
}

void RowIndex::Reserve(int64_t keys) {
  if (std::unique_ptr<RowIndex> grown = Grown(keys)) Swap(*grown);
}

std::unique_ptr<RowIndex> RowIndex::Grown(int64_t keys) const {
  const size_t wanted = CapacityFor(keys);
  if (wanted <= capacity_) return nullptr;
  auto grown = std::make_unique<RowIndex>();
  grown->Allocate(std::max(wanted, capacity_ + capacity_ / 2));
  for (size_t j = 0; j < capacity_; ++j) {
    if (j + kPrefetchDistance < capacity_ && slots_[j + kPrefetchDistance].ref_plus_one != 0) {
      grown->Prefetch(slots_[j + kPrefetchDistance].key);
    }
    if (slots_[j].ref_plus_one != 0) grown->Put(slots_[j].key, slots_[j].ref_plus_one - 1);
  }
  return grown;
}

void RowIndex::Swap(RowIndex& other) {
  std::swap(owner_, other.owner_);
  std::swap(slots_, other.slots_);
  std::swap(capacity_, other.capacity_);
  std::swap(size_, other.size_);
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

// Block by block: the homes of a block's keys first, prefetching the slots of
// those in this region, then the puts, so their cache misses overlap.
void RowIndex::PutRegion(const std::vector<KeyRun>& runs, size_t begin, size_t end, int64_t* added,
                         std::vector<std::pair<int64_t, int64_t>>* overflow) {
  constexpr int64_t kBlock = 128;
  int64_t mine[kBlock];
  size_t homes[kBlock];
  for (const KeyRun& run : runs) {
    const int64_t n = run.keys.num_elements();
    for (int64_t b = 0; b < n; b += kBlock) {
      int64_t count = 0;
      for (int64_t k = b; k < std::min(n, b + kBlock); ++k) {
        size_t home = Home(KeyAt(run.keys, k));
        if (home < begin || home >= end) continue;
        PrefetchHome(home);
        mine[count] = k;
        homes[count++] = home;
      }
      for (int64_t j = 0; j < count; ++j) {
        const int64_t key = KeyAt(run.keys, mine[j]), ref = run.first_ref + mine[j];
        if (!PutBefore(homes[j], key, ref, end, added)) overflow->emplace_back(key, ref);
      }
    }
  }
}

// Thread t puts the keys whose home slot lies in its t-th of the slots (each
// thread reads every key and skips the others'), probing no further than its
// region's end; the few keys that would cross it are put afterwards, in
// order. Every occurrence of a key has the same home, so one thread sees them
// all in order and the last one wins, as with one thread.
void RowIndex::PutAll(const std::vector<KeyRun>& runs) {
  int64_t total = size_;
  for (const KeyRun& run : runs) total += run.keys.num_elements();
  Reserve(total);
  const int threads =
      total < kParallelKeys ? 1 : std::clamp<int>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::vector<std::pair<int64_t, int64_t>>> overflow(threads);
  std::vector<int64_t> added(threads, 0);
  auto region = [&](int t) {
    PutRegion(runs, capacity_ * t / threads, capacity_ * (t + 1) / threads, &added[t],
              &overflow[t]);
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(region, t);
  region(0);
  for (std::thread& worker : workers) worker.join();
  for (int t = 0; t < threads; ++t) {
    size_ += added[t];
    for (const auto& [key, ref] : overflow[t]) Put(key, ref);
  }
}

int64_t RowIndex::Find(int64_t key) const {
  if (capacity_ == 0) return kNone;
  for (size_t i = Home(key);; i = (i + 1 == capacity_) ? 0 : i + 1) {
    const Slot& slot = slots_[i];
    if (slot.ref_plus_one == 0) return kNone;
    if (slot.key == key) return slot.ref_plus_one - 1;
  }
}

int64_t RowIndex::Erase(int64_t key) {
  if (capacity_ == 0) return kNone;
  auto next = [this](size_t i) { return i + 1 == capacity_ ? 0 : i + 1; };
  size_t hole = Home(key);
  while (slots_[hole].ref_plus_one != 0 && slots_[hole].key != key) hole = next(hole);
  if (slots_[hole].ref_plus_one == 0) return kNone;
  const int64_t ref = slots_[hole].ref_plus_one - 1;
  // Backward shift: a later key of the run moves into the hole unless its
  // home lies cyclically in (hole, j], where it would not be found from.
  for (size_t j = next(hole); slots_[j].ref_plus_one != 0; j = next(j)) {
    const size_t home = Home(slots_[j].key);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{0, 0};
  --size_;
  return ref;
}

void RowIndex::Clear() { Release(); }

}  // namespace recship
