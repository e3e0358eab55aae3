// runtime/layered_index.h: writes over a base it must not write go to the
// overlay (the base's pages are read-only here, so a write to them would
// crash the test); lookups, size and ForEach see base and overlay as one;
// an erased base key stays erased until put again; the overlay grows past
// any size; a writable base takes writes in place.
#include "recship/runtime/layered_index.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <map>

namespace recship {
namespace {

constexpr int64_t kBaseKeys = 1000;

// An index of keys 0, 3, 6, ... (ref = key * 10) over read-only pages.
std::unique_ptr<RowIndex> ReadOnlyBase() {
  RowIndex built;
  built.Reserve(kBaseKeys);
  for (int64_t i = 0; i < kBaseKeys; ++i) built.Put(i * 3, i * 30);
  const size_t bytes = built.capacity() * sizeof(RowIndex::Slot);
  void* pages = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(pages, MAP_FAILED);
  std::memcpy(pages, built.slots(), bytes);
  EXPECT_EQ(mprotect(pages, bytes, PROT_READ), 0);
  std::shared_ptr<void> owner(pages, [bytes](void* p) { munmap(p, bytes); });
  return std::make_unique<RowIndex>(owner, static_cast<RowIndex::Slot*>(pages), built.capacity(),
                                    built.size());
}

std::map<int64_t, int64_t> Contents(const LayeredIndex& index) {
  std::map<int64_t, int64_t> out;
  index.ForEach([&](int64_t key, int64_t ref) { EXPECT_TRUE(out.emplace(key, ref).second); });
  return out;
}

TEST(LayeredIndexTest, WritesOverAReadOnlyBaseGoToTheOverlay) {
  LayeredIndex index;
  index.Reset(ReadOnlyBase(), /*writable=*/false);
  EXPECT_EQ(index.size(), kBaseKeys);
  EXPECT_EQ(index.Find(9), 90);

  EXPECT_EQ(index.Put(9, 1), 90);                // Replaces a base key.
  EXPECT_EQ(index.Put(10, 2), RowIndex::kNone);  // A new key.
  EXPECT_EQ(index.Erase(12), 120);               // Erases a base key.
  EXPECT_EQ(index.Erase(13), RowIndex::kNone);   // Absent.
  EXPECT_EQ(index.Erase(10), 2);                 // Erases an overlay key.
  EXPECT_EQ(index.Find(9), 1);
  EXPECT_EQ(index.Find(10), RowIndex::kNone);
  EXPECT_EQ(index.Find(12), RowIndex::kNone);
  EXPECT_EQ(index.size(), kBaseKeys - 1);

  EXPECT_EQ(index.Put(12, 3), RowIndex::kNone);  // Back after its erasure.
  EXPECT_EQ(index.Find(12), 3);
  EXPECT_EQ(index.size(), kBaseKeys);

  std::map<int64_t, int64_t> expected;
  for (int64_t i = 0; i < kBaseKeys; ++i) expected[i * 3] = i * 30;
  expected[9] = 1;
  expected[12] = 3;
  EXPECT_EQ(Contents(index), expected);
  EXPECT_GT(index.MemoryBytes(), 0u);  // The overlay's slots only.
}

TEST(LayeredIndexTest, ManyOverlayKeysGrowTheOverlay) {
  LayeredIndex index;
  index.Reset(ReadOnlyBase(), /*writable=*/false);
  Tensor keys = Tensor::FromVector<int64_t>({5000}, std::vector<int64_t>(5000, 0));
  for (int64_t i = 0; i < 5000; ++i) keys.flat<int64_t>()[i] = i;
  index.Install(index.GrownFor(keys, 0, 5000));  // Room for all, grown up front.
  for (int64_t i = 0; i < 5000; ++i) index.Put(i, i + 7);
  EXPECT_EQ(index.size(), 5000);  // The base's keys are all below 3000.
  for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(index.Find(i), i + 7);
  for (int64_t i = 0; i < 5000; i += 2) ASSERT_EQ(index.Erase(i), i + 7);
  EXPECT_EQ(index.size(), 2500);
  EXPECT_EQ(Contents(index).size(), 2500u);
  EXPECT_EQ(index.Find(2), RowIndex::kNone);
  EXPECT_EQ(index.Find(3), 10);
}

TEST(LayeredIndexTest, AWritableBaseTakesWritesInPlace) {
  LayeredIndex index;
  auto base = std::make_unique<RowIndex>();
  base->Reserve(10);
  base->Put(1, 10);
  const RowIndex* raw = base.get();
  index.Reset(std::move(base), /*writable=*/true);
  index.Put(2, 20);
  EXPECT_EQ(index.Erase(1), 10);
  EXPECT_EQ(raw->size(), 1);  // Written in place.
  EXPECT_EQ(raw->Find(2), 20);
  EXPECT_EQ(index.size(), 1);
  EXPECT_EQ(index.MemoryBytes(), raw->MemoryBytes());
}

}  // namespace
}  // namespace recship
