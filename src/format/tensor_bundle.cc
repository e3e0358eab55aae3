#include "recship/format/tensor_bundle.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/core/coding.h"
#include "recship/core/crc32c.h"
#include "recship/core/status_macros.h"
#include "recship/tensorflow/core/protobuf/tensor_bundle.pb.h"
#include "sstable.h"

namespace recship {
namespace {

constexpr int kMaxShards = 1 << 20;
constexpr uint64_t kVerifyChunk = 4 << 20;

// TensorFlow folds each string length into the crc as a 4-byte integer, or as
// 8 bytes when it does not fit (tensor_bundle.cc, WriteStringTensor).
uint32_t ExtendWithLength(uint32_t crc, uint64_t length) {
  if (length <= std::numeric_limits<uint32_t>::max()) {
    uint32_t length32 = static_cast<uint32_t>(length);
    return crc32c::Extend(crc, &length32, sizeof(length32));
  }
  return crc32c::Extend(crc, &length, sizeof(length));
}

uint64_t ElementsPerRow(const TensorShape& shape) {
  uint64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= static_cast<uint64_t>(shape[i]);
  return n;
}

absl::Status ChecksumMismatch(const BundleEntry& entry, const std::string& file) {
  return absl::DataLossError(
      absl::StrCat(file, ": tensor '", entry.name, "' fails its crc32c check (data corrupt)"));
}
absl::Status ChecksumMismatch(const BundleEntry& entry, const RandomAccessFile& file) {
  return ChecksumMismatch(entry, file.name());
}

absl::Status CheckEntryFits(const BundleEntry& entry, const std::string& file, uint64_t size) {
  if (entry.offset > size || entry.size > size - entry.offset) {
    return absl::DataLossError(absl::StrCat(file, ": tensor '", entry.name, "' claims ", entry.size,
                                            " bytes at offset ", entry.offset, " but the file has ",
                                            size, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string BundleIndexPath(absl::string_view prefix) { return absl::StrCat(prefix, ".index"); }

std::string BundleDataPath(absl::string_view prefix, int shard, int num_shards) {
  return absl::StrFormat("%s.data-%05d-of-%05d", prefix, shard, num_shards);
}

// ---------------------------------------------------------------- writer

absl::Status WriteBundleIndex(absl::string_view prefix, int num_shards,
                              const std::vector<BundleEntry>& entries) {
  std::vector<std::pair<std::string, std::string>> table;
  table.reserve(entries.size() + 1);
  tensorflow::BundleHeaderProto header;
  header.set_num_shards(num_shards);
  header.set_endianness(tensorflow::BundleHeaderProto::LITTLE);
  header.mutable_version()->set_producer(1);
  table.emplace_back("", header.SerializeAsString());
  for (const BundleEntry& entry : entries) {
    tensorflow::BundleEntryProto proto;
    proto.set_dtype(entry.dtype);
    *proto.mutable_shape() = ShapeToProto(entry.shape);
    proto.set_shard_id(entry.shard_id);
    proto.set_offset(static_cast<int64_t>(entry.offset));
    proto.set_size(static_cast<int64_t>(entry.size));
    proto.set_crc32c(entry.masked_crc32c);
    table.emplace_back(entry.name, proto.SerializeAsString());
  }
  std::sort(table.begin(), table.end());
  for (size_t i = 1; i < table.size(); ++i) {
    if (table[i].first == table[i - 1].first) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle ", prefix, ": tensor '", table[i].first, "' listed twice"));
    }
  }
  // Written aside and renamed, so an .index that exists is always whole.
  std::string index = BundleIndexPath(prefix);
  std::string temp = absl::StrCat(index, ".tmp");
  absl::Status status = sstable::WriteTable(temp, table);
  if (status.ok() && std::rename(temp.c_str(), index.c_str()) != 0) {
    status = ErrnoToStatus(errno, absl::StrCat("renaming ", temp, " to ", index));
  }
  if (!status.ok()) {
    std::remove(temp.c_str());
    return status;
  }
  std::string dir = std::filesystem::path(index).parent_path().string();
  return SyncDirectory(dir.empty() ? "." : dir);
}

BundleWriter::BundleWriter(std::string prefix, Options options)
    : prefix_(std::move(prefix)), options_(options) {
  shards_.resize(static_cast<size_t>(options_.num_shards));
}

absl::StatusOr<std::unique_ptr<BundleWriter>> BundleWriter::Create(std::string prefix,
                                                                   Options options) {
  if (options.num_shards < 1 || options.num_shards > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", prefix,
                                                   ": num_shards must be in [1, ", kMaxShards,
                                                   "], not ", options.num_shards));
  }
  return std::unique_ptr<BundleWriter>(new BundleWriter(std::move(prefix), options));
}

BundleWriter::~BundleWriter() {
  if (finished_) return;
  for (int i = 0; i < options_.num_shards; ++i) {
    if (shards_[static_cast<size_t>(i)] != nullptr) {
      ::unlink(BundleDataPath(prefix_, i, options_.num_shards).c_str());
    }
  }
}

absl::Status BundleWriter::Fail(absl::Status status) {
  if (status_.ok()) status_ = status;
  return status;
}

absl::Status BundleWriter::StartEntry(absl::string_view name, DataType dtype, TensorShape shape,
                                      int shard) {
  RECSHIP_RETURN_IF_ERROR(status_);
  if (finished_) return absl::FailedPreconditionError("bundle writer already finished");
  if (shard < 0 || shard >= options_.num_shards) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", prefix_, ": tensor '", name,
                                                   "' names shard ", shard, " of ",
                                                   options_.num_shards));
  }
  if (auto open = open_.find(shard); open != open_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", prefix_, ": tensor '",
                                                      open->second.entry.name,
                                                      "' is still open in shard ", shard));
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle ", prefix_, ": a tensor name may not be empty (it holds the header)"));
  }
  bool open_elsewhere = false;
  for (const auto& [other, open] : open_) open_elsewhere |= open.entry.name == name;
  if (entries_.contains(name) || open_elsewhere) {
    return absl::AlreadyExistsError(
        absl::StrCat("bundle ", prefix_, ": tensor '", name, "' added twice"));
  }
  if (!IsStorableDataType(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bundle ", prefix_, ": tensor '", name, "' has unsupported dtype ", DataTypeName(dtype)));
  }
  RECSHIP_RETURN_IF_ERROR(NumElements(shape).status());
  auto& file = shards_[static_cast<size_t>(shard)];
  if (file == nullptr) {
    auto created = WritableFile::Create(BundleDataPath(prefix_, shard, options_.num_shards));
    if (!created.ok()) return Fail(created.status());
    file = std::move(created).value();
  }
  const auto alignment = static_cast<uint64_t>(std::max(options_.data_alignment, 1));
  if (dtype != tensorflow::DT_STRING && file->size() % alignment != 0) {
    absl::Status padded = file->Append(std::string(alignment - file->size() % alignment, '\0'));
    if (!padded.ok()) return Fail(padded);
  }
  OpenTensor& open = open_[shard];
  open.entry = BundleEntry{std::string(name), dtype, std::move(shape), shard, file->size(), 0, 0};
  open.crc = 0;
  open.expected =
      dtype == tensorflow::DT_STRING
          ? 0
          : static_cast<uint64_t>(NumElements(open.entry.shape).value()) * DataTypeSize(dtype);
  return absl::OkStatus();
}

absl::Status BundleWriter::AppendToShard(OpenTensor& open, absl::string_view bytes) {
  open.crc = crc32c::Extend(open.crc, bytes.data(), bytes.size());
  open.entry.size += bytes.size();
  absl::Status status = shards_[static_cast<size_t>(open.entry.shard_id)]->Append(bytes);
  return status.ok() ? status : Fail(status);
}

absl::StatusOr<BundleWriter::OpenTensor*> BundleWriter::OnlyOpenTensor() {
  if (open_.size() == 1) return &open_.begin()->second;
  return absl::FailedPreconditionError(
      open_.empty() ? "Append or EndTensor outside BeginTensor/EndTensor"
                    : "several tensors are open: name the shard to append to or end");
}

absl::Status BundleWriter::BeginTensor(absl::string_view name, DataType dtype, TensorShape shape,
                                       int shard) {
  if (dtype == tensorflow::DT_STRING) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", prefix_, ": string tensor '", name,
                                                   "' must be added whole with Add"));
  }
  return StartEntry(name, dtype, std::move(shape), shard);
}

absl::Status BundleWriter::Append(absl::string_view bytes) {
  RECSHIP_RETURN_IF_ERROR(status_);
  RECSHIP_ASSIGN_OR_RETURN(OpenTensor * open, OnlyOpenTensor());
  return Append(open->entry.shard_id, bytes);
}

absl::Status BundleWriter::Append(int shard, absl::string_view bytes) {
  RECSHIP_RETURN_IF_ERROR(status_);
  auto it = open_.find(shard);
  if (it == open_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("no tensor is open in shard ", shard));
  }
  OpenTensor& open = it->second;
  if (bytes.size() > open.expected - open.entry.size) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "bundle ", prefix_, ": tensor '", open.entry.name, "' of shape ",
        ShapeToString(open.entry.shape), " takes ", open.expected, " bytes; more were appended")));
  }
  return AppendToShard(open, bytes);
}

absl::Status BundleWriter::EndTensor() {
  RECSHIP_RETURN_IF_ERROR(status_);
  RECSHIP_ASSIGN_OR_RETURN(OpenTensor * open, OnlyOpenTensor());
  return EndTensor(open->entry.shard_id);
}

absl::Status BundleWriter::EndTensor(int shard) {
  RECSHIP_RETURN_IF_ERROR(status_);
  auto it = open_.find(shard);
  if (it == open_.end()) return absl::FailedPreconditionError("EndTensor without BeginTensor");
  OpenTensor& open = it->second;
  if (open.entry.size != open.expected) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("bundle ", prefix_, ": tensor '", open.entry.name, "' of shape ",
                     ShapeToString(open.entry.shape), " takes ", open.expected, " bytes; only ",
                     open.entry.size, " were appended")));
  }
  open.entry.masked_crc32c = crc32c::Mask(open.crc);
  std::string name = open.entry.name;
  entries_.emplace(std::move(name), std::move(open.entry));
  open_.erase(it);
  return absl::OkStatus();
}

// Layout (TensorFlow's WriteStringTensor): varint64 length of each string,
// fixed32 masked crc of the lengths, then the bytes of every string.
absl::Status BundleWriter::AddStrings(OpenTensor& open, const Tensor& tensor) {
  std::string lengths;
  uint32_t length_crc = 0;
  for (const std::string& s : tensor.strings()) {
    PutVarint64(&lengths, s.size());
    length_crc = ExtendWithLength(length_crc, s.size());
  }
  // The entry crc covers the length integers, then the stored length crc,
  // then the string bytes; the lengths' varint bytes themselves are not in it.
  open.crc = length_crc;
  open.entry.size = lengths.size();
  auto& file = shards_[static_cast<size_t>(open.entry.shard_id)];
  if (absl::Status s = file->Append(lengths); !s.ok()) return Fail(s);
  uint32_t masked = crc32c::Mask(length_crc);
  char masked_bytes[4];
  std::memcpy(masked_bytes, &masked, 4);
  RECSHIP_RETURN_IF_ERROR(AppendToShard(open, absl::string_view(masked_bytes, 4)));
  for (const std::string& s : tensor.strings()) RECSHIP_RETURN_IF_ERROR(AppendToShard(open, s));
  return absl::OkStatus();
}

absl::Status BundleWriter::Add(absl::string_view name, const Tensor& tensor, int shard) {
  if (tensor.dtype() == tensorflow::DT_STRING &&
      tensor.strings().size() != static_cast<uint64_t>(tensor.num_elements())) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", prefix_, ": string tensor '", name,
                                                   "' of shape ", ShapeToString(tensor.shape()),
                                                   " holds ", tensor.strings().size(), " strings"));
  }
  RECSHIP_RETURN_IF_ERROR(StartEntry(name, tensor.dtype(), tensor.shape(), shard));
  OpenTensor& open = open_.at(shard);
  if (tensor.dtype() == tensorflow::DT_STRING) {
    RECSHIP_RETURN_IF_ERROR(AddStrings(open, tensor));
  } else {
    RECSHIP_RETURN_IF_ERROR(AppendToShard(
        open, absl::string_view(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size())));
  }
  open.expected = open.entry.size;
  return EndTensor(shard);
}

absl::Status BundleWriter::Finish() {
  RECSHIP_RETURN_IF_ERROR(status_);
  if (finished_) return absl::FailedPreconditionError("bundle writer already finished");
  if (!open_.empty()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "bundle ", prefix_, ": tensor '", open_.begin()->second.entry.name, "' was never ended")));
  }
  for (int i = 0; i < options_.num_shards; ++i) {
    auto& file = shards_[static_cast<size_t>(i)];
    if (file == nullptr) {  // Every shard file exists, even an empty one.
      auto created = WritableFile::Create(BundleDataPath(prefix_, i, options_.num_shards));
      if (!created.ok()) return Fail(created.status());
      file = std::move(created).value();
    }
    if (absl::Status s = file->Sync(); !s.ok()) return Fail(s);
    if (absl::Status s = file->Close(); !s.ok()) return Fail(s);
  }
  std::vector<BundleEntry> entries;
  entries.reserve(entries_.size());
  for (auto& [name, entry] : entries_) entries.push_back(std::move(entry));
  if (absl::Status s = WriteBundleIndex(prefix_, options_.num_shards, entries); !s.ok()) {
    return Fail(s);
  }
  finished_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- stream

TensorStream::TensorStream(BundleEntry entry, const RandomAccessFile* file)
    : entry_(std::move(entry)), file_(file) {
  row_bytes_ = entry_.shape.empty() ? entry_.size
                                    : ElementsPerRow(entry_.shape) * DataTypeSize(entry_.dtype);
}

absl::Status TensorStream::Read(uint64_t n, char* out) {
  if (n > remaining_bytes()) {
    return absl::OutOfRangeError(absl::StrCat("tensor '", entry_.name, "': read of ", n,
                                              " bytes with only ", remaining_bytes(), " left"));
  }
  RECSHIP_RETURN_IF_ERROR(file_->Read(entry_.offset + position_, n, out));
  crc_ = crc32c::Extend(crc_, out, n);
  position_ += n;
  if (position_ == entry_.size && crc32c::Mask(crc_) != entry_.masked_crc32c) {
    return ChecksumMismatch(entry_, *file_);
  }
  return absl::OkStatus();
}

absl::Status TensorStream::ReadRows(int64_t rows, void* out) {
  if (rows < 0 ||
      (row_bytes_ != 0 && static_cast<uint64_t>(rows) > remaining_bytes() / row_bytes_)) {
    return absl::OutOfRangeError(
        absl::StrCat("tensor '", entry_.name, "': cannot read ", rows, " more rows"));
  }
  return Read(static_cast<uint64_t>(rows) * row_bytes_, static_cast<char*>(out));
}

// ---------------------------------------------------------------- reader

absl::StatusOr<std::unique_ptr<BundleReader>> BundleReader::Open(std::string prefix) {
  RECSHIP_ASSIGN_OR_RETURN(auto index, OpenRandomAccessFile(BundleIndexPath(prefix)));
  return OpenWithIndex(std::move(prefix), *index);
}

absl::StatusOr<std::unique_ptr<BundleReader>> BundleReader::OpenWithIndex(
    std::string prefix, const RandomAccessFile& index) {
  std::unique_ptr<BundleReader> reader(new BundleReader(std::move(prefix)));
  RECSHIP_RETURN_IF_ERROR(reader->LoadIndex(index));
  return reader;
}

absl::Status BundleReader::LoadIndex(const RandomAccessFile& index) {
  const std::string& file = index.name();
  bool have_header = false;
  RECSHIP_RETURN_IF_ERROR(sstable::ForEachEntry(
      index, [&](absl::string_view key, absl::string_view value) -> absl::Status {
        if (key.empty()) {
          tensorflow::BundleHeaderProto header;
          if (!header.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            return absl::DataLossError(absl::StrCat(file, ": bundle header does not parse"));
          }
          if (header.num_shards() < 1 || header.num_shards() > kMaxShards) {
            return absl::DataLossError(
                absl::StrCat(file, ": bundle header claims ", header.num_shards(), " shards"));
          }
          if (header.endianness() != tensorflow::BundleHeaderProto::LITTLE) {
            return absl::UnimplementedError(
                absl::StrCat(file, ": big-endian bundles are not supported"));
          }
          num_shards_ = header.num_shards();
          have_header = true;
          return absl::OkStatus();
        }
        auto bad = [&](absl::string_view what) {
          return absl::DataLossError(absl::StrCat(file, ": entry for tensor '", key, "' ", what));
        };
        tensorflow::BundleEntryProto proto;
        if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return bad("does not parse");
        }
        if (!proto.slices().empty()) {
          return absl::UnimplementedError(
              absl::StrCat(file, ": tensor '", key,
                           "' is partitioned into slices, which recship does not read"));
        }
        auto shape = ShapeFromProto(proto.shape());
        if (!shape.ok()) return bad(shape.status().message());
        if (proto.offset() < 0 || proto.size() < 0) return bad("has a negative offset or size");
        BundleEntry entry{std::string(key),
                          proto.dtype(),
                          *std::move(shape),
                          proto.shard_id(),
                          static_cast<uint64_t>(proto.offset()),
                          static_cast<uint64_t>(proto.size()),
                          proto.crc32c()};
        uint64_t elements = static_cast<uint64_t>(NumElements(entry.shape).value());
        size_t element_size = DataTypeSize(entry.dtype);
        if (element_size != 0 && (elements > std::numeric_limits<uint64_t>::max() / element_size ||
                                  elements * element_size != entry.size)) {
          return bad(absl::StrCat("claims ", entry.size, " bytes for shape ",
                                  ShapeToString(entry.shape), " of ", DataTypeName(entry.dtype)));
        }
        if (entry.dtype == tensorflow::DT_STRING && (entry.size < 4 || elements > entry.size)) {
          return bad(absl::StrCat("claims ", entry.size, " bytes for ", elements, " strings"));
        }
        entries_.push_back(std::move(entry));
        return absl::OkStatus();
      }));
  if (!have_header) return absl::DataLossError(absl::StrCat(file, ": bundle has no header entry"));
  for (const BundleEntry& entry : entries_) {
    if (entry.shard_id < 0 || entry.shard_id >= num_shards_) {
      return absl::DataLossError(absl::StrCat(file, ": tensor '", entry.name, "' names shard ",
                                              entry.shard_id, " of ", num_shards_));
    }
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const BundleEntry& a, const BundleEntry& b) { return a.name < b.name; });
  absl::MutexLock lock(&mu_);
  shards_.resize(static_cast<size_t>(num_shards_));
  mapped_shards_.resize(static_cast<size_t>(num_shards_));
  return absl::OkStatus();
}

const BundleEntry* BundleReader::Find(absl::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const BundleEntry& e, absl::string_view n) { return e.name < n; });
  return (it != entries_.end() && it->name == name) ? &*it : nullptr;
}

absl::StatusOr<const BundleEntry*> BundleReader::Lookup(absl::string_view name) const {
  const BundleEntry* entry = Find(name);
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("tensor '", name, "' not found in checkpoint ", prefix_));
  }
  return entry;
}

absl::StatusOr<const RandomAccessFile*> BundleReader::DataFile(const BundleEntry& entry) const {
  absl::MutexLock lock(&mu_);
  auto& shard = shards_[static_cast<size_t>(entry.shard_id)];
  if (shard == nullptr) {
    RECSHIP_ASSIGN_OR_RETURN(
        shard, OpenRandomAccessFile(BundleDataPath(prefix_, entry.shard_id, num_shards_)));
  }
  RECSHIP_RETURN_IF_ERROR(CheckEntryFits(entry, shard->name(), shard->size()));
  return shard.get();
}

absl::StatusOr<std::shared_ptr<const MappedFile>> BundleReader::MappedDataFile(
    const BundleEntry& entry) const {
  absl::MutexLock lock(&mu_);
  auto& shard = mapped_shards_[static_cast<size_t>(entry.shard_id)];
  if (shard == nullptr) {
    InstallSigbusGuard();
    RECSHIP_ASSIGN_OR_RETURN(
        shard, MappedFile::Open(BundleDataPath(prefix_, entry.shard_id, num_shards_)));
  }
  RECSHIP_RETURN_IF_ERROR(CheckEntryFits(entry, shard->name(), shard->size()));
  return shard;
}

absl::StatusOr<Tensor> BundleReader::Map(absl::string_view name) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, LookupNumeric(name));
  if (entry->offset % DataTypeSize(entry->dtype) != 0) return Read(name);
  RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedDataFile(*entry));
  std::byte* begin = file->data() + entry->offset;
  if (crc32c::Mask(crc32c::Value(begin, entry->size)) != entry->masked_crc32c) {
    return ChecksumMismatch(*entry, file->name());
  }
  file->AdviseRandom(entry->offset, entry->size);
  return Tensor::View(entry->dtype, entry->shape, std::shared_ptr<std::byte>(file, begin),
                      entry->size);
}

absl::StatusOr<const BundleEntry*> BundleReader::LookupNumeric(absl::string_view name) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, Lookup(name));
  if (DataTypeSize(entry->dtype) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' in ", prefix_,
                                                   " has dtype ", DataTypeName(entry->dtype),
                                                   ", which cannot be streamed by rows"));
  }
  return entry;
}

absl::StatusOr<Tensor> BundleReader::Read(absl::string_view name) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, Lookup(name));
  if (!IsStorableDataType(entry->dtype)) {
    return absl::UnimplementedError(absl::StrCat("tensor '", name, "' in ", prefix_, " has dtype ",
                                                 DataTypeName(entry->dtype),
                                                 ", which recship does not read"));
  }
  RECSHIP_ASSIGN_OR_RETURN(const RandomAccessFile* file, DataFile(*entry));
  RECSHIP_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Create(entry->dtype, entry->shape));
  if (entry->dtype != tensorflow::DT_STRING) {
    RECSHIP_RETURN_IF_ERROR(
        file->Read(entry->offset, entry->size, reinterpret_cast<char*>(tensor.data())));
    if (crc32c::Mask(crc32c::Value(tensor.data(), entry->size)) != entry->masked_crc32c) {
      return ChecksumMismatch(*entry, *file);
    }
    return tensor;
  }
  std::string raw(entry->size, '\0');
  RECSHIP_RETURN_IF_ERROR(file->Read(entry->offset, raw.size(), raw.data()));
  absl::string_view in(raw);
  uint32_t crc = 0;
  std::vector<uint64_t> lengths(tensor.strings().size());
  uint64_t total = 0;
  for (uint64_t& length : lengths) {
    if (!GetVarint(&in, 64, &length) || length > raw.size() - total) {
      return absl::DataLossError(
          absl::StrCat(file->name(), ": string tensor '", name, "' has a bad length"));
    }
    total += length;
    crc = ExtendWithLength(crc, length);
  }
  if (in.size() < 4 || DecodeFixed32(in.data()) != crc32c::Mask(crc)) {
    return ChecksumMismatch(*entry, *file);
  }
  crc = crc32c::Extend(crc, in.data(), 4);
  in.remove_prefix(4);
  if (in.size() != total) {
    return absl::DataLossError(absl::StrCat(file->name(), ": string tensor '", name, "' holds ",
                                            in.size(), " string bytes, its lengths say ", total));
  }
  crc = crc32c::Extend(crc, in.data(), in.size());
  if (crc32c::Mask(crc) != entry->masked_crc32c) return ChecksumMismatch(*entry, *file);
  for (size_t i = 0; i < lengths.size(); ++i) {
    tensor.strings()[i].assign(in.data(), lengths[i]);
    in.remove_prefix(lengths[i]);
  }
  return tensor;
}

absl::Status BundleReader::Verify(absl::string_view name) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, Lookup(name));
  if (entry->dtype == tensorflow::DT_STRING || !IsStorableDataType(entry->dtype)) {
    return Read(name).status();  // Read names an unsupported dtype.
  }
  RECSHIP_ASSIGN_OR_RETURN(const RandomAccessFile* file, DataFile(*entry));
  std::vector<char> buffer(std::min<uint64_t>(entry->size, kVerifyChunk));
  uint32_t crc = 0;
  for (uint64_t done = 0; done < entry->size;) {
    uint64_t n = std::min<uint64_t>(entry->size - done, buffer.size());
    RECSHIP_RETURN_IF_ERROR(file->Read(entry->offset + done, n, buffer.data()));
    crc = crc32c::Extend(crc, buffer.data(), n);
    done += n;
  }
  if (crc32c::Mask(crc) != entry->masked_crc32c) return ChecksumMismatch(*entry, *file);
  return absl::OkStatus();
}

absl::StatusOr<TensorStream> BundleReader::OpenStream(absl::string_view name) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, LookupNumeric(name));
  RECSHIP_ASSIGN_OR_RETURN(const RandomAccessFile* file, DataFile(*entry));
  // An empty tensor has no last byte to check at: check its crc now.
  if (entry->size == 0 && crc32c::Mask(0) != entry->masked_crc32c) {
    return ChecksumMismatch(*entry, *file);
  }
  return TensorStream(*entry, file);
}

absl::Status BundleReader::ReadRows(absl::string_view name, int64_t first_row, int64_t num_rows,
                                    void* out) const {
  RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, LookupNumeric(name));
  RECSHIP_ASSIGN_OR_RETURN(const RandomAccessFile* file, DataFile(*entry));
  int64_t rows = entry->shape.empty() ? 1 : entry->shape[0];
  if (first_row < 0 || num_rows < 0 || first_row > rows || num_rows > rows - first_row) {
    return absl::OutOfRangeError(absl::StrCat("tensor '", name, "' has ", rows,
                                              " rows; cannot read ", num_rows, " from row ",
                                              first_row));
  }
  uint64_t row_bytes = entry->shape.empty()
                           ? entry->size
                           : ElementsPerRow(entry->shape) * DataTypeSize(entry->dtype);
  return file->Read(entry->offset + static_cast<uint64_t>(first_row) * row_bytes,
                    static_cast<uint64_t>(num_rows) * row_bytes, static_cast<char*>(out));
}

}  // namespace recship
