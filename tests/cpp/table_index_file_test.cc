// format/table_index_file.h: an index written for some views' keys maps
// back to the same key-to-row answers a RowIndex built in memory gives (a
// later view's key wins), is written copy-on-write by its reader, and every
// kind of damage (magic, version, size, header, slots, counts, refs) is
// refused naming the file.
#include "recship/format/table_index_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "recship/core/crc32c.h"
#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

std::vector<int64_t> RandomKeys(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> keys(n);
  for (int64_t& key : keys) key = static_cast<int64_t>(rng());
  return keys;
}

// Key -> the reference the last view holding it gives it.
std::unordered_map<int64_t, int64_t> Expected(const std::vector<std::vector<int64_t>>& views) {
  std::unordered_map<int64_t, int64_t> expected;
  for (size_t v = 0; v < views.size(); ++v) {
    for (size_t r = 0; r < views[v].size(); ++r) {
      expected[views[v][r]] = TableRowRef(static_cast<int64_t>(v) + 1, static_cast<int64_t>(r));
    }
  }
  return expected;
}

std::vector<Tensor> KeyTensors(const std::vector<std::vector<int64_t>>& views) {
  std::vector<Tensor> out;
  for (const auto& keys : views) {
    out.push_back(Tensor::FromVector<int64_t>({static_cast<int64_t>(keys.size())}, keys));
  }
  return out;
}

class TableIndexFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two views sharing some keys, enough keys to be put by several threads.
    views_ = {RandomKeys(100000, 1), RandomKeys(50000, 2)};
    views_[1].insert(views_[1].end(), views_[0].begin(), views_[0].begin() + 20000);
    path_ = dir_.Join("index");
    ASSERT_OK(WriteTableIndexFile(path_, KeyTensors(views_)));
  }
  // The file with `bytes` at `offset` replaced, reopened.
  absl::Status OpenDamaged(size_t offset, const std::string& bytes) {
    std::string data = ReadBytes(path_);
    data.replace(offset, bytes.size(), bytes);
    WriteBytes(path_, data);
    return TableIndexFile::Open(path_).status();
  }

  TempDir dir_;
  std::string path_;
  std::vector<std::vector<int64_t>> views_;
};

TEST_F(TableIndexFileTest, MapsBackTheRefsOfEveryKey) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TableIndexFile> file, TableIndexFile::Open(path_));
  EXPECT_EQ(file->path(), path_);
  ASSERT_EQ(file->views().size(), 2u);
  EXPECT_EQ(file->views()[0].rows, 100000);
  EXPECT_EQ(file->views()[1].rows, 70000);
  EXPECT_EQ(file->views()[1].keys_checksum, KeysChecksum(KeyTensors(views_)[1]));
  std::unique_ptr<RowIndex> index = file->TakeIndex();
  std::unordered_map<int64_t, int64_t> expected = Expected(views_);
  EXPECT_EQ(index->size(), static_cast<int64_t>(expected.size()));
  EXPECT_EQ(index->MemoryBytes(), 0u);  // The slots are the file's.
  for (const auto& [key, ref] : expected) ASSERT_EQ(index->Find(key), ref) << key;
  for (int64_t key : RandomKeys(1000, 3)) EXPECT_EQ(index->Find(key), RowIndex::kNone);
  EXPECT_EQ(file->TakeIndex()->size(), 0);  // Once only.

  // Writes copy pages; the file never changes.
  const std::string before = ReadBytes(path_);
  for (const auto& [key, ref] : expected) index->Put(key, 7);
  index->Put(42, 9);
  EXPECT_EQ(index->Find(views_[0][5]), 7);
  EXPECT_EQ(ReadBytes(path_), before);
}

TEST_F(TableIndexFileTest, Int32KeysAndNoViews) {
  std::vector<int32_t> keys = {5, -3, 1 << 30, 5};
  ASSERT_OK(WriteTableIndexFile(path_, {Tensor::FromVector<int32_t>({2, 2}, keys)}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TableIndexFile> file, TableIndexFile::Open(path_));
  std::unique_ptr<RowIndex> index = file->TakeIndex();
  EXPECT_EQ(index->size(), 3);
  EXPECT_EQ(index->Find(5), TableRowRef(1, 3));
  EXPECT_EQ(index->Find(-3), TableRowRef(1, 1));

  ASSERT_OK(WriteTableIndexFile(path_, {}));
  ASSERT_OK_AND_ASSIGN(file, TableIndexFile::Open(path_));
  EXPECT_TRUE(file->views().empty());
  EXPECT_EQ(file->TakeIndex()->Find(5), RowIndex::kNone);
}

TEST_F(TableIndexFileTest, DamageIsRefusedNamingTheFile) {
  const std::string data = ReadBytes(path_);
  EXPECT_TRUE(IsError(OpenDamaged(0, "X"), absl::StatusCode::kDataLoss, {path_, "bad magic"}));
  WriteBytes(path_, data);
  EXPECT_TRUE(IsError(OpenDamaged(8, std::string("\x02", 1)), absl::StatusCode::kDataLoss,
                      {path_, "format version 2"}));
  WriteBytes(path_, data);
  EXPECT_TRUE(IsError(OpenDamaged(44, "\x01"), absl::StatusCode::kDataLoss, {"header checksum"}));
  WriteBytes(path_, data);
  EXPECT_TRUE(IsError(OpenDamaged(4096 + 16 * 77 + 9, "\x7f"), absl::StatusCode::kDataLoss,
                      {path_, "slots checksum"}));
  WriteBytes(path_, data.substr(0, data.size() - 16));
  EXPECT_TRUE(IsError(TableIndexFile::Open(path_).status(), absl::StatusCode::kDataLoss,
                      {path_, "does not match its header"}));
  WriteBytes(path_, "");
  EXPECT_TRUE(
      IsError(TableIndexFile::Open(path_).status(), absl::StatusCode::kDataLoss, {"bad magic"}));
  EXPECT_TRUE(IsError(TableIndexFile::Open(dir_.Join("missing")).status(),
                      absl::StatusCode::kNotFound, {"missing"}));
}

// A file whose checksums are right but whose slots point past its views'
// rows (a crafted file) is refused before any lookup could read there.
TEST_F(TableIndexFileTest, SlotsReferringToNoRowAreRefused) {
  std::string data = ReadBytes(path_);
  size_t slot = 4096;
  while (std::memcmp(data.data() + slot + 8, "\0\0\0\0\0\0\0\0", 8) == 0) slot += 16;
  const int64_t bad = TableRowRef(3, 0) + 1;  // View 3 of 2.
  std::memcpy(data.data() + slot + 8, &bad, 8);
  const uint32_t crc = crc32c::Mask(crc32c::Value(data.data() + 4096, data.size() - 4096));
  std::memcpy(data.data() + 32, &crc, 4);
  uint32_t header = crc32c::Extend(crc32c::Value(data.data(), 36), data.data() + 40, 32);
  header = crc32c::Mask(header);
  std::memcpy(data.data() + 36, &header, 4);
  WriteBytes(path_, data);
  EXPECT_TRUE(IsError(TableIndexFile::Open(path_).status(), absl::StatusCode::kDataLoss,
                      {path_, "1 slots refer to rows"}));
}

TEST(TableIndexFilenameTest, EscapesAllButSafeBytes) {
  EXPECT_EQ(TableIndexFilename("user_id"), "user_id");
  EXPECT_EQ(TableIndexFilename("a/b c.d-e"), "a%2Fb%20c%2Ed-e");
  EXPECT_EQ(TableIndexFilename(".."), "%2E%2E");
  EXPECT_EQ(TableIndexFilename(""), "%");
}

}  // namespace
}  // namespace recship
