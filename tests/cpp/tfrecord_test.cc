// format/tfrecord.h: round trips (empty, binary, large and many records),
// byte-for-byte equality with a file tf.io.TFRecordWriter wrote (testdata/),
// and corrupt files: garbage, flipped length/crc/data bytes, truncation at
// every offset, and a length field claiming 2^60 bytes (which must not be
// allocated). Errors are DataLoss naming the file and offset.
#include "recship/format/tfrecord.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::RandomBytes;
using testing::ReadBytes;
using testing::TempDir;
using testing::TestDataPath;
using testing::WriteBytes;
using testing::WriteRecords;

// Reads records until the first non-OK status, which is returned with them.
std::pair<std::vector<std::string>, absl::Status> ReadAll(std::unique_ptr<TFRecordReader> reader) {
  std::vector<std::string> records;
  std::string record;
  absl::Status status;
  while ((status = reader->Read(&record)).ok()) records.push_back(record);
  return {records, status};
}

std::pair<std::vector<std::string>, absl::Status> ReadAll(const std::string& name,
                                                          const std::string& bytes) {
  return ReadAll(std::make_unique<TFRecordReader>(NewStringFile(name, bytes)));
}

// One record framed by hand from the format's definition.
std::string Frame(const std::string& data) {
  std::string out;
  uint64_t length = data.size();
  out.append(reinterpret_cast<const char*>(&length), 8);
  uint32_t length_crc = crc32c::Mask(crc32c::Value(&length, 8));
  out.append(reinterpret_cast<const char*>(&length_crc), 4);
  out += data;
  uint32_t data_crc = crc32c::Mask(crc32c::Value(data));
  out.append(reinterpret_cast<const char*>(&data_crc), 4);
  return out;
}

TEST(TFRecordTest, RoundTrip) {
  TempDir dir;
  const std::string path = dir.Join("records");
  std::vector<std::string> records = {
      "", "a", std::string("\0\xff\0", 3), "", RandomBytes(3 << 20, 1), RandomBytes(1000, 2)};
  for (int i = 0; i < 500; ++i) records.push_back(std::to_string(i));
  ASSERT_OK(WriteRecords(path, records));

  std::string expected_bytes;
  for (const std::string& r : records) expected_bytes += Frame(r);
  EXPECT_TRUE(ReadBytes(path) == expected_bytes);

  ASSERT_OK_AND_ASSIGN(auto reader, TFRecordReader::Open(path));
  std::string record;
  uint64_t offset = 0;
  for (const std::string& r : records) {
    EXPECT_EQ(reader->offset(), offset);
    ASSERT_OK(reader->Read(&record));
    ASSERT_TRUE(record == r);
    offset += 16 + r.size();
  }
  EXPECT_EQ(reader->offset(), offset);
  EXPECT_TRUE(IsError(reader->Read(&record), absl::StatusCode::kOutOfRange, {path}));
  EXPECT_TRUE(IsError(reader->Read(&record), absl::StatusCode::kOutOfRange));
}

TEST(TFRecordTest, EmptyFileIsCleanEnd) {
  TempDir dir;
  const std::string path = dir.Join("empty");
  ASSERT_OK(WriteRecords(path, {}));
  EXPECT_EQ(ReadBytes(path), "");
  ASSERT_OK_AND_ASSIGN(auto reader, TFRecordReader::Open(path));
  std::string record;
  EXPECT_TRUE(IsError(reader->Read(&record), absl::StatusCode::kOutOfRange));
}

TEST(TFRecordTest, OpenMissingFileNamesIt) {
  TempDir dir;
  EXPECT_TRUE(IsError(TFRecordReader::Open(dir.Join("missing")).status(),
                      absl::StatusCode::kNotFound, {dir.Join("missing")}));
  EXPECT_TRUE(IsError(TFRecordWriter::Create(dir.Join("no/such/file")).status(),
                      absl::StatusCode::kNotFound, {dir.Join("no/such/file")}));
}

TEST(TFRecordTest, MatchesTensorFlowBytes) {
  // testdata/tf.tfrecord: tf.io.TFRecordWriter wrote these three records.
  const std::vector<std::string> records = {"", "hello", [] {
                                              std::string s(256, '\0');
                                              for (int i = 0; i < 256; ++i)
                                                s[i] = static_cast<char>(i);
                                              return s;
                                            }()};
  ASSERT_OK_AND_ASSIGN(auto reader, TFRecordReader::Open(TestDataPath("tf.tfrecord")));
  auto [read, status] = ReadAll(std::move(reader));
  EXPECT_TRUE(IsError(status, absl::StatusCode::kOutOfRange));
  EXPECT_EQ(read, records);

  TempDir dir;
  ASSERT_OK(WriteRecords(dir.Join("ours"), records));
  EXPECT_TRUE(ReadBytes(dir.Join("ours")) == ReadBytes(TestDataPath("tf.tfrecord")));
}

TEST(TFRecordCorruptionTest, GarbageFile) {
  TempDir dir;
  for (size_t n :
       {size_t{1}, size_t{11}, size_t{12}, size_t{15}, size_t{16}, size_t{100}, size_t{100000}}) {
    const std::string path = dir.Join("garbage" + std::to_string(n));
    WriteBytes(path, RandomBytes(n, static_cast<uint32_t>(n)));
    ASSERT_OK_AND_ASSIGN(auto reader, TFRecordReader::Open(path));
    auto [read, status] = ReadAll(std::move(reader));
    EXPECT_TRUE(read.empty()) << n;
    EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss, {path, "offset 0"})) << n;
  }
}

TEST(TFRecordCorruptionTest, EveryFlippedByteIsCaught) {
  const std::string good = Frame("first") + Frame("second record") + Frame("");
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ static_cast<char>(mask));
      auto [read, status] = ReadAll("flipped.tfrecord", bad);
      // Records before the damaged one still read; the damaged one is
      // DataLoss naming the file and the record's offset.
      const size_t record = pos < 21 ? 0 : (pos < 50 ? 1 : 2);
      const size_t record_offset = record == 0 ? 0 : (record == 1 ? 21 : 50);
      EXPECT_EQ(read.size(), record) << pos;
      EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss,
                          {"flipped.tfrecord", "offset " + std::to_string(record_offset)}))
          << "byte " << pos << " mask " << int{mask};
      // Which check fires follows from where the flip is.
      const size_t in_record = pos - record_offset;
      const std::string expected_check = in_record < 12 ? "length" : "data";
      EXPECT_NE(status.message().find(expected_check), absl::string_view::npos)
          << pos << ": " << status;
    }
  }
}

TEST(TFRecordCorruptionTest, TruncatedAtEveryOffset) {
  const std::string good = Frame("first") + Frame("") + Frame("third!");
  const std::vector<size_t> boundaries = {0, 21, 37, good.size()};
  for (size_t n = 0; n < good.size(); ++n) {
    auto [read, status] = ReadAll("cut.tfrecord", good.substr(0, n));
    size_t complete = 0;
    while (complete + 1 < boundaries.size() && boundaries[complete + 1] <= n) ++complete;
    EXPECT_EQ(read.size(), complete) << n;
    if (n == boundaries[complete]) {
      EXPECT_TRUE(IsError(status, absl::StatusCode::kOutOfRange)) << n;
    } else {
      EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss,
                          {"cut.tfrecord", "offset " + std::to_string(boundaries[complete])}))
          << n;
    }
  }
}

TEST(TFRecordCorruptionTest, HugeLengthIsNotAllocated) {
  // A header with a valid checksum claiming 2^60 bytes (and other absurd
  // lengths), followed by a few bytes: DataLoss, no allocation.
  for (uint64_t length :
       {uint64_t{1} << 60, ~uint64_t{0}, ~uint64_t{0} - 3, uint64_t{1} << 33, uint64_t{100}}) {
    std::string bytes = Frame("ok");
    const size_t offset = bytes.size();
    bytes.append(reinterpret_cast<const char*>(&length), 8);
    uint32_t crc = crc32c::Mask(crc32c::Value(&length, 8));
    bytes.append(reinterpret_cast<const char*>(&crc), 4);
    bytes += "tail of the file";
    auto [read, status] = ReadAll("huge.tfrecord", bytes);
    EXPECT_EQ(read, std::vector<std::string>{"ok"});
    EXPECT_TRUE(
        IsError(status, absl::StatusCode::kDataLoss,
                {"huge.tfrecord", "offset " + std::to_string(offset), std::to_string(length)}))
        << length;
  }
}

TEST(TFRecordDeathTest, ClaimedLengthIsNotAllocated) {
  // Lengths an allocator could grant (lazily, with overcommit): the reader
  // must still not ask for them. The child may grow by 64 MiB at most.
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  for (uint64_t length : {uint64_t{1} << 30, uint64_t{1} << 33}) {
    std::string bytes;
    bytes.append(reinterpret_cast<const char*>(&length), 8);
    uint32_t crc = crc32c::Mask(crc32c::Value(&length, 8));
    bytes.append(reinterpret_cast<const char*>(&crc), 4);
    bytes += std::string(1000, 'x');
    EXPECT_TRUE_WITHIN_MEMORY(
        ReadAll("big.tfrecord", bytes).second.code() == absl::StatusCode::kDataLoss, 64 << 20)
        << length;
  }
}

TEST(TFRecordCorruptionTest, ZeroLengthMissingDataCrc) {
  // An empty record whose 4-byte data crc is absent.
  std::string bytes = Frame("").substr(0, 12);
  auto [read, status] = ReadAll("short.tfrecord", bytes);
  EXPECT_TRUE(read.empty());
  EXPECT_TRUE(IsError(status, absl::StatusCode::kDataLoss, {"short.tfrecord"}));
}

}  // namespace
}  // namespace recship
