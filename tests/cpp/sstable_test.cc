// src/format/sstable.h (the .index table format): our reader against tables
// LevelDB's TableBuilder writes (uncompressed and snappy, many block sizes
// and restart intervals, empty keys and values), WriteTable's output against
// LevelDB's own leveldb::Table, and the reader's errors on damaged blocks.
#include "sstable.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "leveldb/env.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/table.h"
#include "leveldb/table_builder.h"
#include "leveldb_table_util.h"
#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "test_util.h"

namespace recship::sstable {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;
using recship::testing::IsError;
using recship::testing::ReadBytes;
using recship::testing::ReadTableWithLevelDb;
using recship::testing::TempDir;
using recship::testing::Varint;
using recship::testing::WriteBytes;

Entries SampleEntries(int n, uint32_t seed) {
  Entries entries;
  entries.emplace_back("", "header-value");
  for (int i = 0; i < n; ++i) {
    // Shared prefixes of varying length exercise the key delta encoding;
    // values range from empty to larger than a block.
    std::string key = absl::StrFormat("layer_%d/sub_%03d/w%05d", i % 3, i % 17, i);
    size_t value_size = (i % 50 == 0) ? 5000 : static_cast<size_t>(i % 40);
    entries.emplace_back(
        key, recship::testing::RandomBytes(value_size, seed + static_cast<uint32_t>(i)));
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

void BuildWithLevelDb(const std::string& path, const Entries& entries,
                      leveldb::CompressionType compression, size_t block_size,
                      int restart_interval) {
  leveldb::WritableFile* raw = nullptr;
  ASSERT_TRUE(leveldb::Env::Default()->NewWritableFile(path, &raw).ok());
  std::unique_ptr<leveldb::WritableFile> file(raw);
  leveldb::Options options;
  options.compression = compression;
  options.block_size = block_size;
  options.block_restart_interval = restart_interval;
  leveldb::TableBuilder builder(options, file.get());
  for (const auto& [k, v] : entries) builder.Add(k, v);
  ASSERT_TRUE(builder.Finish().ok());
  ASSERT_TRUE(file->Close().ok());
}

absl::StatusOr<Entries> ReadWithOurs(const RandomAccessFile& file) {
  Entries out;
  absl::Status status =
      ForEachEntry(file, [&](absl::string_view key, absl::string_view value) -> absl::Status {
        out.emplace_back(std::string(key), std::string(value));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<Entries> ReadWithOurs(const std::string& path) {
  auto file = OpenRandomAccessFile(path);
  if (!file.ok()) return file.status();
  return ReadWithOurs(**file);
}

TEST(SstableTest, ReadsWhatLevelDbWrites) {
  TempDir dir;
  const Entries entries = SampleEntries(700, 1);
  struct Variant {
    leveldb::CompressionType compression;
    size_t block_size;
    int restart_interval;
  };
  int i = 0;
  for (Variant v :
       {Variant{leveldb::kNoCompression, 4096, 16}, Variant{leveldb::kNoCompression, 64, 1},
        Variant{leveldb::kNoCompression, 1 << 20, 1000},
        Variant{leveldb::kSnappyCompression, 4096, 16},
        Variant{leveldb::kSnappyCompression, 256, 3}}) {
    const std::string path = dir.Join("t" + std::to_string(i++));
    BuildWithLevelDb(path, entries, v.compression, v.block_size, v.restart_interval);
    ASSERT_OK_AND_ASSIGN(Entries got, ReadWithOurs(path));
    EXPECT_TRUE(got == entries) << path << " block_size " << v.block_size;
  }
}

TEST(SstableTest, LevelDbReadsWhatWriteTableWrites) {
  TempDir dir;
  const Entries entries = SampleEntries(1200, 2);
  const std::string path = dir.Join("ours");
  ASSERT_OK(WriteTable(path, entries));
  EXPECT_TRUE(ReadTableWithLevelDb(path) == entries);
  ASSERT_OK_AND_ASSIGN(Entries ours, ReadWithOurs(path));
  EXPECT_TRUE(ours == entries);

  // WriteTable is LevelDB's uncompressed format byte for byte.
  const std::string reference = dir.Join("reference");
  BuildWithLevelDb(reference, entries, leveldb::kNoCompression, 4096, 16);
  EXPECT_TRUE(ReadBytes(path) == ReadBytes(reference));
}

TEST(SstableTest, EmptyTable) {
  TempDir dir;
  const std::string path = dir.Join("empty");
  ASSERT_OK(WriteTable(path, {}));
  ASSERT_OK_AND_ASSIGN(Entries got, ReadWithOurs(path));
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(ReadTableWithLevelDb(path).empty());
}

TEST(SstableTest, VisitorErrorStopsTheWalk) {
  TempDir dir;
  const std::string path = dir.Join("t");
  ASSERT_OK(WriteTable(path, SampleEntries(100, 3)));
  ASSERT_OK_AND_ASSIGN(auto file, OpenRandomAccessFile(path));
  int visited = 0;
  absl::Status status = ForEachEntry(*file, [&](absl::string_view, absl::string_view) {
    return ++visited == 5 ? absl::CancelledError("stop here") : absl::OkStatus();
  });
  EXPECT_TRUE(IsError(status, absl::StatusCode::kCancelled, {"stop here"}));
  EXPECT_EQ(visited, 5);
}

TEST(SstableTest, WriteTableErrorNamesThePath) {
  TempDir dir;
  const std::string path = dir.Join("missing/t");
  absl::Status status = WriteTable(path, {{"a", "b"}});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), absl::string_view::npos) << status;
}

// A table of one data block, with bytes of that block, its compression type
// byte and its checksum damaged.
TEST(SstableTest, DamagedBlockTrailers) {
  TempDir dir;
  const std::string path = dir.Join("t");
  BuildWithLevelDb(path, {{"a", "1"}, {"b", "2"}}, leveldb::kNoCompression, 4096, 16);
  const std::string good = ReadBytes(path);
  // The single data block starts at 0 and ends, with its 5-byte trailer, where
  // the metaindex block (the footer's first handle) starts.
  ASSERT_GT(good.size(), 48u);
  uint64_t metaindex_offset = 0;
  for (int shift = 0, i = 0;; shift += 7, ++i) {
    uint8_t b = static_cast<uint8_t>(good[good.size() - 48 + static_cast<size_t>(i)]);
    metaindex_offset |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  ASSERT_GT(metaindex_offset, 5u);
  const size_t block_size = metaindex_offset - 5;

  auto open = [&](const std::string& bytes) {
    auto file = NewStringFile("table-name", bytes);
    return ReadWithOurs(*file).status();
  };
  ASSERT_OK(open(good));
  for (size_t pos = 0; pos < block_size + 5; ++pos) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    EXPECT_TRUE(IsError(open(bad), absl::StatusCode::kDataLoss, {"table-name"})) << pos;
  }

  // A compression type that is neither 0 nor 1, with a checksum that
  // matches, is refused as such.
  std::string odd = good;
  odd[block_size] = 7;
  uint32_t crc = crc32c::Mask(crc32c::Value(odd.data(), block_size + 1));
  std::memcpy(odd.data() + block_size + 1, &crc, 4);
  EXPECT_TRUE(IsError(open(odd), absl::StatusCode::kDataLoss, {"table-name", "compression"}));

  // Type 1 (snappy) over bytes that are not snappy.
  std::string fake_snappy = good;
  fake_snappy[block_size] = 1;
  crc = crc32c::Mask(crc32c::Value(fake_snappy.data(), block_size + 1));
  std::memcpy(fake_snappy.data() + block_size + 1, &crc, 4);
  EXPECT_TRUE(IsError(open(fake_snappy), absl::StatusCode::kDataLoss, {"table-name"}));
}

// ---------------------------------------------------------------- hand-made tables

// A block in LevelDB's format with a restart point at every entry.
std::string Block(const Entries& entries) {
  std::string out;
  std::vector<uint32_t> restarts;
  for (const auto& [key, value] : entries) {
    restarts.push_back(static_cast<uint32_t>(out.size()));
    out += Varint(0) + Varint(key.size()) + Varint(value.size()) + key + value;
  }
  for (uint32_t r : restarts) out.append(reinterpret_cast<const char*>(&r), 4);
  const uint32_t n = static_cast<uint32_t>(restarts.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  return out;
}

// Appends `contents` and its trailer to `file`; returns the block's handle.
std::string AppendBlock(std::string* file, const std::string& contents, char type = 0) {
  std::string handle = Varint(file->size()) + Varint(contents.size());
  *file += contents;
  *file += type;
  const uint32_t crc = crc32c::Mask(crc32c::Value(contents + type));
  file->append(reinterpret_cast<const char*>(&crc), 4);
  return handle;
}

void AppendFooter(std::string* file, const std::string& metaindex_handle,
                  const std::string& index_handle) {
  std::string footer = metaindex_handle + index_handle;
  footer.resize(40, '\0');
  const uint64_t magic = 0xdb4775248b80fb57ull;
  footer.append(reinterpret_cast<const char*>(&magic), 8);
  *file += footer;
}

// A table of the given data blocks whose index block lists `order` of them.
std::string MakeTable(const std::vector<std::string>& data_blocks,
                      const std::vector<size_t>& order) {
  std::string file;
  std::vector<std::string> handles;
  for (const std::string& block : data_blocks) handles.push_back(AppendBlock(&file, block));
  const std::string metaindex = AppendBlock(&file, Block({}));
  Entries index_entries;
  for (size_t i = 0; i < order.size(); ++i) {
    index_entries.emplace_back(std::string(1, static_cast<char>('a' + i)), handles[order[i]]);
  }
  const std::string index = AppendBlock(&file, Block(index_entries));
  AppendFooter(&file, metaindex, index);
  return file;
}

TEST(SstableTest, HandMadeTableReadsInBothReaders) {
  TempDir dir;
  const std::string path = dir.Join("hand");
  WriteBytes(path, MakeTable({Block({{"k1", "v1"}, {"k2", "v2"}}), Block({{"k3", ""}})}, {0, 1}));
  const Entries expected = {{"k1", "v1"}, {"k2", "v2"}, {"k3", ""}};
  EXPECT_TRUE(ReadTableWithLevelDb(path) == expected);
  ASSERT_OK_AND_ASSIGN(Entries ours, ReadWithOurs(path));
  EXPECT_TRUE(ours == expected);
}

TEST(SstableTest, IndexPointingTwiceAtOneBlockIsCorrupt) {
  // Every handle pointing at the same (large) block would make the reader go
  // over the same bytes again and again: quadratic work, a hang on a big
  // crafted file. Handles must be in file order and must not overlap.
  const std::vector<std::string> blocks = {Block({{"k1", std::string(1000, 'x')}}),
                                           Block({{"k2", "v2"}})};
  for (const std::vector<size_t>& order :
       {std::vector<size_t>{0, 0}, std::vector<size_t>{1, 0}, std::vector<size_t>{0, 1, 1}}) {
    auto file = NewStringFile("dup-table", MakeTable(blocks, order));
    EXPECT_TRUE(IsError(ReadWithOurs(*file).status(), absl::StatusCode::kDataLoss, {"dup-table"}))
        << order.size();
  }
}

TEST(SstableTest, SnappyBlockClaimingAHugeLength) {
  // A snappy block whose header claims 200 MiB but holds a few bytes.
  std::string file;
  const std::string data = AppendBlock(&file, Varint(200u << 20) + "not snappy at all", 1);
  const std::string metaindex = AppendBlock(&file, Block({}));
  const std::string index = AppendBlock(&file, Block({{"a", data}}));
  AppendFooter(&file, metaindex, index);
  auto table = NewStringFile("snappy-table", file);
  EXPECT_TRUE(IsError(ReadWithOurs(*table).status(), absl::StatusCode::kDataLoss,
                      {"snappy-table", "data block", "decompress"}));
}

TEST(SstableDeathTest, SnappyBlockClaimingAHugeLengthIsNotAllocated) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  std::string file;
  const std::string data = AppendBlock(&file, Varint(250u << 20) + "not snappy at all", 1);
  const std::string metaindex = AppendBlock(&file, Block({}));
  const std::string index = AppendBlock(&file, Block({{"a", data}}));
  AppendFooter(&file, metaindex, index);
  auto table = NewStringFile("snappy-table", file);
  EXPECT_TRUE_WITHIN_MEMORY(!ReadWithOurs(*table).ok(), 64 << 20);
}

}  // namespace
}  // namespace recship::sstable
