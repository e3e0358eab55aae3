// format/row_index.h: Put, Find and Erase against std::unordered_map at a
// high load factor (long probe runs, wrapping at the end of the slots), and
// PutAll's parallel build equal to one Put at a time.
#include "recship/format/row_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace recship {
namespace {

std::vector<int64_t> RandomKeys(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> keys(n);
  for (int64_t& key : keys) key = static_cast<int64_t>(rng() % 1000000);  // Some repeat.
  return keys;
}

void ExpectSame(const RowIndex& index, const std::unordered_map<int64_t, int64_t>& reference) {
  ASSERT_EQ(index.size(), static_cast<int64_t>(reference.size()));
  for (const auto& [key, ref] : reference) ASSERT_EQ(index.Find(key), ref) << key;
  int64_t seen = 0;
  index.ForEach([&](int64_t key, int64_t ref) {
    ++seen;
    EXPECT_EQ(reference.at(key), ref);
  });
  EXPECT_EQ(seen, index.size());
}

TEST(RowIndexTest, EraseKeepsEveryOtherKeyFindable) {
  std::vector<int64_t> keys = RandomKeys(60000, 1);
  RowIndex index;
  index.Reserve(static_cast<int64_t>(keys.size()));  // About 0.8 full once all are in.
  std::unordered_map<int64_t, int64_t> reference;
  for (size_t i = 0; i < keys.size(); ++i) {
    index.Put(keys[i], static_cast<int64_t>(i));
    reference[keys[i]] = static_cast<int64_t>(i);
  }
  ExpectSame(index, reference);
  std::mt19937 rng(2);
  for (size_t i = 0; i < keys.size(); i += 2) {
    int64_t key = keys[rng() % keys.size()];
    auto it = reference.find(key);
    EXPECT_EQ(index.Erase(key), it == reference.end() ? RowIndex::kNone : it->second);
    if (it != reference.end()) reference.erase(it);
  }
  EXPECT_EQ(index.Erase(-5), RowIndex::kNone);
  ExpectSame(index, reference);
  for (size_t i = 0; i < keys.size(); i += 3) {
    index.Put(keys[i], 7);
    reference[keys[i]] = 7;
  }
  ExpectSame(index, reference);
}

TEST(RowIndexTest, PutAllEqualsPuttingOneAtATime) {
  std::vector<int64_t> a = RandomKeys(150000, 3), b = RandomKeys(80000, 4);
  RowIndex parallel;
  parallel.PutAll({{Tensor::FromVector<int64_t>({static_cast<int64_t>(a.size())}, a), 0},
                   {Tensor::FromVector<int64_t>({static_cast<int64_t>(b.size())}, b), 1 << 20}});
  std::unordered_map<int64_t, int64_t> reference;
  for (size_t i = 0; i < a.size(); ++i) reference[a[i]] = static_cast<int64_t>(i);
  for (size_t i = 0; i < b.size(); ++i) reference[b[i]] = (1 << 20) + static_cast<int64_t>(i);
  ExpectSame(parallel, reference);
}

}  // namespace
}  // namespace recship
