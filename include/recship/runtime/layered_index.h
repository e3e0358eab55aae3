// A hash table's key index that changes over a base it must not write: the
// base RowIndex (mapped copy-on-write from an index file, where each write
// would copy a page of the file into memory under the table's lock) stays
// as it is, and the keys put or erased since live in a small overlay
// RowIndex of their own, which lookups consult first while it holds keys.
// A base the index may write (one built in memory) takes writes in place
// and has no overlay. So a live update of n rows costs memory and time for
// n keys, never for a copy of the base. Not thread-safe: the owner locks.
#ifndef RECSHIP_RUNTIME_LAYERED_INDEX_H_
#define RECSHIP_RUNTIME_LAYERED_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "recship/format/row_index.h"

namespace recship {

class LayeredIndex {
 public:
  LayeredIndex() : base_(std::make_unique<RowIndex>()) {}

  // Makes `base` the base, with no overlay; `writable` says whether writes
  // may go into it.
  void Reset(std::unique_ptr<RowIndex> base, bool writable);
  void Clear() { Reset(std::make_unique<RowIndex>(), true); }

  // The ref of `key`, or RowIndex::kNone.
  int64_t Find(int64_t key) const {
    if (overlay_.size() > 0) {
      const int64_t ref = overlay_.Find(key);
      if (ref != RowIndex::kNone) return ref == kErased ? RowIndex::kNone : ref;
    }
    return base_->Find(key);
  }
  void Prefetch(int64_t key) const { base_->Prefetch(key); }

  // Makes room to Put keys [begin, end) of `keys` (int32 or int64, any
  // shape), growing the index written only for the keys it does not hold
  // yet: rows replaced (most of a live update) never make a full base
  // rehash. GrownFor does the slow part, reading only (so beside lookups),
  // and Install adopts it, unless nothing was written in between, and
  // returns the slots it replaced, to be freed outside the owner's lock.
  void ReserveFor(const Tensor& keys, int64_t begin, int64_t end);
  std::unique_ptr<RowIndex> GrownFor(const Tensor& keys, int64_t begin, int64_t end) const;
  std::unique_ptr<RowIndex> Install(std::unique_ptr<RowIndex> grown);
  // Maps `key` to `ref` (>= 0); returns the ref it replaced, or kNone. A
  // writable base must have room (ReserveFor); the overlay grows as needed.
  int64_t Put(int64_t key, int64_t ref);
  // Removes `key`; returns its ref, or kNone when absent.
  int64_t Erase(int64_t key);
  // Puts every run, in order (RowIndex::PutAll).
  void PutAll(const std::vector<RowIndex::KeyRun>& runs);

  int64_t size() const { return base_->size() + size_change_; }
  // Bytes of slots this index allocated (a mapped base's are not).
  size_t MemoryBytes() const { return base_->MemoryBytes() + overlay_.MemoryBytes(); }

  // Calls f(key, ref) for every key.
  template <typename F>
  void ForEach(F&& f) const {
    base_->ForEach([&](int64_t key, int64_t ref) {
      if (overlay_.size() == 0 || overlay_.Find(key) == RowIndex::kNone) f(key, ref);
    });
    overlay_.ForEach([&](int64_t key, int64_t ref) {
      if (ref != kErased) f(key, ref);
    });
  }

 private:
  // The overlay's ref for a key erased from the base.
  static constexpr int64_t kErased = int64_t{1} << 62;

  std::unique_ptr<RowIndex> base_;
  bool base_writable_ = true;
  RowIndex overlay_;
  // Keys the overlay added minus keys it erased (0 for a writable base).
  int64_t size_change_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_LAYERED_INDEX_H_
