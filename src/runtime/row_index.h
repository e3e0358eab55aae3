// The index of a hash table: 64-bit keys to row references, by open
// addressing with linear probing over 16-byte slots {key, ref}.
//
// Its capacity is any size (not only powers of two: a key's home slot is
// the 64-bit hash scaled to the capacity), so an index sized up front for n
// keys takes about n / kMaxLoadFactor slots and never rehashes while it is
// filled. The slots are anonymous memory mapped for the index, zeroed by the
// kernel and backed by huge pages where the system allows (transparent huge
// pages), so random probes of a large index rarely miss the TLB. Not
// thread-safe: the owner locks.
#ifndef RECSHIP_RUNTIME_ROW_INDEX_H_
#define RECSHIP_RUNTIME_ROW_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <utility>

namespace recship {

class RowIndex {
 public:
  static constexpr int64_t kNone = -1;
  // Slots are at most this full, so probe sequences stay short.
  static constexpr double kMaxLoadFactor = 0.8;

  RowIndex() = default;
  ~RowIndex();
  RowIndex(const RowIndex&) = delete;
  RowIndex& operator=(const RowIndex&) = delete;

  // Makes room for `keys` keys in all, rehashing (once) if needed. Throws
  // std::bad_alloc when out of memory.
  void Reserve(int64_t keys);
  // Maps `key` to `ref` (>= 0); returns the ref it replaced, or kNone for a
  // new key. There must be room (Reserve).
  int64_t Put(int64_t key, int64_t ref);
  // Put for building in parallel: probes only slots before `limit`, and
  // returns false, changing nothing, when the key would need one past it.
  // Threads whose keys' home slots lie in disjoint regions of the slots, each
  // limited to its region's end, never touch each other's slots; a key that
  // overflows is Put afterwards. `added` counts new keys (size() does not).
  // `home` is Home(key).
  bool PutBefore(size_t home, int64_t key, int64_t ref, size_t limit, int64_t* added);
  // Adds keys counted by PutBefore to size().
  void AddToSize(int64_t added) { size_ += added; }
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
  size_t MemoryBytes() const { return capacity_ * sizeof(Slot); }
  void Clear();

 private:
  struct Slot {
    int64_t key;
    int64_t ref_plus_one;  // 0 for an empty slot, so fresh zero pages are empty.
  };

  // capacity_ new empty slots in slots_; the old ones are returned.
  std::pair<Slot*, size_t> Allocate(size_t capacity);
  static void Free(Slot* slots, size_t capacity);

  Slot* slots_ = nullptr;
  size_t capacity_ = 0;
  int64_t size_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_ROW_INDEX_H_
