// Shared helpers of the libFuzzer targets and their seed generator.
#include "fuzz_util.h"

#include <fcntl.h>
#include <snappy.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "leveldb/env.h"
#include "leveldb/options.h"
#include "leveldb/table_builder.h"
#include "recship/core/coding.h"
#include "recship/core/crc32c.h"
#include "recship/format/tensor.h"
#include "recship/tensorflow/core/protobuf/tensor_bundle.pb.h"

// UBSan findings in fuzz builds are crashes, not warnings that scroll by.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace recship::fuzz {
namespace {

// A leveldb::WritableFile that appends to a string.
class StringSink : public leveldb::WritableFile {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  leveldb::Status Append(const leveldb::Slice& data) override {
    out_->append(data.data(), data.size());
    return leveldb::Status::OK();
  }
  leveldb::Status Close() override { return leveldb::Status::OK(); }
  leveldb::Status Flush() override { return leveldb::Status::OK(); }
  leveldb::Status Sync() override { return leveldb::Status::OK(); }

 private:
  std::string* out_;
};

std::string* temp_dir = nullptr;

void RemoveTempDir() {
  if (temp_dir == nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(*temp_dir, ec);
}

template <typename T>
Tensor Filled(DataType dtype, TensorShape shape, int seed) {
  Tensor t = Tensor::Create(dtype, std::move(shape)).value();
  auto values = t.flat<T>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>((seed + 1) * (i + 3) % 17);
  return t;
}

}  // namespace

bool Verbose() {
  static const bool verbose = std::getenv("RECSHIP_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

void CheckOk(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "fuzz setup failed: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

const std::string& TempDir() {
  if (temp_dir == nullptr) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/recship-fuzz-XXXXXX";
    Check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    temp_dir = new std::string(pattern);
    std::atexit(RemoveTempDir);
  }
  return *temp_dir;
}

void WriteScratchFile(const std::string& path, absl::string_view contents) {
  // Overwrite, then cut to size, rather than O_TRUNC: ext4 flushes a file
  // that was truncated to zero when it is closed, which would make every
  // fuzz iteration wait for the disk.
  const off_t size = static_cast<off_t>(contents.size());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  Check(fd >= 0, "open scratch file");
  for (off_t offset = 0; !contents.empty();) {
    ssize_t n = ::pwrite(fd, contents.data(), contents.size(), offset);
    Check(n > 0, "write scratch file");
    contents.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  Check(::ftruncate(fd, size) == 0, "ftruncate scratch file");
  ::close(fd);
}

std::string ReadWholeFile(const std::string& path) {
  auto contents = ReadFileToString(path);
  CheckOk(contents.status(), "read file");
  return *std::move(contents);
}

void WriteSampleBundle(const std::string& prefix, int num_shards) {
  auto writer = BundleWriter::Create(prefix, {.num_shards = num_shards});
  CheckOk(writer.status(), "create sample bundle");
  BundleWriter& w = **writer;
  auto shard = [&](int i) { return i % num_shards; };
  CheckOk(w.Add("dense/kernel", Filled<float>(tensorflow::DT_FLOAT, {4, 3}, 1), shard(0)), "add");
  CheckOk(w.Add("dense/bias", Filled<float>(tensorflow::DT_FLOAT, {3}, 2), shard(1)), "add");
  CheckOk(w.Add("double", Filled<double>(tensorflow::DT_DOUBLE, {2}, 3), shard(0)), "add");
  CheckOk(w.Add("global_step", Tensor::FromVector<int64_t>({}, {1234}), shard(1)), "add");
  CheckOk(w.Add("emb/shard_0-keys", Filled<int64_t>(tensorflow::DT_INT64, {5}, 4), shard(0)),
          "add");
  CheckOk(w.Add("emb/shard_0-values", Filled<float>(tensorflow::DT_FLOAT, {5, 2}, 5), shard(1)),
          "add");
  CheckOk(w.Add("int32", Filled<int32_t>(tensorflow::DT_INT32, {2, 1, 2}, 6), shard(0)), "add");
  CheckOk(w.Add("flags", Tensor::FromVector<bool>({3}, {true, false, true}), shard(1)), "add");
  CheckOk(w.Add("half", Filled<uint16_t>(tensorflow::DT_HALF, {2}, 7), shard(0)), "add");
  CheckOk(w.Add("empty", Tensor::Create(tensorflow::DT_FLOAT, {0, 4}).value(), shard(1)), "add");
  CheckOk(w.Add("names", Tensor::FromStrings({3}, {"alpha", "", std::string(200, 'z')}), shard(0)),
          "add");
  CheckOk(w.Add("no_strings", Tensor::FromStrings({0}, {}), shard(1)), "add");
  CheckOk(w.Add("one_string", Tensor::FromStrings({}, {"scalar"}), shard(0)), "add");
  // Many similar entries, so the index compresses and the snappy seed really
  // has snappy blocks.
  for (int i = 0; i < 24; ++i) {
    CheckOk(w.Add("tower/layer_" + std::to_string(100 + i) + "/kernel",
                  Filled<float>(tensorflow::DT_FLOAT, {2, 2}, i), shard(i)),
            "add");
  }
  // Streamed in pieces, as large tables are.
  CheckOk(w.BeginTensor("streamed", tensorflow::DT_UINT8, {3, 4}, shard(1)), "begin");
  CheckOk(w.Append("abcdef"), "append");
  CheckOk(w.Append("ghijkl"), "append");
  CheckOk(w.EndTensor(), "end");
  CheckOk(w.Finish(), "finish sample bundle");
}

std::string BuildTable(const std::vector<std::pair<std::string, std::string>>& entries, bool snappy,
                       size_t block_size) {
  std::string out;
  StringSink sink(&out);
  leveldb::Options options;
  options.compression = snappy ? leveldb::kSnappyCompression : leveldb::kNoCompression;
  options.filter_policy = nullptr;
  options.block_size = block_size;
  leveldb::TableBuilder builder(options, &sink);
  for (const auto& [key, value] : entries) builder.Add(key, value);
  Check(builder.Finish().ok(), "TableBuilder::Finish");
  return out;
}

namespace {

void PutMaskedCrc(std::string* out, size_t at, const char* data, size_t n) {
  uint32_t masked = crc32c::Mask(crc32c::Value(data, n));
  std::memcpy(out->data() + at, &masked, sizeof(masked));
}

// Fixes the trailer of the block at `handle` (if it lies in the table) and
// returns its contents, uncompressed, or "" when it cannot.
std::string RepairBlock(std::string* table, absl::string_view* handle) {
  constexpr size_t kFooterSize = 48;
  uint64_t offset, size;
  if (!GetVarint(handle, 64, &offset) || !GetVarint(handle, 64, &size)) return "";
  uint64_t limit = table->size() - kFooterSize;
  if (offset > limit || size > limit - offset || 5 > limit - offset - size) return "";
  // The crc covers the contents and the compression type byte.
  PutMaskedCrc(table, offset + size + 1, table->data() + offset, size + 1);
  const char* contents = table->data() + offset;
  char type = contents[size];
  if (type == 0) return std::string(contents, size);
  std::string uncompressed;
  if (type == 1 && size < (1 << 20) && snappy::IsValidCompressedBuffer(contents, size) &&
      snappy::Uncompress(contents, size, &uncompressed)) {
    return uncompressed;
  }
  return "";
}

}  // namespace

bool RepairTableChecksums(std::string* table) {
  constexpr size_t kFooterSize = 48;
  if (table->size() < kFooterSize) return false;
  const std::string original = *table;
  absl::string_view handles(table->data() + table->size() - kFooterSize, kFooterSize - 8);
  std::string handles_copy(handles.data(), handles.size());
  handles = handles_copy;
  RepairBlock(table, &handles);  // The metaindex block.
  std::string index = RepairBlock(table, &handles);
  // The index block's entries: shared, non_shared, value_length varints, the
  // key suffix, then the value: a data block handle.
  if (index.size() >= 4) {
    uint32_t num_restarts;
    std::memcpy(&num_restarts, index.data() + index.size() - 4, 4);
    if (num_restarts <= (index.size() - 4) / 4) {
      absl::string_view entries(index.data(), index.size() - 4 - 4 * size_t{num_restarts});
      for (int i = 0; i < 10000 && !entries.empty(); ++i) {
        uint64_t shared, non_shared, value_length;
        if (!GetVarint(&entries, 35, &shared) || !GetVarint(&entries, 35, &non_shared) ||
            !GetVarint(&entries, 35, &value_length) || non_shared > entries.size() ||
            value_length > entries.size() - non_shared) {
          break;
        }
        absl::string_view value = entries.substr(non_shared, value_length);
        entries.remove_prefix(non_shared + value_length);
        RepairBlock(table, &value);
      }
    }
  }
  return *table != original;
}

bool RepairTFRecordChecksums(std::string* file) {
  const std::string original = *file;
  for (size_t offset = 0; file->size() - offset >= 12;) {
    PutMaskedCrc(file, offset + 8, file->data() + offset, 8);
    uint64_t length;
    std::memcpy(&length, file->data() + offset, sizeof(length));
    size_t left = file->size() - offset - 12;
    if (left < 4 || length > left - 4) break;
    PutMaskedCrc(file, offset + 12 + length, file->data() + offset + 12, length);
    offset += 16 + length;
  }
  return *file != original;
}

std::vector<std::pair<std::string, std::string>> IndexEntries(const BundleReader& reader) {
  std::vector<std::pair<std::string, std::string>> entries;
  tensorflow::BundleHeaderProto header;
  header.set_num_shards(reader.num_shards());
  header.mutable_version()->set_producer(1);
  entries.emplace_back("", header.SerializeAsString());
  for (const BundleEntry& entry : reader.entries()) {
    tensorflow::BundleEntryProto proto;
    proto.set_dtype(entry.dtype);
    *proto.mutable_shape() = ShapeToProto(entry.shape);
    proto.set_shard_id(entry.shard_id);
    proto.set_offset(static_cast<int64_t>(entry.offset));
    proto.set_size(static_cast<int64_t>(entry.size));
    proto.set_crc32c(entry.masked_crc32c);
    entries.emplace_back(entry.name, proto.SerializeAsString());
  }
  return entries;
}

void ExerciseBundle(const BundleReader& reader, uint64_t chunk) {
  for (const BundleEntry& entry : reader.entries()) {
    Check(reader.Find(entry.name) != nullptr, "Find misses a listed entry");
    absl::StatusOr<Tensor> tensor = reader.Read(entry.name);
    absl::Status verified = reader.Verify(entry.name);
    if (Verbose()) {
      std::fprintf(stderr, "entry '%s': Read: %s\n", entry.name.c_str(),
                   tensor.status().ToString().c_str());
    }
    const size_t element_size = DataTypeSize(entry.dtype);
    const bool numeric = element_size != 0 && IsStorableDataType(entry.dtype);
    if (entry.dtype == tensorflow::DT_STRING || numeric) {
      Check(tensor.ok() == verified.ok(), "Read and Verify disagree");
    }
    if (tensor.ok()) {
      Check(tensor->dtype() == entry.dtype && tensor->shape() == entry.shape,
            "Read returns another dtype or shape");
      if (numeric) Check(tensor->byte_size() == entry.size, "Read returns another size");
    }
    if (element_size == 0) continue;

    // Stream the tensor in pieces; only allocate once the stream is open,
    // which proves the entry fits in its (small) data file.
    absl::StatusOr<TensorStream> stream = reader.OpenStream(entry.name);
    if (!stream.ok()) {
      Check(!tensor.ok() || !numeric, "Read works but OpenStream fails");
      continue;
    }
    std::string streamed(entry.size, '\0');
    absl::Status stream_status;
    uint64_t done = 0;
    do {  // An empty tensor still takes one (empty) read, which checks its crc.
      uint64_t n = std::min(chunk, entry.size - done);
      stream_status = stream->Read(n, streamed.data() + done);
      done += n;
    } while (done < entry.size && stream_status.ok());
    char guard[1];
    if (stream_status.ok()) {
      Check(stream->remaining_bytes() == 0, "stream has bytes left after the whole tensor");
      Check(!stream->Read(1, guard).ok(), "stream reads past the end");
    }
    if (numeric) {
      Check(stream_status.ok() == tensor.ok(), "Read and TensorStream disagree");
      if (tensor.ok()) {
        Check(std::memcmp(streamed.data(), tensor->data(), entry.size) == 0,
              "Read and TensorStream return other bytes");
      }
    }

    // Rows: all of them, then ranges that must be refused.
    int64_t rows = entry.shape.empty() ? 1 : entry.shape[0];
    std::string by_rows(entry.size, '\0');
    absl::Status rows_status = reader.ReadRows(entry.name, 0, rows, by_rows.data());
    if (tensor.ok()) {
      Check(rows_status.ok(), "Read works but ReadRows of all rows fails");
      Check(by_rows == streamed, "ReadRows returns other bytes");
    }
    Check(!reader.ReadRows(entry.name, rows, 1, guard).ok(), "ReadRows past the end works");
    Check(!reader.ReadRows(entry.name, -1, 1, guard).ok(), "ReadRows before row 0 works");
    Check(!reader.ReadRows(entry.name, 0, -1, guard).ok(), "ReadRows of -1 rows works");
  }
}

std::string EncodeEntryInput(size_t dtype_index, uint8_t flags, const TensorShape& shape,
                             absl::string_view shard) {
  std::string out;
  out.push_back(static_cast<char>(dtype_index));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(shape.size()));
  for (int64_t dim : shape) {
    for (uint64_t v = static_cast<uint64_t>(dim);; v >>= 7) {
      out.push_back(static_cast<char>(v >= 0x80 ? (v & 0x7f) | 0x80 : v));
      if (v < 0x80) break;
    }
  }
  out.append(shard.data(), shard.size());
  return out;
}

}  // namespace recship::fuzz
