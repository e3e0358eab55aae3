// format/tensor_bundle.h round trips: every storable dtype, half as uint16
// bits, bool, strings, scalars, empty tensors and zero-length dimensions,
// multi-shard bundles, streamed writes, TensorStream and ReadRows, Verify,
// Lookup, the writer's errors and cleanup, and WriteBundleIndex over
// existing data shards. Interop: a bundle TensorFlow's SaveV2 wrote
// (testdata/) is read and reproduced byte for byte; our .index opens with
// LevelDB's own leveldb::Table; our reader accepts an index whose blocks
// LevelDB compressed with snappy, as older TensorFlow wrote them.
#include "recship/format/tensor_bundle.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <thread>
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
#include "recship/tensorflow/core/protobuf/tensor_bundle.pb.h"
#include "test_util.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using testing::Exists;
using testing::IsAnyError;
using testing::IsError;
using testing::ListDir;
using testing::RandomBytes;
using testing::ReadBytes;
using testing::ReadTableWithLevelDb;
using testing::TempDir;
using testing::TestDataPath;
using testing::WriteBytes;

// A tensor of `dtype` and `shape` filled with pseudo-random bytes (bools are
// 0 or 1, as TensorFlow stores them).
Tensor RandomTensor(DataType dtype, TensorShape shape, uint32_t seed) {
  Tensor t = Tensor::Create(dtype, std::move(shape)).value();
  std::string bytes = RandomBytes(t.byte_size(), seed);
  if (dtype == tensorflow::DT_BOOL) {
    for (char& c : bytes) c = static_cast<char>(c & 1);
  }
  if (!bytes.empty()) std::memcpy(t.data(), bytes.data(), bytes.size());
  return t;
}

std::string TensorBytes(const Tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data()), t.byte_size());
}

absl::Status WriteBundle(const std::string& prefix,
                         const std::vector<std::pair<std::string, Tensor>>& tensors) {
  auto writer = BundleWriter::Create(prefix);
  if (!writer.ok()) return writer.status();
  for (const auto& [name, tensor] : tensors) {
    absl::Status s = (*writer)->Add(name, tensor);
    if (!s.ok()) return s;
  }
  return (*writer)->Finish();
}

// Writes `entries` (sorted) as a LevelDB table with the given compression.
void WriteTableWithLevelDb(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& entries,
                           leveldb::CompressionType compression) {
  leveldb::WritableFile* raw_file = nullptr;
  ASSERT_TRUE(leveldb::Env::Default()->NewWritableFile(path, &raw_file).ok());
  std::unique_ptr<leveldb::WritableFile> file(raw_file);
  leveldb::Options options;
  options.compression = compression;
  leveldb::TableBuilder builder(options, file.get());
  for (const auto& [key, value] : entries) builder.Add(key, value);
  ASSERT_TRUE(builder.Finish().ok());
  ASSERT_TRUE(file->Close().ok());
}

TEST(BundleTest, PathNames) {
  EXPECT_EQ(BundleIndexPath("/a/model.ckpt-5"), "/a/model.ckpt-5.index");
  EXPECT_EQ(BundleDataPath("/a/model.ckpt-5", 0, 1), "/a/model.ckpt-5.data-00000-of-00001");
  EXPECT_EQ(BundleDataPath("p", 3, 12), "p.data-00003-of-00012");
  EXPECT_EQ(BundleDataPath("p", 12345, 99999), "p.data-12345-of-99999");
}

TEST(BundleTest, RoundTripsEveryStorableDtype) {
  const DataType dtypes[] = {
      tensorflow::DT_FLOAT,    tensorflow::DT_DOUBLE,   tensorflow::DT_INT32, tensorflow::DT_UINT8,
      tensorflow::DT_INT16,    tensorflow::DT_INT8,     tensorflow::DT_INT64, tensorflow::DT_BOOL,
      tensorflow::DT_BFLOAT16, tensorflow::DT_UINT16,   tensorflow::DT_HALF,  tensorflow::DT_UINT32,
      tensorflow::DT_UINT64,   tensorflow::DT_COMPLEX64};
  TempDir dir;
  const std::string prefix = dir.Join("model.ckpt-1");
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint32_t seed = 100;
  for (DataType dtype : dtypes) {
    tensors.emplace_back("t_" + DataTypeName(dtype), RandomTensor(dtype, {3, 5}, seed++));
  }
  ASSERT_OK(WriteBundle(prefix, tensors));
  EXPECT_EQ(ListDir(dir.path()),
            (std::vector<std::string>{"model.ckpt-1.data-00000-of-00001", "model.ckpt-1.index"}));

  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  EXPECT_EQ(reader->num_shards(), 1);
  ASSERT_EQ(reader->entries().size(), tensors.size());
  for (size_t i = 1; i < reader->entries().size(); ++i) {
    EXPECT_LT(reader->entries()[i - 1].name, reader->entries()[i].name);
  }
  for (const auto& [name, tensor] : tensors) {
    ASSERT_OK_AND_ASSIGN(const BundleEntry* entry, reader->Lookup(name));
    EXPECT_EQ(entry->dtype, tensor.dtype()) << name;
    EXPECT_EQ(entry->shape, (TensorShape{3, 5})) << name;
    EXPECT_EQ(entry->size, 15 * DataTypeSize(tensor.dtype())) << name;
    EXPECT_EQ(entry->masked_crc32c, crc32c::Mask(crc32c::Value(TensorBytes(tensor)))) << name;
    ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read(name));
    EXPECT_EQ(read.dtype(), tensor.dtype()) << name;
    EXPECT_EQ(read.shape(), tensor.shape()) << name;
    EXPECT_TRUE(TensorBytes(read) == TensorBytes(tensor)) << name;
    EXPECT_TRUE(read.Equals(tensor)) << name;
    EXPECT_OK(reader->Verify(name));
  }
}

TEST(BundleTest, DataFileIsRawLittleEndianInAddOrder) {
  TempDir dir;
  const std::string prefix = dir.Join("b");
  // Added out of name order: data follow Add order, entries are sorted.
  ASSERT_OK(WriteBundle(prefix, {{"z", Tensor::FromVector<float>({2}, {1.0f, -2.0f})},
                                 {"a", Tensor::FromVector<int32_t>({}, {0x01020304})}}));
  const std::string data = ReadBytes(BundleDataPath(prefix, 0, 1));
  EXPECT_EQ(data, std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0\x04\x03\x02\x01", 12));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_EQ(reader->entries().size(), 2u);
  EXPECT_EQ(reader->entries()[0].name, "a");
  EXPECT_EQ(reader->entries()[0].offset, 8u);
  EXPECT_EQ(reader->entries()[0].size, 4u);
  EXPECT_EQ(reader->entries()[1].name, "z");
  EXPECT_EQ(reader->entries()[1].offset, 0u);
  EXPECT_EQ(reader->entries()[1].size, 8u);
  EXPECT_EQ(reader->entries()[1].masked_crc32c, crc32c::Mask(crc32c::Value(data.substr(0, 8))));
}

// With data_alignment 8 every numeric tensor starts at a multiple of 8,
// zeros between, and reads back (and maps) as written; strings are packed.
TEST(BundleTest, DataAlignmentPadsNumericTensorsWithZeros) {
  TempDir dir;
  const std::string prefix = dir.Join("a");
  ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.data_alignment = 8}));
  ASSERT_OK(writer->Add("a_odd", Tensor::FromVector<float>({3}, {1, 2, 3})));
  ASSERT_OK(writer->Add("b_keys", Tensor::FromVector<int64_t>({2}, {-7, 9})));
  ASSERT_OK(writer->Add("c_half", Tensor::Create(tensorflow::DT_HALF, {1}).value()));
  ASSERT_OK(writer->Add("d_keys", Tensor::FromVector<int64_t>({1}, {5})));
  ASSERT_OK(writer->Finish());
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  EXPECT_EQ(reader->Find("b_keys")->offset, 16u);
  EXPECT_EQ(reader->Find("c_half")->offset, 32u);
  EXPECT_EQ(reader->Find("d_keys")->offset, 40u);
  const std::string data = ReadBytes(BundleDataPath(prefix, 0, 1));
  EXPECT_EQ(data.substr(12, 4), std::string(4, '\0'));
  ASSERT_OK_AND_ASSIGN(Tensor keys, reader->Map("b_keys"));
  EXPECT_TRUE(keys.is_view());
  EXPECT_EQ(keys.flat<int64_t>()[0], -7);
  ASSERT_OK_AND_ASSIGN(Tensor last, reader->Read("d_keys"));
  EXPECT_EQ(last.flat<int64_t>()[0], 5);
}

TEST(BundleTest, HalfIsStoredAsItsUint16Bits) {
  TempDir dir;
  const std::string prefix = dir.Join("h");
  // 1.0, -2.5, +inf, a quiet NaN, the smallest subnormal, -0.0.
  const std::vector<uint16_t> bits = {0x3c00, 0xc100, 0x7c00, 0x7e00, 0x0001, 0x8000};
  Tensor half = Tensor::Create(tensorflow::DT_HALF, {6}).value();
  std::copy(bits.begin(), bits.end(), half.flat<uint16_t>().begin());
  Tensor bf16 = Tensor::Create(tensorflow::DT_BFLOAT16, {2}).value();
  bf16.flat<uint16_t>()[0] = 0x3f80;  // 1.0
  bf16.flat<uint16_t>()[1] = 0xc020;  // -2.5
  ASSERT_OK(WriteBundle(prefix, {{"half", half}, {"bf16", bf16}}));
  EXPECT_EQ(ReadBytes(BundleDataPath(prefix, 0, 1)),
            std::string("\x00\x3c\x00\xc1\x00\x7c\x00\x7e\x01\x00\x00\x80\x80\x3f\x20\xc0", 16));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read("half"));
  EXPECT_EQ(read.dtype(), tensorflow::DT_HALF);
  EXPECT_EQ(std::vector<uint16_t>(read.flat<uint16_t>().begin(), read.flat<uint16_t>().end()),
            bits);
  ASSERT_OK_AND_ASSIGN(Tensor read_bf16, reader->Read("bf16"));
  EXPECT_EQ(read_bf16.dtype(), tensorflow::DT_BFLOAT16);
  EXPECT_EQ(read_bf16.flat<uint16_t>()[1], 0xc020);
}

TEST(BundleTest, BoolIsOneBytePerElement) {
  TempDir dir;
  const std::string prefix = dir.Join("b");
  ASSERT_OK(WriteBundle(prefix,
                        {{"flags", Tensor::FromVector<bool>({2, 2}, {true, false, false, true})}}));
  EXPECT_EQ(ReadBytes(BundleDataPath(prefix, 0, 1)), std::string("\x01\x00\x00\x01", 4));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read("flags"));
  EXPECT_EQ(read.dtype(), tensorflow::DT_BOOL);
  EXPECT_TRUE(read.flat<bool>()[0]);
  EXPECT_FALSE(read.flat<bool>()[1]);
  EXPECT_FALSE(read.flat<bool>()[2]);
  EXPECT_TRUE(read.flat<bool>()[3]);
}

TEST(BundleTest, StringLayoutMatchesTensorFlow) {
  // varint64 lengths, masked crc32c of the lengths fed as uint32 LE, then the
  // bytes; the entry crc covers the length integers, the 4 stored crc bytes
  // and the string bytes (tensor_bundle.cc, WriteStringTensor).
  TempDir dir;
  const std::string prefix = dir.Join("s");
  const std::string long_string(300, 'q');  // Its length takes a 2-byte varint.
  ASSERT_OK(WriteBundle(prefix, {{"s", Tensor::FromStrings({3}, {"ab", "", long_string})}}));

  const uint32_t lengths[3] = {2, 0, 300};
  const uint32_t length_crc = crc32c::Value(lengths, sizeof(lengths));
  const uint32_t masked_length_crc = crc32c::Mask(length_crc);
  std::string expected("\x02\x00\xac\x02", 4);
  expected.append(reinterpret_cast<const char*>(&masked_length_crc), 4);
  expected += "ab" + long_string;
  EXPECT_TRUE(ReadBytes(BundleDataPath(prefix, 0, 1)) == expected);

  uint32_t entry_crc = crc32c::Extend(length_crc, &masked_length_crc, 4);
  entry_crc = crc32c::Extend(entry_crc, ("ab" + long_string).data(), 302);
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_OK_AND_ASSIGN(const BundleEntry* entry, reader->Lookup("s"));
  EXPECT_EQ(entry->dtype, tensorflow::DT_STRING);
  EXPECT_EQ(entry->size, expected.size());
  EXPECT_EQ(entry->masked_crc32c, crc32c::Mask(entry_crc));
}

TEST(BundleTest, StringRoundTrips) {
  TempDir dir;
  const std::string prefix = dir.Join("s");
  // Every byte value on its own, NULs inside strings, lengths at varint
  // boundaries, and many strings.
  std::vector<std::string> binary;
  for (int b = 0; b < 256; ++b) binary.push_back(std::string(1, static_cast<char>(b)));
  binary.push_back(std::string("a\0b\0", 4));
  binary.push_back(RandomBytes(1000, 5));
  std::vector<std::string> many;
  for (int i = 0; i < 20000; ++i)
    many.push_back(std::string(static_cast<size_t>(i % 200), 'a' + i % 26));
  for (size_t n : {size_t{127}, size_t{128}, size_t{16383}, size_t{16384}, size_t{70000}}) {
    many.push_back(RandomBytes(n, static_cast<uint32_t>(n)));
  }
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"empty_strings", Tensor::FromStrings({4}, {"", "", "", ""})},
      {"binary", Tensor::FromStrings({static_cast<int64_t>(binary.size())}, binary)},
      {"many", Tensor::FromStrings({static_cast<int64_t>(many.size())}, many)},
      {"scalar", Tensor::FromStrings({}, {"only"})},
      {"scalar_empty", Tensor::FromStrings({}, {""})},
      {"matrix", Tensor::FromStrings({2, 2}, {"a", "bb", "", "dddd"})},
      {"no_elements", Tensor::FromStrings({0}, {})},
      {"zero_dim", Tensor::FromStrings({2, 0}, {})},
  };
  ASSERT_OK(WriteBundle(prefix, tensors));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  for (const auto& [name, tensor] : tensors) {
    ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read(name));
    EXPECT_EQ(read.dtype(), tensorflow::DT_STRING) << name;
    EXPECT_EQ(read.shape(), tensor.shape()) << name;
    EXPECT_TRUE(read.strings() == tensor.strings()) << name;
    EXPECT_OK(reader->Verify(name));
  }
  // A string tensor with no elements still stores the 4-byte length crc.
  EXPECT_EQ(reader->Find("no_elements")->size, 4u);
}

TEST(BundleTest, ScalarsEmptyTensorsAndZeroLengthDimensions) {
  TempDir dir;
  const std::string prefix = dir.Join("e");
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32_scalar", Tensor::FromVector<float>({}, {3.25f})},
      {"i64_scalar", Tensor::FromVector<int64_t>({}, {-7})},
      {"bool_scalar", Tensor::FromVector<bool>({}, {true})},
      {"empty_1d", Tensor::Create(tensorflow::DT_FLOAT, {0}).value()},
      {"empty_rows", Tensor::Create(tensorflow::DT_INT64, {0, 8}).value()},
      {"empty_cols", Tensor::Create(tensorflow::DT_DOUBLE, {5, 0}).value()},
      {"empty_3d", Tensor::Create(tensorflow::DT_INT32, {2, 0, 3}).value()},
      {"after", Tensor::FromVector<int32_t>({2}, {11, 22})},
  };
  ASSERT_OK(WriteBundle(prefix, tensors));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  for (const auto& [name, tensor] : tensors) {
    ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read(name));
    EXPECT_TRUE(read.Equals(tensor)) << name;
    EXPECT_EQ(reader->Find(name)->size, tensor.byte_size()) << name;
    EXPECT_OK(reader->Verify(name));
  }
  ASSERT_OK_AND_ASSIGN(Tensor scalar, reader->Read("f32_scalar"));
  EXPECT_TRUE(scalar.shape().empty());
  EXPECT_EQ(scalar.flat<float>()[0], 3.25f);

  // Streams and row reads work on them too.
  ASSERT_OK_AND_ASSIGN(TensorStream empty_stream, reader->OpenStream("empty_rows"));
  EXPECT_EQ(empty_stream.remaining_bytes(), 0u);
  EXPECT_EQ(empty_stream.row_bytes(), 64u);
  EXPECT_OK(empty_stream.Read(0, nullptr));
  EXPECT_OK(empty_stream.ReadRows(0, nullptr));
  EXPECT_TRUE(IsError(empty_stream.ReadRows(1, nullptr), absl::StatusCode::kOutOfRange));
  ASSERT_OK_AND_ASSIGN(TensorStream cols, reader->OpenStream("empty_cols"));
  EXPECT_EQ(cols.row_bytes(), 0u);
  EXPECT_OK(cols.ReadRows(5, nullptr));
  EXPECT_OK(reader->ReadRows("empty_cols", 0, 5, nullptr));
  EXPECT_OK(reader->ReadRows("empty_rows", 0, 0, nullptr));
  EXPECT_TRUE(
      IsError(reader->ReadRows("empty_rows", 0, 1, nullptr), absl::StatusCode::kOutOfRange));
  int64_t value = 0;
  ASSERT_OK(reader->ReadRows("i64_scalar", 0, 1, &value));
  EXPECT_EQ(value, -7);
}

TEST(BundleTest, MultiShardBundle) {
  TempDir dir;
  const std::string prefix = dir.Join("model.ckpt-7");
  const Tensor a = RandomTensor(tensorflow::DT_FLOAT, {100, 4}, 1);
  const Tensor b = RandomTensor(tensorflow::DT_INT64, {33}, 2);
  const Tensor c = Tensor::FromStrings({2}, {"x", "yy"});
  const Tensor d = RandomTensor(tensorflow::DT_DOUBLE, {7}, 3);
  {
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.num_shards = 4}));
    EXPECT_EQ(writer->prefix(), prefix);
    ASSERT_OK(writer->Add("a", a, 0));
    ASSERT_OK(writer->Add("b", b, 2));
    ASSERT_OK(writer->Add("c", c, 2));
    ASSERT_OK(writer->Add("d", d, 3));
    ASSERT_OK(writer->Finish());
  }
  // Every shard file exists, shard 1 (which got no tensor) empty.
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{
                                     "model.ckpt-7.data-00000-of-00004",
                                     "model.ckpt-7.data-00001-of-00004",
                                     "model.ckpt-7.data-00002-of-00004",
                                     "model.ckpt-7.data-00003-of-00004",
                                     "model.ckpt-7.index",
                                 }));
  EXPECT_EQ(fs::file_size(BundleDataPath(prefix, 0, 4)), a.byte_size());
  EXPECT_EQ(fs::file_size(BundleDataPath(prefix, 1, 4)), 0u);
  EXPECT_EQ(fs::file_size(BundleDataPath(prefix, 3, 4)), d.byte_size());

  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  EXPECT_EQ(reader->num_shards(), 4);
  EXPECT_EQ(reader->Find("a")->shard_id, 0);
  EXPECT_EQ(reader->Find("b")->shard_id, 2);
  EXPECT_EQ(reader->Find("c")->shard_id, 2);
  EXPECT_EQ(reader->Find("c")->offset, b.byte_size());
  EXPECT_EQ(reader->Find("d")->shard_id, 3);
  EXPECT_EQ(reader->Find("d")->offset, 0u);
  for (const auto& [name, tensor] :
       std::vector<std::pair<std::string, Tensor>>{{"a", a}, {"b", b}, {"c", c}, {"d", d}}) {
    ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read(name));
    EXPECT_TRUE(read.Equals(tensor)) << name;
  }
}

TEST(BundleTest, ReaderIsSafeFromManyThreads) {
  TempDir dir;
  const std::string prefix = dir.Join("p");
  std::vector<Tensor> tensors;
  {
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.num_shards = 3}));
    for (int i = 0; i < 12; ++i) {
      tensors.push_back(RandomTensor(tensorflow::DT_FLOAT, {50, 3}, static_cast<uint32_t>(i)));
      ASSERT_OK(writer->Add(absl::StrFormat("t%02d", i), tensors.back(), i % 3));
    }
    ASSERT_OK(writer->Finish());
  }
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 12; ++i) {
          auto read = reader->Read(absl::StrFormat("t%02d", (i + t) % 12));
          if (!read.ok() || !read->Equals(tensors[static_cast<size_t>((i + t) % 12)])) {
            ++failures[static_cast<size_t>(t)];
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(BundleTest, StreamedWritesEqualWholeWritesByteForByte) {
  TempDir dir;
  // Over 3 MiB, so chunks cross the 1 MiB write buffer in every way.
  const Tensor big = RandomTensor(tensorflow::DT_FLOAT, {270001, 3}, 11);
  const Tensor before = RandomTensor(tensorflow::DT_INT8, {13}, 12);
  const Tensor after = RandomTensor(tensorflow::DT_UINT16, {5, 5}, 13);
  const std::string whole = dir.Join("whole");
  ASSERT_OK(WriteBundle(whole, {{"before", before}, {"big", big}, {"after", after}}));

  const size_t chunk_sizes[][4] = {
      {1, 3, 7, 4097}, {(1 << 20) + 1, 65536, 5, 1 << 20}, {999983, 1, 2, 3}};
  for (size_t variant = 0; variant < std::size(chunk_sizes); ++variant) {
    const std::string streamed = dir.Join("streamed" + std::to_string(variant));
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(streamed));
    ASSERT_OK(writer->Add("before", before));
    ASSERT_OK(writer->BeginTensor("big", tensorflow::DT_FLOAT, {270001, 3}));
    const std::string bytes = TensorBytes(big);
    size_t pos = 0;
    for (size_t i = 0; pos < bytes.size(); ++i) {
      size_t n = std::min(chunk_sizes[variant][i % 4], bytes.size() - pos);
      ASSERT_OK(writer->Append(absl::string_view(bytes).substr(pos, n)));
      pos += n;
    }
    ASSERT_OK(writer->Append(""));
    ASSERT_OK(writer->EndTensor());
    // A streamed numeric tensor of small size works the same.
    ASSERT_OK(writer->BeginTensor("after", tensorflow::DT_UINT16, {5, 5}));
    ASSERT_OK(writer->Append(TensorBytes(after)));
    ASSERT_OK(writer->EndTensor());
    ASSERT_OK(writer->Finish());
    EXPECT_TRUE(ReadBytes(BundleIndexPath(streamed)) == ReadBytes(BundleIndexPath(whole)))
        << "variant " << variant;
    EXPECT_TRUE(ReadBytes(BundleDataPath(streamed, 0, 1)) == ReadBytes(BundleDataPath(whole, 0, 1)))
        << "variant " << variant;
  }
}

TEST(BundleTest, TensorsStreamIntoSeveralShardsAtOnce) {
  TempDir dir;
  const Tensor a = RandomTensor(tensorflow::DT_FLOAT, {1000, 4}, 21);
  const Tensor b = RandomTensor(tensorflow::DT_INT64, {777}, 22);
  const std::string prefix = dir.Join("interleaved");
  ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.num_shards = 2}));
  ASSERT_OK(writer->BeginTensor("a", tensorflow::DT_FLOAT, {1000, 4}, 0));
  ASSERT_OK(writer->BeginTensor("b", tensorflow::DT_INT64, {777}, 1));
  // A second tensor in a shard with one open, or an unnamed Append, is refused.
  EXPECT_TRUE(IsError(writer->BeginTensor("c", tensorflow::DT_FLOAT, {1}, 0),
                      absl::StatusCode::kFailedPrecondition, {"'a'", "shard 0"}));
  EXPECT_TRUE(IsError(writer->Append("x"), absl::StatusCode::kFailedPrecondition, {"several"}));
  const std::string a_bytes = TensorBytes(a), b_bytes = TensorBytes(b);
  for (size_t i = 0; i < 100; ++i) {  // Interleaved, in uneven pieces.
    ASSERT_OK(writer->Append(0, absl::string_view(a_bytes).substr(i * 160, 160)));
    ASSERT_OK(
        writer->Append(1, absl::string_view(b_bytes).substr(i * 62, i == 99 ? 6216 - i * 62 : 62)));
  }
  ASSERT_OK(writer->EndTensor(1));
  ASSERT_OK(writer->EndTensor(0));
  ASSERT_OK(writer->Finish());
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_OK_AND_ASSIGN(Tensor read_a, reader->Read("a"));
  ASSERT_OK_AND_ASSIGN(Tensor read_b, reader->Read("b"));
  EXPECT_TRUE(read_a.Equals(a));
  EXPECT_TRUE(read_b.Equals(b));
  EXPECT_EQ(reader->Find("a")->shard_id, 0);
  EXPECT_EQ(reader->Find("b")->shard_id, 1);
}

TEST(BundleTest, TensorStreamReadsInOddChunks) {
  TempDir dir;
  const std::string prefix = dir.Join("s");
  const Tensor big = RandomTensor(tensorflow::DT_INT32, {10007, 3}, 21);
  ASSERT_OK(WriteBundle(prefix, {{"big", big}, {"scalar", Tensor::FromVector<double>({}, {2.5})}}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  const std::string expected = TensorBytes(big);

  const uint64_t chunks[] = {1, 2, 5, 13, 4099, 65537, 3};
  ASSERT_OK_AND_ASSIGN(TensorStream stream, reader->OpenStream("big"));
  EXPECT_EQ(stream.entry().name, "big");
  EXPECT_EQ(stream.row_bytes(), 12u);
  EXPECT_EQ(stream.remaining_bytes(), expected.size());
  std::string got;
  for (size_t i = 0; stream.remaining_bytes() > 0; ++i) {
    uint64_t n = std::min<uint64_t>(chunks[i % std::size(chunks)], stream.remaining_bytes());
    std::string piece(n, '\0');
    ASSERT_OK(stream.Read(n, piece.data()));
    got += piece;
    EXPECT_EQ(stream.remaining_bytes(), expected.size() - got.size());
  }
  EXPECT_TRUE(got == expected);
  char extra;
  EXPECT_TRUE(IsError(stream.Read(1, &extra), absl::StatusCode::kOutOfRange, {"big"}));
  EXPECT_OK(stream.Read(0, &extra));

  // By rows: 1, then 10, then the rest.
  ASSERT_OK_AND_ASSIGN(TensorStream rows, reader->OpenStream("big"));
  std::vector<int32_t> out(10007 * 3);
  ASSERT_OK(rows.ReadRows(1, out.data()));
  ASSERT_OK(rows.ReadRows(10, out.data() + 3));
  EXPECT_TRUE(IsError(rows.ReadRows(10007 - 10, out.data()), absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(IsError(rows.ReadRows(-1, out.data()), absl::StatusCode::kOutOfRange));
  ASSERT_OK(rows.ReadRows(10007 - 11, out.data() + 33));
  EXPECT_EQ(rows.remaining_bytes(), 0u);
  EXPECT_EQ(std::memcmp(out.data(), expected.data(), expected.size()), 0);

  // A scalar is one row.
  ASSERT_OK_AND_ASSIGN(TensorStream scalar, reader->OpenStream("scalar"));
  EXPECT_EQ(scalar.row_bytes(), 8u);
  double d = 0;
  ASSERT_OK(scalar.ReadRows(1, &d));
  EXPECT_EQ(d, 2.5);
}

TEST(BundleTest, ReadRowsRanges) {
  TempDir dir;
  const std::string prefix = dir.Join("r");
  std::vector<int64_t> values(10 * 3);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i) * 7 - 100;
  ASSERT_OK(WriteBundle(prefix, {{"m", Tensor::FromVector<int64_t>({10, 3}, values)},
                                 {"s", Tensor::FromStrings({2}, {"a", "b"})},
                                 {"scalar", Tensor::FromVector<float>({}, {1.5f})}}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));

  struct Range {
    int64_t first, count;
  };
  for (Range r : {Range{0, 10}, Range{0, 0}, Range{10, 0}, Range{9, 1}, Range{3, 4}, Range{0, 1},
                  Range{5, 5}}) {
    std::vector<int64_t> out(static_cast<size_t>(r.count) * 3 + 1, 12345);
    ASSERT_OK(reader->ReadRows("m", r.first, r.count, out.data())) << r.first << "+" << r.count;
    for (int64_t i = 0; i < r.count * 3; ++i) {
      ASSERT_EQ(out[static_cast<size_t>(i)], (r.first * 3 + i) * 7 - 100)
          << r.first << "+" << r.count;
    }
    EXPECT_EQ(out.back(), 12345) << "wrote past the requested rows";
  }
  int64_t sink[64];
  for (Range r : {Range{11, 0}, Range{-1, 1}, Range{0, -1}, Range{5, 6}, Range{10, 1},
                  Range{1, std::numeric_limits<int64_t>::max()},
                  Range{std::numeric_limits<int64_t>::max(), 1},
                  Range{std::numeric_limits<int64_t>::min(), 2}}) {
    EXPECT_TRUE(IsError(reader->ReadRows("m", r.first, r.count, sink),
                        absl::StatusCode::kOutOfRange, {"m"}))
        << r.first << "+" << r.count;
  }
  float f = 0;
  ASSERT_OK(reader->ReadRows("scalar", 0, 1, &f));
  EXPECT_EQ(f, 1.5f);
  EXPECT_TRUE(IsError(reader->ReadRows("scalar", 0, 2, &f), absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(IsError(reader->ReadRows("s", 0, 1, sink), absl::StatusCode::kInvalidArgument,
                      {"s", "string"}));
  EXPECT_TRUE(IsError(reader->OpenStream("s").status(), absl::StatusCode::kInvalidArgument, {"s"}));
}

TEST(BundleTest, LookupOfMissingTensorNamesTensorAndBundle) {
  TempDir dir;
  const std::string prefix = dir.Join("model.ckpt-3");
  ASSERT_OK(WriteBundle(prefix, {{"present", Tensor::FromVector<float>({1}, {1})}}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  EXPECT_EQ(reader->prefix(), prefix);
  EXPECT_EQ(reader->Find("absent"), nullptr);
  EXPECT_EQ(reader->Find("presen"), nullptr);
  EXPECT_EQ(reader->Find(""), nullptr);
  ASSERT_NE(reader->Find("present"), nullptr);
  const std::initializer_list<std::string> parts = {"'absent'", prefix};
  EXPECT_TRUE(IsError(reader->Lookup("absent").status(), absl::StatusCode::kNotFound, parts));
  EXPECT_TRUE(IsError(reader->Read("absent").status(), absl::StatusCode::kNotFound, parts));
  EXPECT_TRUE(IsError(reader->Verify("absent"), absl::StatusCode::kNotFound, parts));
  EXPECT_TRUE(IsError(reader->OpenStream("absent").status(), absl::StatusCode::kNotFound, parts));
  char buf[4];
  EXPECT_TRUE(IsError(reader->ReadRows("absent", 0, 1, buf), absl::StatusCode::kNotFound, parts));
}

TEST(BundleTest, OpenMissingBundleNamesTheIndex) {
  TempDir dir;
  const std::string prefix = dir.Join("nothing");
  EXPECT_TRUE(IsError(BundleReader::Open(prefix).status(), absl::StatusCode::kNotFound,
                      {BundleIndexPath(prefix)}));
}

TEST(BundleWriterTest, DuplicateNameIsRejectedAndTheFirstIsKept) {
  TempDir dir;
  const std::string prefix = dir.Join("w");
  ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
  ASSERT_OK(writer->Add("x", Tensor::FromVector<float>({1}, {1.0f})));
  EXPECT_TRUE(IsError(writer->Add("x", Tensor::FromVector<float>({1}, {2.0f})),
                      absl::StatusCode::kAlreadyExists, {"'x'", prefix}));
  EXPECT_TRUE(IsError(writer->BeginTensor("x", tensorflow::DT_FLOAT, {1}),
                      absl::StatusCode::kAlreadyExists, {"'x'"}));
  // A rejected call does not damage the bundle.
  ASSERT_OK(writer->Add("y", Tensor::FromVector<float>({1}, {3.0f})));
  ASSERT_OK(writer->Finish());
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_OK_AND_ASSIGN(Tensor x, reader->Read("x"));
  EXPECT_EQ(x.flat<float>()[0], 1.0f);
  ASSERT_OK_AND_ASSIGN(Tensor y, reader->Read("y"));
  EXPECT_EQ(y.flat<float>()[0], 3.0f);
}

TEST(BundleWriterTest, RejectedArguments) {
  TempDir dir;
  const std::string prefix = dir.Join("w");
  ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.num_shards = 2}));
  const Tensor t = Tensor::FromVector<float>({1}, {1.0f});
  EXPECT_TRUE(IsError(writer->Add("t", t, 2), absl::StatusCode::kInvalidArgument, {"'t'", "2"}));
  EXPECT_TRUE(IsError(writer->Add("t", t, -1), absl::StatusCode::kInvalidArgument, {"'t'"}));
  EXPECT_TRUE(IsError(writer->BeginTensor("t", tensorflow::DT_FLOAT, {1}, 5),
                      absl::StatusCode::kInvalidArgument, {"'t'"}));
  EXPECT_TRUE(IsError(writer->BeginTensor("str", tensorflow::DT_STRING, {1}),
                      absl::StatusCode::kInvalidArgument, {"'str'"}));
  EXPECT_TRUE(IsError(writer->Add("", t), absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(writer->BeginTensor("r", tensorflow::DT_RESOURCE, {1}),
                      absl::StatusCode::kInvalidArgument, {"'r'"}));
  EXPECT_TRUE(IsError(writer->BeginTensor("n", tensorflow::DT_FLOAT, {-3}),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(writer->Add("bad", Tensor()), absl::StatusCode::kInvalidArgument));
  // Strings that do not match the shape would write an unreadable bundle.
  Tensor wrong_count = Tensor::FromStrings({3}, {"a", "b", "c"});
  wrong_count.strings().pop_back();
  EXPECT_TRUE(IsError(writer->Add("wrong_count", wrong_count), absl::StatusCode::kInvalidArgument,
                      {"'wrong_count'"}));
  EXPECT_TRUE(IsError(writer->Append("x"), absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsError(writer->EndTensor(), absl::StatusCode::kFailedPrecondition));

  // While a tensor is open nothing else may start.
  ASSERT_OK(writer->BeginTensor("open", tensorflow::DT_INT32, {2}));
  EXPECT_TRUE(IsError(writer->Add("other", t), absl::StatusCode::kFailedPrecondition, {"'open'"}));
  EXPECT_TRUE(IsError(writer->BeginTensor("other", tensorflow::DT_INT32, {1}),
                      absl::StatusCode::kFailedPrecondition, {"'open'"}));
  ASSERT_OK(writer->Append(std::string(8, '\1')));
  ASSERT_OK(writer->EndTensor());

  ASSERT_OK(writer->Finish());
  EXPECT_TRUE(IsError(writer->Add("late", t), absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsError(writer->Finish(), absl::StatusCode::kFailedPrecondition));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_EQ(reader->entries().size(), 1u);
  EXPECT_EQ(reader->entries()[0].name, "open");

  for (int n : {0, -1}) {
    EXPECT_TRUE(IsError(BundleWriter::Create(dir.Join("bad"), {.num_shards = n}).status(),
                        absl::StatusCode::kInvalidArgument, {dir.Join("bad")}));
  }
}

TEST(BundleWriterTest, WrongAppendedSizeFailsTheWriter) {
  TempDir dir;
  {
    const std::string prefix = dir.Join("too_many");
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
    ASSERT_OK(writer->BeginTensor("t", tensorflow::DT_FLOAT, {2, 2}));
    ASSERT_OK(writer->Append(std::string(12, 'a')));
    absl::Status status = writer->Append(std::string(5, 'a'));
    EXPECT_TRUE(IsError(status, absl::StatusCode::kInvalidArgument, {"'t'", "16"}));
    // After that error every later call returns it, and no index appears.
    EXPECT_EQ(writer->Append(std::string(4, 'a')), status);
    EXPECT_EQ(writer->EndTensor(), status);
    EXPECT_EQ(writer->Finish(), status);
    EXPECT_FALSE(Exists(BundleIndexPath(prefix)));
  }
  {
    const std::string prefix = dir.Join("too_few");
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
    ASSERT_OK(writer->BeginTensor("t", tensorflow::DT_INT64, {3}));
    ASSERT_OK(writer->Append(std::string(23, 'a')));
    absl::Status status = writer->EndTensor();
    EXPECT_TRUE(IsError(status, absl::StatusCode::kInvalidArgument, {"'t'", "24", "23"}));
    EXPECT_EQ(writer->Finish(), status);
    EXPECT_FALSE(Exists(BundleIndexPath(prefix)));
  }
  {
    const std::string prefix = dir.Join("never_ended");
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
    ASSERT_OK(writer->BeginTensor("t", tensorflow::DT_INT64, {1}));
    EXPECT_TRUE(IsError(writer->Finish(), absl::StatusCode::kFailedPrecondition, {"'t'"}));
    EXPECT_FALSE(Exists(BundleIndexPath(prefix)));
  }
  // The failed writers removed their data files when destroyed.
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(BundleWriterTest, DestroyedBeforeFinishRemovesItsDataFiles) {
  TempDir dir;
  const std::string prefix = dir.Join("abandoned");
  {
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix, {.num_shards = 3}));
    ASSERT_OK(writer->Add("a", Tensor::FromVector<float>({2}, {1, 2}), 0));
    ASSERT_OK(writer->Add("b", Tensor::FromVector<float>({2}, {1, 2}), 2));
    EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"abandoned.data-00000-of-00003",
                                                             "abandoned.data-00002-of-00003"}));
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());

  // A finished writer's files stay.
  {
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
    ASSERT_OK(writer->Add("a", Tensor::FromVector<float>({2}, {1, 2})));
    ASSERT_OK(writer->Finish());
  }
  EXPECT_EQ(ListDir(dir.path()),
            (std::vector<std::string>{"abandoned.data-00000-of-00001", "abandoned.index"}));
}

TEST(BundleWriterTest, UnwritableFolderNamesTheDataFile) {
  TempDir dir;
  const std::string prefix = dir.Join("missing/ckpt");
  ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(prefix));
  EXPECT_TRUE(IsError(writer->Add("a", Tensor::FromVector<float>({1}, {1})),
                      absl::StatusCode::kNotFound, {BundleDataPath(prefix, 0, 1)}));
  EXPECT_TRUE(IsAnyError(writer->Finish()));
}

TEST(WriteBundleIndexTest, IndexOverExistingDataFiles) {
  // An export shares a checkpoint's data shards (here by hard link) and
  // writes only a new index listing some of the tensors, in any order.
  TempDir dir;
  const std::string ckpt = dir.Join("model.ckpt-1");
  const Tensor a = RandomTensor(tensorflow::DT_FLOAT, {10, 2}, 31);
  const Tensor b = Tensor::FromStrings({2}, {"p", "q"});
  const Tensor slot = RandomTensor(tensorflow::DT_FLOAT, {10, 2}, 32);
  {
    ASSERT_OK_AND_ASSIGN(auto writer, BundleWriter::Create(ckpt, {.num_shards = 2}));
    ASSERT_OK(writer->Add("a", a, 0));
    ASSERT_OK(writer->Add("a/slot", slot, 0));
    ASSERT_OK(writer->Add("b", b, 1));
    ASSERT_OK(writer->Finish());
  }
  ASSERT_OK_AND_ASSIGN(auto source, BundleReader::Open(ckpt));
  const std::string exported = dir.Join("variables");
  for (int shard = 0; shard < 2; ++shard) {
    fs::create_hard_link(BundleDataPath(ckpt, shard, 2), BundleDataPath(exported, shard, 2));
  }
  ASSERT_OK(WriteBundleIndex(exported, 2, {*source->Find("b"), *source->Find("a")}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(exported));
  EXPECT_EQ(reader->num_shards(), 2);
  ASSERT_EQ(reader->entries().size(), 2u);
  EXPECT_EQ(reader->Find("a/slot"), nullptr);
  ASSERT_OK_AND_ASSIGN(Tensor read_a, reader->Read("a"));
  EXPECT_TRUE(read_a.Equals(a));
  ASSERT_OK_AND_ASSIGN(Tensor read_b, reader->Read("b"));
  EXPECT_TRUE(read_b.Equals(b));

  // Listing every entry reproduces the writer's index byte for byte.
  const std::string again = dir.Join("again");
  ASSERT_OK(WriteBundleIndex(again, 2, source->entries()));
  EXPECT_TRUE(ReadBytes(BundleIndexPath(again)) == ReadBytes(BundleIndexPath(ckpt)));

  EXPECT_TRUE(
      IsError(WriteBundleIndex(dir.Join("dup"), 2, {*source->Find("a"), *source->Find("a")}),
              absl::StatusCode::kInvalidArgument, {"'a'"}));
}

// ---------------------------------------------------------------- interop

TEST(BundleInteropTest, ReadsBundleWrittenByTensorFlow) {
  // testdata/tf_bundle.*: tf.raw_ops.SaveV2 of the tensors below (see
  // testdata/make_tf_golden.py).
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(TestDataPath("tf_bundle")));
  EXPECT_EQ(reader->num_shards(), 1);
  ASSERT_EQ(reader->entries().size(), 6u);

  ASSERT_OK_AND_ASSIGN(Tensor a, reader->Read("a_float"));
  EXPECT_TRUE(a.Equals(Tensor::FromVector<float>({2, 3}, {1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.5f})));
  ASSERT_OK_AND_ASSIGN(Tensor b, reader->Read("b_int64_scalar"));
  EXPECT_TRUE(b.Equals(Tensor::FromVector<int64_t>({}, {-7})));
  ASSERT_OK_AND_ASSIGN(Tensor c, reader->Read("c_strings"));
  EXPECT_TRUE(c.Equals(Tensor::FromStrings({3}, {"", "x", std::string("\0\xff", 2)})));
  ASSERT_OK_AND_ASSIGN(Tensor d, reader->Read("d_bool"));
  EXPECT_TRUE(d.Equals(Tensor::FromVector<bool>({3}, {true, false, true})));
  ASSERT_OK_AND_ASSIGN(Tensor e, reader->Read("e_half"));
  EXPECT_EQ(e.dtype(), tensorflow::DT_HALF);
  EXPECT_EQ(e.flat<uint16_t>()[0], 0x3c00);
  EXPECT_EQ(e.flat<uint16_t>()[1], 0xc100);
  ASSERT_OK_AND_ASSIGN(Tensor f, reader->Read("f_empty"));
  EXPECT_TRUE(f.Equals(Tensor::Create(tensorflow::DT_INT32, {0, 3}).value()));
  for (const BundleEntry& entry : reader->entries()) EXPECT_OK(reader->Verify(entry.name));
}

TEST(BundleInteropTest, WritesTheSameBytesAsTensorFlow) {
  TempDir dir;
  const std::string prefix = dir.Join("ours");
  Tensor half = Tensor::Create(tensorflow::DT_HALF, {2}).value();
  half.flat<uint16_t>()[0] = 0x3c00;
  half.flat<uint16_t>()[1] = 0xc100;
  ASSERT_OK(WriteBundle(
      prefix,
      {{"a_float", Tensor::FromVector<float>({2, 3}, {1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.5f})},
       {"b_int64_scalar", Tensor::FromVector<int64_t>({}, {-7})},
       {"c_strings", Tensor::FromStrings({3}, {"", "x", std::string("\0\xff", 2)})},
       {"d_bool", Tensor::FromVector<bool>({3}, {true, false, true})},
       {"e_half", half},
       {"f_empty", Tensor::Create(tensorflow::DT_INT32, {0, 3}).value()}}));
  EXPECT_TRUE(ReadBytes(BundleDataPath(prefix, 0, 1)) ==
              ReadBytes(TestDataPath("tf_bundle.data-00000-of-00001")));
  EXPECT_TRUE(ReadBytes(BundleIndexPath(prefix)) == ReadBytes(TestDataPath("tf_bundle.index")));
}

TEST(BundleInteropTest, LevelDbOpensOurIndex) {
  TempDir dir;
  const std::string prefix = dir.Join("many");
  // Enough entries for several data blocks and restart points.
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (int i = 0; i < 1500; ++i) {
    tensors.emplace_back(absl::StrFormat("scope_%d/layer_%04d/kernel", i % 7, i),
                         Tensor::FromVector<int32_t>({2}, {i, -i}));
  }
  ASSERT_OK(WriteBundle(prefix, tensors));
  auto table = ReadTableWithLevelDb(BundleIndexPath(prefix));
  ASSERT_EQ(table.size(), tensors.size() + 1);
  EXPECT_EQ(table[0].first, "");
  tensorflow::BundleHeaderProto header;
  ASSERT_TRUE(header.ParseFromString(table[0].second));
  EXPECT_EQ(header.num_shards(), 1);
  EXPECT_EQ(header.endianness(), tensorflow::BundleHeaderProto::LITTLE);
  EXPECT_EQ(header.version().producer(), 1);

  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  std::sort(names.begin(), names.end());
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_EQ(reader->entries().size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(table[i + 1].first, names[i]);
    tensorflow::BundleEntryProto entry;
    ASSERT_TRUE(entry.ParseFromString(table[i + 1].second)) << names[i];
    EXPECT_EQ(entry.dtype(), tensorflow::DT_INT32);
    ASSERT_EQ(entry.shape().dim_size(), 1);
    EXPECT_EQ(entry.shape().dim(0).size(), 2);
    EXPECT_EQ(entry.shard_id(), 0);
    EXPECT_EQ(entry.size(), 8);
    EXPECT_EQ(entry.offset() % 8, 0);
    const BundleEntry& ours = reader->entries()[i];
    EXPECT_EQ(ours.name, names[i]);
    EXPECT_EQ(ours.offset, static_cast<uint64_t>(entry.offset()));
    EXPECT_EQ(ours.masked_crc32c, entry.crc32c());
  }
  ASSERT_OK_AND_ASSIGN(Tensor last, reader->Read(tensors.back().first));
  EXPECT_TRUE(last.Equals(tensors.back().second));
}

TEST(BundleInteropTest, ReadsSnappyCompressedIndex) {
  // An index as older TensorFlow wrote it: LevelDB's TableBuilder with
  // kSnappyCompression. Entries and data are made by hand here.
  TempDir dir;
  const std::string prefix = dir.Join("old");
  std::string data;
  std::vector<std::pair<std::string, std::string>> entries;
  tensorflow::BundleHeaderProto header;
  header.set_num_shards(1);
  header.mutable_version()->set_producer(1);
  entries.emplace_back("", header.SerializeAsString());
  std::vector<std::vector<float>> values;
  for (int i = 0; i < 300; ++i) {
    std::vector<float> v(32);
    for (int j = 0; j < 32; ++j) v[static_cast<size_t>(j)] = static_cast<float>(i * 100 + j);
    std::string bytes(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    tensorflow::BundleEntryProto entry;
    entry.set_dtype(tensorflow::DT_FLOAT);
    entry.mutable_shape()->add_dim()->set_size(4);
    entry.mutable_shape()->add_dim()->set_size(8);
    entry.set_offset(static_cast<int64_t>(data.size()));
    entry.set_size(static_cast<int64_t>(bytes.size()));
    entry.set_crc32c(crc32c::Mask(crc32c::Value(bytes)));
    entries.emplace_back(absl::StrFormat("model/embedding_tables/user_features/shard_%05d", i),
                         entry.SerializeAsString());
    data += bytes;
    values.push_back(std::move(v));
  }
  WriteBytes(BundleDataPath(prefix, 0, 1), data);
  const std::string plain_path = dir.Join("plain.index");
  WriteTableWithLevelDb(plain_path, entries, leveldb::kNoCompression);
  WriteTableWithLevelDb(BundleIndexPath(prefix), entries, leveldb::kSnappyCompression);
  // LevelDB only keeps a snappy block when it saves space: a smaller file
  // proves the index really holds compressed blocks.
  ASSERT_LT(fs::file_size(BundleIndexPath(prefix)), fs::file_size(plain_path));

  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  ASSERT_EQ(reader->entries().size(), 300u);
  for (int i = 0; i < 300; ++i) {
    const std::string name = absl::StrFormat("model/embedding_tables/user_features/shard_%05d", i);
    ASSERT_OK_AND_ASSIGN(Tensor t, reader->Read(name));
    EXPECT_TRUE(t.Equals(Tensor::FromVector<float>({4, 8}, values[static_cast<size_t>(i)])))
        << name;
  }
}

TEST(BundleTest, StreamOfAnEmptyTensorChecksItsCrcWhenOpened) {
  TempDir dir;
  std::string prefix = dir.Join("b");
  testing::WriteBytes(BundleDataPath(prefix, 0, 1), "");
  BundleEntry good{"good", tensorflow::DT_FLOAT, {0, 4}, 0, 0, 0, crc32c::Mask(0)};
  BundleEntry bad{"bad", tensorflow::DT_FLOAT, {0, 4}, 0, 0, 0, crc32c::Mask(0) ^ 1};
  ASSERT_OK(WriteBundleIndex(prefix, 1, {good, bad}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  EXPECT_OK(reader->OpenStream("good").status());
  EXPECT_TRUE(IsError(reader->OpenStream("bad").status(), absl::StatusCode::kDataLoss, {"bad"}));
}

}  // namespace
}  // namespace recship

namespace recship {
namespace {

TEST(BundleMapTest, MapViewsTheFileBytesAndEqualsRead) {
  testing::TempDir dir;
  const std::string prefix = dir.Join("model.ckpt-1");
  Tensor keys = RandomTensor(tensorflow::DT_INT64, {1000}, 1);
  Tensor values = RandomTensor(tensorflow::DT_FLOAT, {1000, 16}, 2);
  // A bool ahead of it leaves the int32 tensor at an odd offset.
  Tensor flag = RandomTensor(tensorflow::DT_BOOL, {1}, 3);
  Tensor odd = RandomTensor(tensorflow::DT_INT32, {7}, 4);
  ASSERT_OK(
      WriteBundle(prefix, {{"keys", keys}, {"values", values}, {"flag", flag}, {"odd", odd}}));
  ASSERT_OK_AND_ASSIGN(auto reader, BundleReader::Open(prefix));
  for (const char* name : {"keys", "values", "flag", "odd"}) {
    ASSERT_OK_AND_ASSIGN(Tensor read, reader->Read(name));
    ASSERT_OK_AND_ASSIGN(Tensor mapped, reader->Map(name));
    EXPECT_TRUE(mapped.Equals(read)) << name;
    const BundleEntry* entry = reader->Find(name);
    bool aligned = entry->offset % DataTypeSize(entry->dtype) == 0;
    EXPECT_EQ(mapped.is_view(), aligned) << name;
  }
  EXPECT_EQ(reader->Find("odd")->offset % 4, 1u);  // The case above is really met.
  // A view outlives the reader, and its pages are the file's.
  ASSERT_OK_AND_ASSIGN(Tensor view, reader->Map("values"));
  reader.reset();
  EXPECT_EQ(TensorBytes(view), TensorBytes(values));
  EXPECT_EQ(std::memcmp(view.data(), ReadBytes(BundleDataPath(prefix, 0, 1)).data() + 8000,
                        view.byte_size()),
            0);
  // Strings cannot be mapped.
  ASSERT_OK(WriteBundle(dir.Join("strings"), {{"s", Tensor::FromStrings({1}, {"x"})}}));
  ASSERT_OK_AND_ASSIGN(auto strings, BundleReader::Open(dir.Join("strings")));
  EXPECT_TRUE(IsError(strings->Map("s").status(), absl::StatusCode::kInvalidArgument, {"'s'"}));
}

}  // namespace
}  // namespace recship
