#include "recship/runtime/layered_index.h"

namespace recship {
namespace {

int64_t KeyAt(const Tensor& keys, int64_t i) {
  return keys.dtype() == tensorflow::DT_INT32 ? keys.flat<int32_t>()[i] : keys.flat<int64_t>()[i];
}

}  // namespace

void LayeredIndex::Reset(std::unique_ptr<RowIndex> base, bool writable) {
  base_ = std::move(base);
  base_writable_ = writable;
  overlay_.Clear();
  size_change_ = 0;
}

std::unique_ptr<RowIndex> LayeredIndex::GrownFor(const Tensor& keys, int64_t begin,
                                                 int64_t end) const {
  const RowIndex& written = base_writable_ ? *base_ : overlay_;
  int64_t added = 0;
  for (int64_t i = begin; i < end; ++i) added += written.Find(KeyAt(keys, i)) == RowIndex::kNone;
  return added == 0 ? nullptr : written.Grown(written.size() + added);
}

std::unique_ptr<RowIndex> LayeredIndex::Install(std::unique_ptr<RowIndex> grown) {
  if (grown != nullptr) (base_writable_ ? *base_ : overlay_).Swap(*grown);
  return grown;  // Now the replaced slots.
}

void LayeredIndex::ReserveFor(const Tensor& keys, int64_t begin, int64_t end) {
  Install(GrownFor(keys, begin, end));
}

int64_t LayeredIndex::Put(int64_t key, int64_t ref) {
  if (base_writable_) return base_->Put(key, ref);
  const int64_t before = Find(key);
  overlay_.Reserve(overlay_.size() + 1);
  overlay_.Put(key, ref);
  size_change_ += before == RowIndex::kNone;
  return before;
}

int64_t LayeredIndex::Erase(int64_t key) {
  if (base_writable_) return base_->Erase(key);
  const int64_t before = Find(key);
  if (before == RowIndex::kNone) return before;
  if (base_->Find(key) != RowIndex::kNone) {
    overlay_.Reserve(overlay_.size() + 1);
    overlay_.Put(key, kErased);
  } else {
    overlay_.Erase(key);
  }
  --size_change_;
  return before;
}

void LayeredIndex::PutAll(const std::vector<RowIndex::KeyRun>& runs) {
  if (base_writable_) return base_->PutAll(runs);
  for (const RowIndex::KeyRun& run : runs) {
    ReserveFor(run.keys, 0, run.keys.num_elements());
    for (int64_t i = 0; i < run.keys.num_elements(); ++i)
      Put(KeyAt(run.keys, i), run.first_ref + i);
  }
}

}  // namespace recship
