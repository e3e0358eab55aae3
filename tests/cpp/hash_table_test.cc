// HashTable on its own: Import, Insert, Find and Export against a
// std::unordered_map over many random keys, int32 and int64 keys, scalar and
// vector rows, rows served in place from read-only views, growth, argument
// errors and Finds concurrent with Inserts.
#include "recship/runtime/hash_table.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "recship/format/table_index_file.h"
#include "recship/format/tensor.h"
#include "recship/runtime/session.h"
#include "test_util.h"

namespace recship {
namespace {

using ::recship::testing::IsError;
using tensorflow::DT_DOUBLE;
using tensorflow::DT_FLOAT;
using tensorflow::DT_INT32;
using tensorflow::DT_INT64;
using tensorflow::DT_STRING;
using Code = absl::StatusCode;

constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();

std::shared_ptr<HashTable> MakeTable(DataType key_dtype, DataType value_dtype,
                                     TensorShape value_shape) {
  HashTable::Options options;
  options.name = "test_table";
  options.key_dtype = key_dtype;
  options.value_dtype = value_dtype;
  options.value_shape = std::move(value_shape);
  absl::StatusOr<std::shared_ptr<HashTable>> table = HashTable::Create(options);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

using Row = std::array<float, 3>;
using Reference = std::unordered_map<int64_t, Row>;

Row RowFor(int64_t key, uint64_t salt) {
  std::mt19937 rng(static_cast<uint32_t>(static_cast<uint64_t>(key) * 31 + salt));
  std::uniform_real_distribution<float> dist(-100, 100);
  return {dist(rng), dist(rng), dist(rng)};
}

// Keys (in order) and their rows as [n] and [n, 3] tensors; the reference
// takes each row in order, so a repeated key ends with its last row.
std::pair<Tensor, Tensor> MakeRows(const std::vector<int64_t>& keys, uint64_t salt,
                                   Reference* reference) {
  std::vector<float> values;
  for (int64_t key : keys) {
    Row row = RowFor(key, salt + values.size());
    values.insert(values.end(), row.begin(), row.end());
    (*reference)[key] = row;
  }
  int64_t n = static_cast<int64_t>(keys.size());
  return {Tensor::FromVector<int64_t>({n}, keys), Tensor::FromVector<float>({n, 3}, values)};
}

// Finds `queries` and compares every row with the reference (or `fallback`
// for keys it lacks). Returns the number of wrong rows.
int64_t CountWrongRows(const HashTable& table, const std::vector<int64_t>& queries,
                       const Reference& reference, const Row& fallback,
                       const Eigen::ThreadPoolDevice* device) {
  int64_t n = static_cast<int64_t>(queries.size());
  absl::StatusOr<Tensor> found = table.Find(
      Tensor::FromVector<int64_t>({n}, queries),
      Tensor::FromVector<float>({3}, std::vector<float>(fallback.begin(), fallback.end())), device);
  EXPECT_TRUE(found.ok()) << found.status();
  if (!found.ok()) return n;
  EXPECT_EQ(found->shape(), (TensorShape{n, 3}));
  if (found->shape() != TensorShape{n, 3}) return n;
  auto rows = found->flat<float>();
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto it = reference.find(queries[i]);
    const Row& expected = it == reference.end() ? fallback : it->second;
    for (int64_t c = 0; c < 3; ++c) {
      if (rows[i * 3 + c] != expected[c]) {
        if (wrong < 5) ADD_FAILURE() << "key " << queries[i] << " column " << c;
        ++wrong;
        break;
      }
    }
  }
  return wrong;
}

// Keys over the whole int64 range, small ones around zero (repeats) and
// multiples of 1024 (ids sharded by a modulus), plus the extremes.
std::vector<int64_t> RandomKeys(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> keys = {0, kMin64, kMax64, -1, 1, kMin64 + 1, kMax64 - 1};
  while (keys.size() < n) {
    switch (rng() % 3) {
      case 0:
        keys.push_back(static_cast<int64_t>(rng()));
        break;
      case 1:
        keys.push_back(static_cast<int64_t>(rng() % 20001) - 10000);
        break;
      default:
        keys.push_back((static_cast<int64_t>(rng() % 200001) - 100000) * 1024);
        break;
    }
  }
  std::shuffle(keys.begin(), keys.end(), rng);
  return keys;
}

TEST(HashTableTest, MatchesUnorderedMapOverRandomInt64Keys) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_NE(table, nullptr);
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(100000, 1);
  auto [import_keys, import_values] = MakeRows(keys, 0, &reference);
  ASSERT_OK(table->Import(import_keys, import_values));
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  EXPECT_LT(reference.size(), keys.size());  // Some keys repeat; the last row wins.

  // Every key, and as many that were never inserted.
  std::vector<int64_t> queries = keys;
  std::mt19937_64 rng(2);
  while (queries.size() < 2 * keys.size()) {
    int64_t key = static_cast<int64_t>(rng());
    if (reference.count(key) == 0) queries.push_back(key);
  }
  std::shuffle(queries.begin(), queries.end(), rng);
  const Row fallback = {-1, -2, -3};
  EXPECT_EQ(CountWrongRows(*table, queries, reference, fallback, nullptr), 0);
  ThreadPool pool(2);
  EXPECT_EQ(CountWrongRows(*table, queries, reference, fallback, &pool.device()), 0);

  // Inserting overwrites half and adds half.
  std::vector<int64_t> more(keys.begin(), keys.begin() + 25000);
  std::vector<int64_t> fresh = RandomKeys(25000, 3);
  more.insert(more.end(), fresh.begin(), fresh.end());
  std::shuffle(more.begin(), more.end(), rng);
  auto [insert_keys, insert_values] = MakeRows(more, 1000003, &reference);
  ASSERT_OK(table->Insert(insert_keys, insert_values));
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  queries.insert(queries.end(), fresh.begin(), fresh.end());
  EXPECT_EQ(CountWrongRows(*table, queries, reference, fallback, &pool.device()), 0);

  // Import replaces everything.
  Reference small;
  auto [small_keys, small_values] = MakeRows({5, kMin64, 5}, 7, &small);
  ASSERT_OK(table->Import(small_keys, small_values));
  EXPECT_EQ(table->size(), 2);
  EXPECT_EQ(CountWrongRows(*table, queries, small, fallback, nullptr), 0);
  EXPECT_EQ(CountWrongRows(*table, {5, kMin64, kMax64, 0}, small, fallback, nullptr), 0);

  // And an empty import empties the table.
  Reference none;
  auto [no_keys, no_values] = MakeRows({}, 0, &none);
  ASSERT_OK(table->Import(no_keys, no_values));
  EXPECT_EQ(table->size(), 0);
  EXPECT_EQ(CountWrongRows(*table, {5, kMin64, 0}, none, fallback, &pool.device()), 0);
}

// A view of `t`'s bytes in read-only pages, as a mapped file's rows are to
// the table: any write to them kills the test.
Tensor ReadOnlyView(const Tensor& t) {
  size_t bytes = std::max<size_t>(t.byte_size(), 1);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  std::memcpy(p, t.data(), t.byte_size());
  EXPECT_EQ(mprotect(p, bytes, PROT_READ), 0);
  std::shared_ptr<std::byte> data(static_cast<std::byte*>(p),
                                  [bytes](std::byte* q) { munmap(q, bytes); });
  return Tensor::View(t.dtype(), t.shape(), std::move(data), t.byte_size()).value();
}

// Rows of a view are served where they are: never copied, never written,
// also when their keys are overwritten or a second view shadows the first.
TEST(HashTableTest, ViewsAreServedInPlaceAndNeverWritten) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_NE(table, nullptr);
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(50000, 11);
  auto [k1, v1] = MakeRows(keys, 0, &reference);
  Tensor view1 = ReadOnlyView(v1);
  ASSERT_OK(table->Import(ReadOnlyView(k1), view1));
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  EXPECT_EQ(table->ViewBytes(), v1.byte_size());
  // The heap holds the index only: 16-byte slots, sized for every key given
  // (repeats included) at most 0.8 full, and no rows.
  EXPECT_LE(table->MemoryBytes(), static_cast<size_t>(keys.size() / 0.8 + 2) * 16);
  const Row fallback = {-1, -2, -3};
  ThreadPool pool(2);
  EXPECT_EQ(CountWrongRows(*table, keys, reference, fallback, &pool.device()), 0);

  // A second view shadows half of the first and adds as many keys.
  std::vector<int64_t> second(keys.begin(), keys.begin() + 25000);
  std::vector<int64_t> fresh = RandomKeys(25000, 12);
  second.insert(second.end(), fresh.begin(), fresh.end());
  auto [k2, v2] = MakeRows(second, 777, &reference);
  ASSERT_OK(table->Insert(ReadOnlyView(k2), ReadOnlyView(v2)));
  // Small inserts go to the heap, over rows of both views and new keys.
  std::vector<int64_t> small = {keys[30000], second[10], fresh[20000], 123456789, keys[1]};
  auto [k3, v3] = MakeRows(small, 999, &reference);
  ASSERT_OK(table->Insert(k3, v3));
  std::vector<int64_t> queries = keys;
  queries.insert(queries.end(), second.begin(), second.end());
  queries.push_back(123456789);
  queries.push_back(987654321);  // Never inserted.
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  EXPECT_EQ(CountWrongRows(*table, queries, reference, fallback, nullptr), 0);
  EXPECT_EQ(CountWrongRows(*table, queries, reference, fallback, &pool.device()), 0);
  EXPECT_EQ(std::memcmp(view1.data(), v1.data(), v1.byte_size()), 0);

  // Export lists each key once with its current row.
  ASSERT_OK_AND_ASSIGN(auto exported, table->Export());
  ASSERT_EQ(exported.first.num_elements(), static_cast<int64_t>(reference.size()));
  ASSERT_EQ(exported.second.shape(), (TensorShape{exported.first.num_elements(), 3}));
  std::unordered_set<int64_t> seen;
  for (int64_t i = 0; i < exported.first.num_elements(); ++i) {
    int64_t key = exported.first.flat<int64_t>()[i];
    ASSERT_TRUE(seen.insert(key).second) << key;
    ASSERT_EQ(reference.count(key), 1u) << key;
    EXPECT_EQ(std::memcmp(exported.second.flat<float>().data() + 3 * i, reference[key].data(),
                          sizeof(Row)),
              0)
        << key;
  }

  // Import replaces views too.
  Reference none;
  auto [no_keys, no_values] = MakeRows({}, 0, &none);
  ASSERT_OK(table->Import(no_keys, no_values));
  EXPECT_EQ(table->size(), 0);
  EXPECT_EQ(table->ViewBytes(), 0u);
  EXPECT_EQ(CountWrongRows(*table, {keys[0], fresh[0]}, none, fallback, nullptr), 0);
}

// Many keys in views are indexed by several threads, each over a
// region of the slots: the result is the same as one thread's, repeated keys
// ending with their last row, also across two views.
TEST(HashTableTest, LargeViewsIndexedInParallelMatchTheReference) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_NE(table, nullptr);
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(120000, 21);
  std::vector<int64_t> more = RandomKeys(60000, 22);
  auto [k1, v1] = MakeRows(keys, 0, &reference);
  auto [k2, v2] = MakeRows(more, 5, &reference);
  ASSERT_OK(table->Import(ReadOnlyView(k1), ReadOnlyView(v1)));
  ASSERT_OK(table->Insert(ReadOnlyView(k2), ReadOnlyView(v2)));
  table->BuildIndex();
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  keys.insert(keys.end(), more.begin(), more.end());
  EXPECT_EQ(CountWrongRows(*table, keys, reference, {0, 0, 0}, nullptr), 0);
}

// A table adopts an index file written for exactly its views (and answers
// as the index it would have built), takes new rows over it without
// changing the file, and refuses one written for other keys.
TEST(HashTableTest, UsesAnIndexFileWrittenForItsViews) {
  testing::TempDir dir;
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(80000, 31), more = RandomKeys(30000, 32);
  more.push_back(keys[7]);
  auto [k1, v1] = MakeRows(keys, 0, &reference);
  auto [k2, v2] = MakeRows(more, 3, &reference);
  const std::string path = dir.Join("index");
  ASSERT_OK(WriteTableIndexFile(path, {k1, k2}));
  const std::string file_bytes = testing::ReadBytes(path);

  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_OK(table->Import(ReadOnlyView(k1), ReadOnlyView(v1)));
  ASSERT_OK(table->Insert(ReadOnlyView(k2), ReadOnlyView(v2)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TableIndexFile> file, TableIndexFile::Open(path));
  ASSERT_OK(table->UseIndexFile(*file));
  EXPECT_EQ(table->MemoryBytes(), 0u);
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  std::vector<int64_t> queries = keys;
  queries.insert(queries.end(), more.begin(), more.end());
  queries.push_back(55);  // Absent.
  EXPECT_EQ(CountWrongRows(*table, queries, reference, {1, 2, 3}, nullptr), 0);
  // New and overwritten rows go to memory over the mapped index.
  std::vector<int64_t> small = {keys[3], more[4], 123456789};
  auto [k3, v3] = MakeRows(small, 9, &reference);
  ASSERT_OK(table->Insert(k3, v3));
  // The file's index took them in place (it has room for new keys): no
  // index was rebuilt in the heap, which holds just the three new rows.
  EXPECT_LT(table->MemoryBytes(), 4096u);
  queries.push_back(123456789);
  EXPECT_EQ(CountWrongRows(*table, queries, reference, {1, 2, 3}, nullptr), 0);
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  EXPECT_EQ(testing::ReadBytes(path), file_bytes);

  // Written for other keys, or for fewer views: refused, and the table
  // indexes its rows itself.
  Reference other;
  std::shared_ptr<HashTable> fresh = MakeTable(DT_INT64, DT_FLOAT, {3});
  auto [k4, v4] = MakeRows(RandomKeys(80000, 33), 0, &other);
  ASSERT_OK(fresh->Import(ReadOnlyView(k4), ReadOnlyView(v4)));
  ASSERT_OK(fresh->Insert(ReadOnlyView(k2), ReadOnlyView(v2)));
  ASSERT_OK_AND_ASSIGN(file, TableIndexFile::Open(path));
  EXPECT_TRUE(IsError(fresh->UseIndexFile(*file), Code::kFailedPrecondition,
                      {path, "test_table", "view 0 has other keys"}));
  ASSERT_OK(WriteTableIndexFile(path, {k4}));
  ASSERT_OK_AND_ASSIGN(file, TableIndexFile::Open(path));
  EXPECT_TRUE(IsError(fresh->UseIndexFile(*file), Code::kFailedPrecondition,
                      {"indexes 1 views, the table has 2"}));
  MakeRows(more, 3, &other);
  EXPECT_EQ(fresh->size(), static_cast<int64_t>(other.size()));
}

// Erase removes rows wherever they live (a view, the heap), leaves the
// others, and absent keys are skipped.
TEST(HashTableTest, EraseRemovesRowsOfViewsAndOwnRows) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(70000, 41);
  auto [k1, v1] = MakeRows(keys, 0, &reference);
  ASSERT_OK(table->Import(ReadOnlyView(k1), ReadOnlyView(v1)));
  std::vector<int64_t> small = {keys[0], 99999999};
  auto [k2, v2] = MakeRows(small, 5, &reference);
  ASSERT_OK(table->Insert(k2, v2));
  std::vector<int64_t> gone = {keys[0], keys[1], 99999999, 31337};
  for (int64_t key : gone) reference.erase(key);
  ASSERT_OK_AND_ASSIGN(int64_t erased, table->Erase(Tensor::FromVector<int64_t>({2, 2}, gone)));
  EXPECT_EQ(erased, 3);
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));
  std::vector<int64_t> queries = keys;
  queries.insert(queries.end(), gone.begin(), gone.end());
  EXPECT_EQ(CountWrongRows(*table, queries, reference, {4, 5, 6}, nullptr), 0);
  ASSERT_OK_AND_ASSIGN(auto exported, table->Export());
  EXPECT_EQ(exported.first.num_elements(), static_cast<int64_t>(reference.size()));
  EXPECT_TRUE(IsError(table->Erase(Tensor::FromVector<int32_t>({1}, {1})).status(),
                      Code::kInvalidArgument, {"int64 keys, not int32"}));
}

// Overwriting rows of keys the table has needs no room in its index: a full
// index (sized for its views' keys) is not rebuilt by a live update.
TEST(HashTableTest, OverwritingKeysNeverGrowsTheIndex) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  Reference reference;
  std::vector<int64_t> keys = RandomKeys(100000, 51);
  auto [k1, v1] = MakeRows(keys, 0, &reference);
  ASSERT_OK(table->Import(ReadOnlyView(k1), ReadOnlyView(v1)));
  table->BuildIndex();
  const size_t index_bytes = table->MemoryBytes();
  std::vector<int64_t> update(keys.begin(), keys.begin() + 20000);
  auto [k2, v2] = MakeRows(update, 7, &reference);
  ASSERT_OK(table->Insert(k2, v2));
  // The new rows (their buffer grows by doubling), and the same index: a
  // rebuilt one would be half as large again.
  EXPECT_LT(table->MemoryBytes(), index_bytes + 2 * 20000 * sizeof(Row));
  EXPECT_EQ(CountWrongRows(*table, keys, reference, {0, 0, 0}, nullptr), 0);
}

TEST(HashTableTest, Int32KeysAndScalarRows) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT32, DT_INT64, {});
  ASSERT_NE(table, nullptr);
  std::mt19937 rng(9);
  std::vector<int32_t> keys = {0, std::numeric_limits<int32_t>::min(),
                               std::numeric_limits<int32_t>::max(), -1};
  while (keys.size() < 20000) keys.push_back(static_cast<int32_t>(rng()));
  std::unordered_map<int32_t, int64_t> reference;
  std::vector<int64_t> values;
  for (int32_t key : keys) {
    int64_t value = int64_t{key} * 3 - 7;
    values.push_back(value);
    reference[key] = value;
  }
  int64_t n = static_cast<int64_t>(keys.size());
  ASSERT_OK(table->Insert(Tensor::FromVector<int32_t>({n}, keys),
                          Tensor::FromVector<int64_t>({n}, values)));
  EXPECT_EQ(table->size(), static_cast<int64_t>(reference.size()));

  std::vector<int32_t> queries = keys;
  for (int i = 0; i < 1000; ++i) queries.push_back(static_cast<int32_t>(rng()));
  int64_t q = static_cast<int64_t>(queries.size());
  ASSERT_OK_AND_ASSIGN(Tensor found,
                       table->Find(Tensor::FromVector<int32_t>({q}, queries),
                                   Tensor::FromVector<int64_t>({}, {kMin64}), nullptr));
  ASSERT_EQ(found.shape(), (TensorShape{q}));
  int64_t wrong = 0;
  for (int64_t i = 0; i < q; ++i) {
    auto it = reference.find(queries[i]);
    if (found.flat<int64_t>()[i] != (it == reference.end() ? kMin64 : it->second)) ++wrong;
  }
  EXPECT_EQ(wrong, 0);

  // int32 key -5 and int64 key -5 are distinct tables' business: the int32
  // table refuses int64 keys.
  EXPECT_TRUE(IsError(table
                          ->Find(Tensor::FromVector<int64_t>({1}, {-5}),
                                 Tensor::FromVector<int64_t>({}, {0}), nullptr)
                          .status(),
                      Code::kInvalidArgument, {"test_table", "int32"}));
}

TEST(HashTableTest, KeysOfAnyShape) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_DOUBLE, {2});
  ASSERT_NE(table, nullptr);
  ASSERT_OK(table->Insert(Tensor::FromVector<int64_t>({2, 1}, {10, 20}),
                          Tensor::FromVector<double>({2, 1, 2}, {1, 2, 3, 4})));
  ASSERT_OK_AND_ASSIGN(Tensor found,
                       table->Find(Tensor::FromVector<int64_t>({2, 2}, {20, 30, 10, 20}),
                                   Tensor::FromVector<double>({2}, {0, -1}), nullptr));
  ASSERT_EQ(found.shape(), (TensorShape{2, 2, 2}));
  std::vector<double> expected = {3, 4, 0, -1, 1, 2, 3, 4};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(found.flat<double>()[i], expected[i]);
  // A scalar key gives one row; no keys give no rows.
  ASSERT_OK_AND_ASSIGN(Tensor one, table->Find(Tensor::FromVector<int64_t>({}, {10}),
                                               Tensor::FromVector<double>({2}, {0, 0}), nullptr));
  EXPECT_EQ(one.shape(), (TensorShape{2}));
  EXPECT_EQ(one.flat<double>()[1], 2);
  ASSERT_OK_AND_ASSIGN(Tensor none, table->Find(Tensor::FromVector<int64_t>({0}, {}),
                                                Tensor::FromVector<double>({2}, {0, 0}), nullptr));
  EXPECT_EQ(none.shape(), (TensorShape{0, 2}));
}

TEST(HashTableTest, GrowsAcrossManySmallInserts) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_NE(table, nullptr);
  Reference reference;
  std::vector<int64_t> inserted;
  size_t bytes_before = table->MemoryBytes();
  const Row fallback = {0, 0, 0};
  for (int64_t i = 0; i < 30000; ++i) {
    // Multiples of a power of two, alternating in sign: hard on a weak hash.
    int64_t key = (i % 2 == 0 ? 1 : -1) * (i / 2) * 4096;
    auto [k, v] = MakeRows({key}, static_cast<uint64_t>(i), &reference);
    ASSERT_OK(table->Insert(k, v));
    inserted.push_back(key);
    ASSERT_EQ(table->size(), static_cast<int64_t>(reference.size())) << i;
    if ((i & (i + 1)) == 0 || i % 7919 == 0) {
      // At each power of two minus one (just before growing) and now and then.
      ASSERT_EQ(CountWrongRows(*table, inserted, reference, fallback, nullptr), 0) << i;
    }
  }
  EXPECT_EQ(CountWrongRows(*table, inserted, reference, fallback, nullptr), 0);
  EXPECT_EQ(CountWrongRows(*table, {1, -1, 4095, kMin64}, reference, fallback, nullptr), 0);
  EXPECT_GT(table->MemoryBytes(), bytes_before);
  EXPECT_GE(table->MemoryBytes(), reference.size() * (3 * sizeof(float) + 16));
}

TEST(HashTableTest, ArgumentErrors) {
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_FLOAT, {3});
  ASSERT_NE(table, nullptr);
  Tensor keys = Tensor::FromVector<int64_t>({2}, {1, 2});
  Tensor values = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_OK(table->Insert(keys, values));

  // A default that is not one row.
  EXPECT_TRUE(IsError(table->Find(keys, Tensor::FromVector<float>({2}, {0, 0}), nullptr).status(),
                      Code::kInvalidArgument, {"test_table", "default"}));
  EXPECT_TRUE(IsError(
      table->Find(keys, Tensor::FromVector<float>({2, 3}, std::vector<float>(6)), nullptr).status(),
      Code::kInvalidArgument, {"test_table"}));
  EXPECT_TRUE(
      IsError(table->Find(keys, Tensor::FromVector<double>({3}, {0, 0, 0}), nullptr).status(),
              Code::kInvalidArgument, {"test_table"}));
  EXPECT_TRUE(IsError(table
                          ->Find(Tensor::FromVector<int32_t>({1}, {1}),
                                 Tensor::FromVector<float>({3}, {0, 0, 0}), nullptr)
                          .status(),
                      Code::kInvalidArgument, {"test_table"}));

  // Values that do not match the keys.
  EXPECT_TRUE(IsError(table->Insert(keys, Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4})),
                      Code::kInvalidArgument, {"test_table"}));
  EXPECT_TRUE(IsError(table->Insert(keys, Tensor::FromVector<float>({3, 3}, std::vector<float>(9))),
                      Code::kInvalidArgument, {"test_table"}));
  EXPECT_TRUE(
      IsError(table->Import(keys, Tensor::FromVector<double>({2, 3}, std::vector<double>(6))),
              Code::kInvalidArgument, {"test_table"}));
  EXPECT_TRUE(IsError(table->Insert(Tensor::FromVector<int32_t>({2}, {1, 2}), values),
                      Code::kInvalidArgument, {"test_table"}));
  // A refused Import leaves the contents.
  EXPECT_EQ(table->size(), 2);
  Reference reference = {{1, {1, 2, 3}}, {2, {4, 5, 6}}};
  EXPECT_EQ(CountWrongRows(*table, {1, 2, 3}, reference, {0, 0, 0}, nullptr), 0);

  HashTable::Options bad;
  bad.name = "bad";
  bad.key_dtype = DT_FLOAT;
  EXPECT_FALSE(HashTable::Create(bad).ok());
  bad.key_dtype = DT_STRING;
  EXPECT_FALSE(HashTable::Create(bad).ok());
  bad.key_dtype = DT_INT64;
  bad.value_dtype = DT_STRING;
  EXPECT_FALSE(HashTable::Create(bad).ok());
  bad.value_dtype = DT_FLOAT;
  bad.value_shape = {-1};
  EXPECT_FALSE(HashTable::Create(bad).ok());
}

TEST(HashTableTest, ReservedKeysAreRefused) {
  HashTable::Options options;
  options.name = "dense";
  options.value_shape = {1};
  options.empty_key = kMin64;
  options.deleted_key = -1;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<HashTable> table, HashTable::Create(options));
  EXPECT_EQ(table->DebugName(), "hash table 'dense'");
  ASSERT_OK(table->Insert(Tensor::FromVector<int64_t>({2}, {0, 7}),
                          Tensor::FromVector<float>({2, 1}, {0.5f, 7.5f})));
  for (int64_t reserved : {kMin64, int64_t{-1}}) {
    EXPECT_TRUE(IsError(table->Insert(Tensor::FromVector<int64_t>({2}, {3, reserved}),
                                      Tensor::FromVector<float>({2, 1}, {3, 3})),
                        Code::kInvalidArgument, {"dense", "reserved"}));
    EXPECT_TRUE(IsError(table->Import(Tensor::FromVector<int64_t>({1}, {reserved}),
                                      Tensor::FromVector<float>({1, 1}, {3})),
                        Code::kInvalidArgument, {"dense"}));
  }
  EXPECT_EQ(table->size(), 2);
  // Finding a reserved key is fine: it is simply absent.
  ASSERT_OK_AND_ASSIGN(Tensor found,
                       table->Find(Tensor::FromVector<int64_t>({4}, {7, kMin64, -1, 3}),
                                   Tensor::FromVector<float>({1}, {-9}), nullptr));
  std::vector<float> expected = {7.5f, -9, -9, -9};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(found.flat<float>()[i], expected[i]);
}

TEST(HashTableTest, ConcurrentFindsWhileOneThreadInserts) {
  // Each Insert rewrites every old key's row to the next generation and adds
  // a batch of new keys, all in one call; a Find sees one whole generation.
  constexpr int64_t kOld = 1000, kNewPerGeneration = 50, kGenerations = 200;
  constexpr int64_t kGenerationStep = 1000000;
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_INT64, {4});
  ASSERT_NE(table, nullptr);
  auto insert_generation = [&](int64_t gen, bool import) {
    std::vector<int64_t> keys, values;
    for (int64_t k = 0; k < kOld; ++k) keys.push_back(k);
    if (gen > 0) {
      for (int64_t j = 0; j < kNewPerGeneration; ++j) {
        keys.push_back(kOld + (gen - 1) * kNewPerGeneration + j);
      }
    }
    for (int64_t key : keys) {
      int64_t v = key < kOld ? gen * kGenerationStep + key : key;
      values.insert(values.end(), {v, v, v, v});
    }
    int64_t n = static_cast<int64_t>(keys.size());
    Tensor k = Tensor::FromVector<int64_t>({n}, keys);
    Tensor v = Tensor::FromVector<int64_t>({n, 4}, values);
    return import ? table->Import(k, v) : table->Insert(k, v);
  };
  ASSERT_OK(insert_generation(0, true));

  std::vector<int64_t> queries;
  for (int64_t k = 0; k < kOld + kGenerations * kNewPerGeneration; ++k) queries.push_back(k);
  const int64_t q = static_cast<int64_t>(queries.size());
  Tensor query = Tensor::FromVector<int64_t>({q}, queries);
  Tensor fallback = Tensor::FromVector<int64_t>({4}, {-1, -1, -1, -1});

  ThreadPool pool(2);
  std::atomic<bool> done{false};
  std::atomic<int64_t> bad_rows{0}, lookups{0}, failed_finds{0};
  auto reader = [&](bool use_pool) {
    int64_t last_gen = 0;
    do {
      absl::StatusOr<Tensor> found =
          table->Find(query, fallback, use_pool ? &pool.device() : nullptr);
      if (!found.ok()) {
        ++failed_finds;
        continue;
      }
      auto rows = found->flat<int64_t>();
      int64_t gen = rows[0] / kGenerationStep;
      if (gen < last_gen) ++bad_rows;
      last_gen = gen;
      for (int64_t i = 0; i < q; ++i) {
        const int64_t* row = rows.data() + i * 4;
        if (row[1] != row[0] || row[2] != row[0] || row[3] != row[0]) {
          ++bad_rows;
          continue;
        }
        int64_t expected;
        if (i < kOld) {
          expected = gen * kGenerationStep + i;
        } else {
          int64_t added_in = (i - kOld) / kNewPerGeneration + 1;
          expected = added_in <= gen ? i : -1;
        }
        if (row[0] != expected) ++bad_rows;
      }
      ++lookups;
    } while (!done.load());
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) readers.emplace_back(reader, r % 2 == 0);
  absl::Status write_status;
  for (int64_t gen = 1; gen <= kGenerations && write_status.ok(); ++gen) {
    write_status = insert_generation(gen, false);
  }
  done = true;
  for (std::thread& t : readers) t.join();
  ASSERT_OK(write_status);
  EXPECT_EQ(bad_rows.load(), 0);
  EXPECT_EQ(failed_finds.load(), 0);
  EXPECT_GE(lookups.load(), 4);
  EXPECT_EQ(table->size(), kOld + kGenerations * kNewPerGeneration);
}

TEST(HashTableTest, ApplyUpdateInBatchesWhileOthersFindWholeRows) {
  // A live update goes in a few rows per writer lock: concurrent Finds see
  // each row whole and each key at its old or new value, and the result is
  // every insert and deletion applied.
  constexpr int64_t kKeys = 5000;
  std::shared_ptr<HashTable> table = MakeTable(DT_INT64, DT_INT64, {4});
  ASSERT_NE(table, nullptr);
  std::vector<int64_t> keys, old_rows, new_rows;
  for (int64_t k = 0; k < kKeys; ++k) {
    keys.push_back(k);
    old_rows.insert(old_rows.end(), {k, k, k, k});
    new_rows.insert(new_rows.end(), {-k - 1, -k - 1, -k - 1, -k - 1});
  }
  Tensor key_tensor = Tensor::FromVector<int64_t>({kKeys}, keys);
  ASSERT_OK(table->Insert(key_tensor, Tensor::FromVector<int64_t>({kKeys, 4}, old_rows)));
  Tensor fallback = Tensor::FromVector<int64_t>({4}, {7, 7, 7, 7});
  std::atomic<bool> done{false};
  std::atomic<int64_t> bad_rows{0};
  std::thread reader([&] {
    do {
      absl::StatusOr<Tensor> found = table->Find(key_tensor, fallback, nullptr);
      if (!found.ok()) {
        ++bad_rows;
        continue;
      }
      auto rows = found->flat<int64_t>();
      for (int64_t k = 0; k < kKeys; ++k) {
        const int64_t* row = rows.data() + k * 4;
        const bool whole = row[1] == row[0] && row[2] == row[0] && row[3] == row[0];
        const bool known = row[0] == k || row[0] == -k - 1 || (k % 10 == 0 && row[0] == 7);
        bad_rows += !(whole && known);
      }
    } while (!done.load());
  });
  std::vector<int64_t> deleted;
  for (int64_t k = 0; k < kKeys; k += 10) deleted.push_back(k);
  Tensor deleted_tensor =
      Tensor::FromVector<int64_t>({static_cast<int64_t>(deleted.size())}, deleted);
  absl::StatusOr<int64_t> erased = table->ApplyUpdate(
      key_tensor, Tensor::FromVector<int64_t>({kKeys, 4}, new_rows), &deleted_tensor);
  done = true;
  reader.join();
  ASSERT_OK(erased.status());
  EXPECT_EQ(*erased, kKeys / 10);
  EXPECT_EQ(bad_rows.load(), 0);
  EXPECT_EQ(table->size(), kKeys - kKeys / 10);
  ASSERT_OK_AND_ASSIGN(Tensor after, table->Find(key_tensor, fallback, nullptr));
  for (int64_t k = 0; k < kKeys; ++k) {
    ASSERT_EQ(after.flat<int64_t>()[k * 4], k % 10 == 0 ? 7 : -k - 1) << "key " << k;
  }
  EXPECT_TRUE(IsError(table->ApplyUpdate(key_tensor, fallback, &key_tensor).status(),
                      absl::StatusCode::kInvalidArgument, {"must have shape"}));
}

}  // namespace
}  // namespace recship
