// The index of a hash table: 64-bit keys to row references, by open
// addressing with linear probing over 16-byte slots {key, ref + 1}. It is
// also the layout of a table index file (table_index_file.h), which is why it
// lives with the formats: the slots and the hash that places keys in them are
// a file contract, identical in the exporter that writes them and the server
// that maps them.
//
// Its capacity is any size (not only powers of two: a key's home slot is
// the 64-bit hash scaled to the capacity), so an index sized up front for n
// keys takes about n / kMaxLoadFactor slots and never rehashes while it is
// filled. Slots it allocates are anonymous memory, zeroed by the kernel and
// backed by huge pages where the system allows (transparent huge pages), so
// random probes of a large index rarely miss the TLB; slots it is given
// (Over) are someone else's memory, e.g. a file mapped copy-on-write, and are
// kept alive by their owner. Not thread-safe: the owner locks.
#ifndef RECSHIP_FORMAT_ROW_INDEX_H_
#define RECSHIP_FORMAT_ROW_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "recship/format/tensor.h"

namespace recship {

class RowIndex {
 public:
  static constexpr int64_t kNone = -1;
  // Slots are at most this full, so probe sequences stay short.
  static constexpr double kMaxLoadFactor = 0.8;

  // One slot, as stored in memory and in index files (little-endian).
  struct Slot {
    int64_t key;
    int64_t ref_plus_one;  // 0 for an empty slot, so fresh zero pages are empty.
  };
  static_assert(sizeof(Slot) == 16);

  // Keys to put, in order: keys[i] gets ref first_ref + i. keys is an int32
  // or int64 tensor of any shape.
  struct KeyRun {
    Tensor keys;
    int64_t first_ref = 0;
  };

  RowIndex() = default;
  // An index over `capacity` slots at `slots` holding `size` keys, which
  // `owner` keeps alive; the slots are written in place.
  RowIndex(std::shared_ptr<void> owner, Slot* slots, size_t capacity, int64_t size);
  ~RowIndex();
  RowIndex(const RowIndex&) = delete;
  RowIndex& operator=(const RowIndex&) = delete;

  // Slots for `keys` keys at kMaxLoadFactor.
  static size_t CapacityFor(int64_t keys);
  // Makes room for `keys` keys in all, rehashing (once) if needed. Throws
  // std::bad_alloc when out of memory.
  void Reserve(int64_t keys);
  // A copy with room for `keys` keys in all (and at least half as many
  // slots again, so growing one key at a time stays amortized O(1)), or null
  // when this index has room. Reads only, so it may run beside lookups.
  std::unique_ptr<RowIndex> Grown(int64_t keys) const;
  void Swap(RowIndex& other);
  // Maps `key` to `ref` (>= 0); returns the ref it replaced, or kNone for a
  // new key. There must be room (Reserve).
  int64_t Put(int64_t key, int64_t ref);
  // Removes `key`; returns its ref, or kNone when absent. Later keys of its
  // probe sequence move back (no tombstones), so lookups stay as short.
  int64_t Erase(int64_t key);
  // Puts every run, in order (a later occurrence of a key wins), after
  // reserving room for all: many keys are put by one thread per core, each
  // over its own region of the slots.
  void PutAll(const std::vector<KeyRun>& runs);
  size_t capacity() const { return capacity_; }
  size_t Home(int64_t key) const;
  // Hints that `key` is about to be Put or found.
  void Prefetch(int64_t key) const {
    if (capacity_ > 0) PrefetchHome(Home(key));
  }
  void PrefetchHome(size_t home) const { __builtin_prefetch(&slots_[home], 1); }
  // The ref of `key`, or kNone.
  int64_t Find(int64_t key) const;
  // Calls f(key, ref) for every key, in slot order.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].ref_plus_one != 0) f(slots_[i].key, slots_[i].ref_plus_one - 1);
    }
  }

  int64_t size() const { return size_; }
  // The slots, capacity() of them.
  const Slot* slots() const { return slots_; }
  // Bytes of slots this index allocated (0 for slots it was given).
  size_t MemoryBytes() const { return owner_ ? 0 : capacity_ * sizeof(Slot); }
  void Clear();

 private:
  // capacity new empty slots of our own; the old ones are released.
  void Allocate(size_t capacity);
  void Release();
  // Put for building in parallel: probes only slots before `limit`, and
  // returns false, changing nothing, when the key would need one past it.
  // `added` counts new keys (size_ does not).
  bool PutBefore(size_t home, int64_t key, int64_t ref, size_t limit, int64_t* added);
  // PutAll's work for the keys whose home slot is in [begin, end); keys that
  // would probe past `end` go to `overflow`.
  void PutRegion(const std::vector<KeyRun>& runs, size_t begin, size_t end, int64_t* added,
                 std::vector<std::pair<int64_t, int64_t>>* overflow);

  std::shared_ptr<void> owner_;  // Set when the slots are not ours.
  Slot* slots_ = nullptr;
  size_t capacity_ = 0;
  int64_t size_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_FORMAT_ROW_INDEX_H_
