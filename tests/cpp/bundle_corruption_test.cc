// Corrupt tensor bundles. Every case must give a non-OK status whose message
// names the file at fault (and the tensor where there is one): never a crash,
// a hang or a huge allocation. Covers truncated and bit-flipped indexes, a
// wrong magic, flipped bytes in data shards (Read, Map, Verify, TensorStream),
// missing and truncated shards, and hand-made index entries that claim
// absurd sizes, offsets, shapes, string counts, shards, dtypes or headers.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "recship/format/tensor_bundle.h"
#include "recship/tensorflow/core/protobuf/tensor_bundle.pb.h"
#include "sstable.h"
#include "test_util.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using testing::IsAnyError;
using testing::IsError;
using testing::ReadBytes;
using testing::TempDir;
using testing::Varint;
using testing::WriteBytes;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

bool GetVarint(absl::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// A two-shard bundle: a float matrix on shard 0; a string tensor and an
// int64 vector on shard 1.
class CorruptBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = dir_.Join("model.ckpt-1");
    std::vector<float> emb(200 * 8);
    for (size_t i = 0; i < emb.size(); ++i) emb[i] = static_cast<float>(i) * 0.5f;
    auto writer = BundleWriter::Create(prefix_, {.num_shards = 2}).value();
    ASSERT_OK(writer->Add("emb", Tensor::FromVector<float>({200, 8}, emb), 0));
    ASSERT_OK(writer->Add("names", Tensor::FromStrings({3}, {"alpha", "", "gamma!"}), 1));
    ASSERT_OK(writer->Add("small", Tensor::FromVector<int64_t>({4}, {1, 2, 3, 4}), 1));
    ASSERT_OK(writer->Finish());
    index_path_ = BundleIndexPath(prefix_);
    index_ = ReadBytes(index_path_);
  }

  absl::Status OpenWithIndexBytes(const std::string& bytes) {
    auto file = NewStringFile(index_path_, bytes);
    return BundleReader::OpenWithIndex(prefix_, *file).status();
  }

  void FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0xff) {
    std::string bytes = ReadBytes(path);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] = static_cast<char>(bytes[offset] ^ static_cast<char>(mask));
    WriteBytes(path, bytes);
  }

  TempDir dir_;
  std::string prefix_;
  std::string index_path_;
  std::string index_;
};

TEST_F(CorruptBundleTest, TruncatedIndexAtEveryLength) {
  ASSERT_OK(OpenWithIndexBytes(index_));
  for (size_t n = 0; n < index_.size(); ++n) {
    EXPECT_TRUE(IsError(OpenWithIndexBytes(index_.substr(0, n)), absl::StatusCode::kDataLoss,
                        {index_path_}))
        << "truncated to " << n << " of " << index_.size() << " bytes";
  }
  // The same through real files.
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{47}, size_t{48}, index_.size() / 2, index_.size() - 1}) {
    WriteBytes(index_path_, index_.substr(0, n));
    EXPECT_TRUE(
        IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss, {index_path_}))
        << n;
  }
}

TEST_F(CorruptBundleTest, FlippedIndexBytes) {
  // Where the blocks are, from the footer: LevelDB writes the data blocks,
  // then the metaindex block, then the index block, then the 48-byte footer.
  ASSERT_GT(index_.size(), 48u);
  absl::string_view footer(index_.data() + index_.size() - 48, 48);
  uint64_t meta_offset, meta_size, index_offset, index_size;
  ASSERT_TRUE(GetVarint(&footer, &meta_offset) && GetVarint(&footer, &meta_size) &&
              GetVarint(&footer, &index_offset) && GetVarint(&footer, &index_size));
  const uint64_t index_end = index_offset + index_size + 5;
  ASSERT_EQ(index_end, index_.size() - 48);

  ASSERT_OK_AND_ASSIGN(auto good, BundleReader::Open(prefix_));
  for (uint8_t mask : {uint8_t{0xff}, uint8_t{0x01}, uint8_t{0x80}}) {
    for (size_t pos = 0; pos < index_.size(); ++pos) {
      std::string bad = index_;
      bad[pos] = static_cast<char>(bad[pos] ^ static_cast<char>(mask));
      auto file = NewStringFile(index_path_, bad);
      auto reader = BundleReader::OpenWithIndex(prefix_, *file);
      const bool in_checked_block = pos < meta_offset || (pos >= index_offset && pos < index_end);
      const bool in_magic = pos >= index_.size() - 8;
      if (in_checked_block || in_magic) {
        EXPECT_TRUE(IsError(reader.status(), absl::StatusCode::kDataLoss, {index_path_}))
            << "flip " << int{mask} << " at " << pos;
        continue;
      }
      // The metaindex block and the footer's padding are not needed to read
      // the index: a flip there may go unnoticed, but then it changes nothing.
      if (reader.ok()) {
        ASSERT_EQ((*reader)->entries().size(), good->entries().size()) << pos;
        for (size_t i = 0; i < good->entries().size(); ++i) {
          EXPECT_EQ((*reader)->entries()[i].name, good->entries()[i].name) << pos;
          EXPECT_EQ((*reader)->entries()[i].offset, good->entries()[i].offset) << pos;
          EXPECT_EQ((*reader)->entries()[i].masked_crc32c, good->entries()[i].masked_crc32c);
        }
      } else {
        EXPECT_TRUE(IsAnyError(reader.status(), {index_path_})) << pos;
      }
    }
  }
}

TEST_F(CorruptBundleTest, WrongMagic) {
  std::string bad = index_;
  bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] ^ 0x20);
  WriteBytes(index_path_, bad);
  EXPECT_TRUE(IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss,
                      {index_path_, "magic"}));
}

TEST_F(CorruptBundleTest, IndexThatIsNotATable) {
  for (const std::string& garbage :
       {std::string(), std::string("short"), testing::RandomBytes(48, 1),
        testing::RandomBytes(4096, 2), std::string(1000, '\0')}) {
    WriteBytes(index_path_, garbage);
    EXPECT_TRUE(
        IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss, {index_path_}))
        << garbage.size();
  }
}

TEST_F(CorruptBundleTest, FlippedByteInNumericDataShard) {
  const std::string shard0 = BundleDataPath(prefix_, 0, 2);
  FlipByte(shard0, 3333, 0x04);
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix_));
  const std::initializer_list<std::string> parts = {shard0, "'emb'", "crc32c"};
  EXPECT_TRUE(IsError(reader->Read("emb").status(), absl::StatusCode::kDataLoss, parts));
  EXPECT_TRUE(IsError(reader->Map("emb").status(), absl::StatusCode::kDataLoss, parts));
  EXPECT_TRUE(IsError(reader->Verify("emb"), absl::StatusCode::kDataLoss, parts));

  // A stream notices at its last byte, whatever the chunk sizes.
  for (uint64_t chunk : {uint64_t{1}, uint64_t{7}, uint64_t{32}, uint64_t{4096}, uint64_t{6400}}) {
    ASSERT_OK_AND_ASSIGN(TensorStream stream, reader->OpenStream("emb"));
    std::vector<char> buf(chunk);
    absl::Status status;
    while (stream.remaining_bytes() > 0) {
      uint64_t n = std::min(chunk, stream.remaining_bytes());
      status = stream.Read(n, buf.data());
      if (stream.remaining_bytes() > 0) {
        ASSERT_OK(status) << "chunk " << chunk;
      }
    }
    EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss, parts)) << "chunk " << chunk;
  }
  // The same through ReadRows on a stream.
  ASSERT_OK_AND_ASSIGN(TensorStream rows, reader->OpenStream("emb"));
  std::vector<float> out(200 * 8);
  ASSERT_OK(rows.ReadRows(100, out.data()));
  EXPECT_TRUE(IsError(rows.ReadRows(100, out.data() + 800), absl::StatusCode::kDataLoss, parts));

  // Tensors in the other shard are unaffected.
  EXPECT_OK(reader->Read("small").status());
  EXPECT_OK(reader->Verify("names"));
}

TEST_F(CorruptBundleTest, EveryFlippedByteOfATensorIsCaught) {
  const std::string shard1 = BundleDataPath(prefix_, 1, 2);
  const std::string original = ReadBytes(shard1);
  ASSERT_OK_AND_ASSIGN(auto good, BundleReader::Open(prefix_));
  for (const char* name : {"names", "small"}) {
    const BundleEntry* entry = good->Find(name);
    ASSERT_NE(entry, nullptr);
    for (uint64_t pos = entry->offset; pos < entry->offset + entry->size; ++pos) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        std::string bad = original;
        bad[pos] = static_cast<char>(bad[pos] ^ static_cast<char>(mask));
        WriteBytes(shard1, bad);
        ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix_));
        const std::initializer_list<std::string> parts = {shard1, absl::StrCat("'", name, "'")};
        EXPECT_TRUE(IsError(reader->Read(name).status(), absl::StatusCode::kDataLoss, parts))
            << name << " byte " << pos << " mask " << int{mask};
        EXPECT_TRUE(IsError(reader->Verify(name), absl::StatusCode::kDataLoss, parts))
            << name << " byte " << pos << " mask " << int{mask};
        if (std::string(name) == "small") {
          EXPECT_TRUE(IsError(reader->Map(name).status(), absl::StatusCode::kDataLoss, parts))
              << name << " byte " << pos << " mask " << int{mask};
        }
      }
    }
  }
}

TEST_F(CorruptBundleTest, MissingShardFile) {
  const std::string shard1 = BundleDataPath(prefix_, 1, 2);
  ASSERT_TRUE(fs::remove(shard1));
  // Shards open lazily: the bundle opens and shard 0 still reads.
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix_));
  EXPECT_OK(reader->Read("emb").status());
  EXPECT_TRUE(IsError(reader->Read("names").status(), absl::StatusCode::kNotFound, {shard1}));
  EXPECT_TRUE(IsError(reader->Map("small").status(), absl::StatusCode::kNotFound, {shard1}));
  EXPECT_TRUE(IsError(reader->Verify("small"), absl::StatusCode::kNotFound, {shard1}));
  EXPECT_TRUE(IsError(reader->OpenStream("small").status(), absl::StatusCode::kNotFound, {shard1}));
  int64_t row;
  EXPECT_TRUE(
      IsError(reader->ReadRows("small", 0, 1, &row), absl::StatusCode::kNotFound, {shard1}));
}

TEST_F(CorruptBundleTest, TruncatedShardFile) {
  const std::string shard0 = BundleDataPath(prefix_, 0, 2);
  fs::resize_file(shard0, 100);
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix_));
  const std::initializer_list<std::string> parts = {shard0, "'emb'", "6400"};
  EXPECT_TRUE(IsError(reader->Read("emb").status(), absl::StatusCode::kDataLoss, parts));
  EXPECT_TRUE(IsError(reader->Map("emb").status(), absl::StatusCode::kDataLoss, parts));
  EXPECT_TRUE(IsError(reader->Verify("emb"), absl::StatusCode::kDataLoss, parts));
  EXPECT_TRUE(IsError(reader->OpenStream("emb").status(), absl::StatusCode::kDataLoss, parts));
  float row[8];
  EXPECT_TRUE(IsError(reader->ReadRows("emb", 0, 1, row), absl::StatusCode::kDataLoss, parts));
}

// ---------------------------------------------------------------- crafted indexes

// Bundles whose .index is written by hand with sstable::WriteTable, next to
// a 64-byte data shard.
class CraftedIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = dir_.Join("crafted");
    index_path_ = BundleIndexPath(prefix_);
    data_path_ = BundleDataPath(prefix_, 0, 1);
    WriteBytes(data_path_, testing::RandomBytes(64, 3));
  }

  static tensorflow::BundleHeaderProto Header(int num_shards = 1) {
    tensorflow::BundleHeaderProto header;
    header.set_num_shards(num_shards);
    header.mutable_version()->set_producer(1);
    return header;
  }

  static tensorflow::BundleEntryProto Entry(DataType dtype, const TensorShape& shape,
                                            int64_t offset, int64_t size) {
    tensorflow::BundleEntryProto entry;
    entry.set_dtype(dtype);
    for (int64_t d : shape) entry.mutable_shape()->add_dim()->set_size(d);
    entry.set_offset(offset);
    entry.set_size(size);
    return entry;
  }

  // Writes the index (header under key "", then `entries` in order) and
  // opens the bundle.
  absl::StatusOr<std::unique_ptr<BundleReader>> Open(
      const std::vector<std::pair<std::string, tensorflow::BundleEntryProto>>& entries,
      const std::string& header_bytes) {
    std::vector<std::pair<std::string, std::string>> table;
    if (!header_bytes.empty()) table.emplace_back("", header_bytes);
    for (const auto& [name, entry] : entries) table.emplace_back(name, entry.SerializeAsString());
    absl::Status written = sstable::WriteTable(index_path_, table);
    if (!written.ok()) return written;
    return BundleReader::Open(prefix_);
  }
  absl::StatusOr<std::unique_ptr<BundleReader>> Open(const std::string& name,
                                                     const tensorflow::BundleEntryProto& entry) {
    return Open({{name, entry}}, Header().SerializeAsString());
  }

  // Every read path refuses tensor `name` with DataLoss naming the data file
  // and the tensor.
  void ExpectReadsRefused(const BundleReader& reader, const std::string& name, bool numeric) {
    const std::initializer_list<std::string> parts = {data_path_, "'" + name + "'"};
    EXPECT_TRUE(IsError(reader.Read(name).status(), absl::StatusCode::kDataLoss, parts));
    EXPECT_TRUE(IsError(reader.Verify(name), absl::StatusCode::kDataLoss, parts));
    if (numeric) {
      EXPECT_TRUE(IsError(reader.OpenStream(name).status(), absl::StatusCode::kDataLoss, parts));
      char row[64];
      EXPECT_TRUE(IsError(reader.ReadRows(name, 0, 1, row), absl::StatusCode::kDataLoss, parts));
    }
  }

  TempDir dir_;
  std::string prefix_;
  std::string index_path_;
  std::string data_path_;
};

TEST_F(CraftedIndexTest, AGoodHandMadeEntryReads) {
  tensorflow::BundleEntryProto entry = Entry(tensorflow::DT_INT32, {4}, 8, 16);
  const std::string bytes = ReadBytes(data_path_).substr(8, 16);
  entry.set_crc32c(crc32c::Mask(crc32c::Value(bytes)));
  ASSERT_OK_AND_ASSIGN(auto reader, Open("t", entry));
  ASSERT_OK_AND_ASSIGN(Tensor t, reader->Read("t"));
  EXPECT_EQ(std::memcmp(t.data(), bytes.data(), 16), 0);
  // The same entry with a wrong crc.
  entry.set_crc32c(entry.crc32c() ^ 1);
  ASSERT_OK_AND_ASSIGN(auto bad, Open("t", entry));
  EXPECT_TRUE(IsError(bad->Read("t").status(), absl::StatusCode::kDataLoss, {data_path_, "'t'"}));
}

TEST_F(CraftedIndexTest, AbsurdSizeConsistentWithShape) {
  // 2^58 floats = 2^60 bytes: a consistent entry, so the index opens, but no
  // read may believe it (or allocate it).
  ASSERT_OK_AND_ASSIGN(auto reader, Open("huge", Entry(tensorflow::DT_FLOAT, {int64_t{1} << 58}, 0,
                                                       int64_t{1} << 60)));
  ExpectReadsRefused(*reader, "huge", /*numeric=*/true);
}

TEST_F(CraftedIndexTest, SizeThatDisagreesWithShape) {
  absl::Status status =
      Open("liar", Entry(tensorflow::DT_FLOAT, {2}, 0, int64_t{1} << 60)).status();
  EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss, {index_path_, "'liar'"}));
  status = Open("liar", Entry(tensorflow::DT_INT64, {3}, 0, 23)).status();
  EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss, {index_path_, "'liar'"}));
}

TEST_F(CraftedIndexTest, OffsetBeyondTheFile) {
  for (int64_t offset :
       {int64_t{57}, int64_t{64}, int64_t{65}, int64_t{1} << 40, kInt64Max - 4, kInt64Max}) {
    ASSERT_OK_AND_ASSIGN(auto reader, Open("far", Entry(tensorflow::DT_INT64, {1}, offset, 8)));
    ExpectReadsRefused(*reader, "far", /*numeric=*/true);
  }
}

TEST_F(CraftedIndexTest, NegativeOffsetOrSize) {
  EXPECT_TRUE(IsError(Open("neg", Entry(tensorflow::DT_INT64, {1}, -8, 8)).status(),
                      absl::StatusCode::kDataLoss, {index_path_, "'neg'"}));
  EXPECT_TRUE(IsError(Open("neg", Entry(tensorflow::DT_INT64, {0}, 0, -1)).status(),
                      absl::StatusCode::kDataLoss, {index_path_, "'neg'"}));
}

TEST_F(CraftedIndexTest, ShapesWithHugeOrBadDimensions) {
  for (const TensorShape& shape :
       {TensorShape{int64_t{1} << 40, int64_t{1} << 40}, TensorShape{kInt64Max, 2}, TensorShape{-1},
        TensorShape{4, -7}}) {
    EXPECT_TRUE(IsError(Open("shape", Entry(tensorflow::DT_FLOAT, shape, 0, 16)).status(),
                        absl::StatusCode::kDataLoss, {index_path_, "'shape'"}))
        << ShapeToString(shape);
  }
  tensorflow::BundleEntryProto unknown_rank = Entry(tensorflow::DT_FLOAT, {}, 0, 4);
  unknown_rank.mutable_shape()->set_unknown_rank(true);
  EXPECT_TRUE(IsError(Open("rank", unknown_rank).status(), absl::StatusCode::kDataLoss,
                      {index_path_, "'rank'"}));
}

TEST_F(CraftedIndexTest, StringTensorWithAbsurdElementCount) {
  // More strings than bytes: rejected when the index is read.
  EXPECT_TRUE(IsError(Open("s", Entry(tensorflow::DT_STRING, {int64_t{1} << 40}, 0, 100)).status(),
                      absl::StatusCode::kDataLoss, {index_path_, "'s'"}));
  EXPECT_TRUE(IsError(Open("s", Entry(tensorflow::DT_STRING, {kInt64Max}, 0, 64)).status(),
                      absl::StatusCode::kDataLoss, {index_path_, "'s'"}));
  // Too small to hold the length checksum.
  EXPECT_TRUE(IsError(Open("s", Entry(tensorflow::DT_STRING, {0}, 0, 3)).status(),
                      absl::StatusCode::kDataLoss, {index_path_, "'s'"}));
  // Plausible in the index, absurd against the file: refused before any
  // buffer for 2^50 strings is made.
  ASSERT_OK_AND_ASSIGN(auto reader, Open("s", Entry(tensorflow::DT_STRING, {int64_t{1} << 50}, 0,
                                                    int64_t{1} << 52)));
  ExpectReadsRefused(*reader, "s", /*numeric=*/false);
  EXPECT_TRUE(IsError(reader->OpenStream("s").status(), absl::StatusCode::kInvalidArgument));
}

TEST_F(CraftedIndexTest, ClaimsWithinReachOfTheAllocatorAreNotAllocated) {
  // 1 GiB claims (2^26 strings, 2^28 floats) that an allocator might grant:
  // reading them from a 64-byte shard must fail without trying. The child
  // process may grow by 64 MiB at most.
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  ASSERT_OK_AND_ASSIGN(auto strings, Open("s", Entry(tensorflow::DT_STRING, {int64_t{1} << 26}, 0,
                                                     int64_t{1} << 30)));
  EXPECT_TRUE_WITHIN_MEMORY(!strings->Read("s").ok() && !strings->Verify("s").ok(), 64 << 20);
  ASSERT_OK_AND_ASSIGN(
      auto floats, Open("f", Entry(tensorflow::DT_FLOAT, {int64_t{1} << 28}, 0, int64_t{1} << 30)));
  EXPECT_TRUE_WITHIN_MEMORY(!floats->Read("f").ok() && !floats->Verify("f").ok(), 64 << 20);
}

TEST_F(CraftedIndexTest, StringTensorWithBadLengths) {
  // One string whose varint length claims 2^60 bytes.
  {
    std::string data = Varint(uint64_t{1} << 60) + std::string(4, '\0') + "abc";
    WriteBytes(data_path_, data);
    ASSERT_OK_AND_ASSIGN(auto reader, Open("s", Entry(tensorflow::DT_STRING, {1}, 0,
                                                      static_cast<int64_t>(data.size()))));
    EXPECT_TRUE(
        IsError(reader->Read("s").status(), absl::StatusCode::kDataLoss, {data_path_, "'s'"}));
  }
  // A varint that never ends.
  {
    std::string data(20, '\xff');
    WriteBytes(data_path_, data);
    ASSERT_OK_AND_ASSIGN(auto reader, Open("s", Entry(tensorflow::DT_STRING, {2}, 0, 20)));
    EXPECT_TRUE(
        IsError(reader->Read("s").status(), absl::StatusCode::kDataLoss, {data_path_, "'s'"}));
  }
  // Lengths with a correct checksum that do not add up to the bytes stored.
  {
    const uint32_t length = 1;
    const uint32_t masked = crc32c::Mask(crc32c::Value(&length, 4));
    std::string data = Varint(1) + std::string(reinterpret_cast<const char*>(&masked), 4) + "abc";
    WriteBytes(data_path_, data);
    ASSERT_OK_AND_ASSIGN(auto reader, Open("s", Entry(tensorflow::DT_STRING, {1}, 0,
                                                      static_cast<int64_t>(data.size()))));
    EXPECT_TRUE(
        IsError(reader->Read("s").status(), absl::StatusCode::kDataLoss, {data_path_, "'s'"}));
  }
}

TEST_F(CraftedIndexTest, ShardOutOfRange) {
  for (int shard : {1, 7, -1}) {
    tensorflow::BundleEntryProto entry = Entry(tensorflow::DT_INT64, {1}, 0, 8);
    entry.set_shard_id(shard);
    EXPECT_TRUE(
        IsError(Open("t", entry).status(), absl::StatusCode::kDataLoss, {index_path_, "'t'"}))
        << shard;
  }
}

TEST_F(CraftedIndexTest, DtypesRecshipDoesNotRead) {
  for (int dtype :
       {static_cast<int>(tensorflow::DT_RESOURCE), static_cast<int>(tensorflow::DT_VARIANT), 200}) {
    ASSERT_OK_AND_ASSIGN(auto reader, Open("odd", Entry(static_cast<DataType>(dtype), {1}, 0, 8)));
    EXPECT_TRUE(IsAnyError(reader->Read("odd").status(), {"'odd'", prefix_})) << dtype;
    EXPECT_TRUE(IsAnyError(reader->Verify("odd"), {"'odd'"})) << dtype;
    EXPECT_TRUE(IsAnyError(reader->OpenStream("odd").status(), {"'odd'"})) << dtype;
  }
}

TEST_F(CraftedIndexTest, UnparseableEntryAndSlices) {
  std::vector<std::pair<std::string, std::string>> table = {
      {"", Header().SerializeAsString()}, {"broken", std::string("\xff\xff\xff\xff", 4)}};
  ASSERT_OK(sstable::WriteTable(index_path_, table));
  EXPECT_TRUE(IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss,
                      {index_path_, "'broken'"}));

  tensorflow::BundleEntryProto sliced = Entry(tensorflow::DT_FLOAT, {4}, 0, 16);
  sliced.add_slices();
  EXPECT_TRUE(IsError(Open("sliced", sliced).status(), absl::StatusCode::kUnimplemented,
                      {index_path_, "'sliced'"}));
}

TEST_F(CraftedIndexTest, BadHeaders) {
  const tensorflow::BundleEntryProto entry = Entry(tensorflow::DT_INT64, {1}, 0, 8);
  for (int num_shards : {0, -5, 1 << 30}) {
    EXPECT_TRUE(IsError(Open({{"t", entry}}, Header(num_shards).SerializeAsString()).status(),
                        absl::StatusCode::kDataLoss, {index_path_, std::to_string(num_shards)}))
        << num_shards;
  }
  // A header that is all defaults serializes to nothing: num_shards 0.
  tensorflow::BundleHeaderProto empty;
  std::vector<std::pair<std::string, std::string>> table = {{"", empty.SerializeAsString()},
                                                            {"t", entry.SerializeAsString()}};
  ASSERT_OK(sstable::WriteTable(index_path_, table));
  EXPECT_TRUE(
      IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss, {index_path_}));

  table = {{"", std::string("\xff\xff\xff", 3)}, {"t", entry.SerializeAsString()}};
  ASSERT_OK(sstable::WriteTable(index_path_, table));
  EXPECT_TRUE(IsError(BundleReader::Open(prefix_).status(), absl::StatusCode::kDataLoss,
                      {index_path_, "header"}));

  // No header entry at all, and an empty table.
  EXPECT_TRUE(IsError(Open({{"t", entry}}, "").status(), absl::StatusCode::kDataLoss,
                      {index_path_, "header"}));
  EXPECT_TRUE(IsError(Open({}, "").status(), absl::StatusCode::kDataLoss, {index_path_, "header"}));

  tensorflow::BundleHeaderProto big_endian = Header();
  big_endian.set_endianness(tensorflow::BundleHeaderProto::BIG);
  EXPECT_TRUE(IsError(Open({{"t", entry}}, big_endian.SerializeAsString()).status(),
                      absl::StatusCode::kUnimplemented, {index_path_}));
}

}  // namespace
}  // namespace recship
