#include "recship/format/tfrecord.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "recship/core/crc32c.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

constexpr size_t kHeaderSize = sizeof(uint64_t) + sizeof(uint32_t);
constexpr size_t kFooterSize = sizeof(uint32_t);

uint32_t MaskedCrc(const void* data, size_t n) { return crc32c::Mask(crc32c::Value(data, n)); }

}  // namespace

absl::StatusOr<std::unique_ptr<TFRecordWriter>> TFRecordWriter::Create(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(auto file, WritableFile::Create(path));
  return std::unique_ptr<TFRecordWriter>(new TFRecordWriter(std::move(file)));
}

absl::Status TFRecordWriter::Write(absl::string_view record) {
  char header[kHeaderSize];
  uint64_t length = record.size();
  std::memcpy(header, &length, sizeof(length));
  uint32_t length_crc = MaskedCrc(header, sizeof(length));
  std::memcpy(header + sizeof(length), &length_crc, sizeof(length_crc));
  uint32_t data_crc = MaskedCrc(record.data(), record.size());
  char footer[kFooterSize];
  std::memcpy(footer, &data_crc, sizeof(data_crc));
  RECSHIP_RETURN_IF_ERROR(file_->Append(absl::string_view(header, kHeaderSize)));
  RECSHIP_RETURN_IF_ERROR(file_->Append(record));
  return file_->Append(absl::string_view(footer, kFooterSize));
}

absl::Status TFRecordWriter::Close() {
  RECSHIP_RETURN_IF_ERROR(file_->Sync());
  return file_->Close();
}

absl::StatusOr<std::unique_ptr<TFRecordReader>> TFRecordReader::Open(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(auto file, OpenRandomAccessFile(path));
  return std::make_unique<TFRecordReader>(std::move(file));
}

absl::Status TFRecordReader::Read(std::string* record) {
  const uint64_t size = file_->size();
  if (offset_ == size) return absl::OutOfRangeError(absl::StrCat(file_->name(), ": end of file"));
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(file_->name(), ": record at offset ", offset_, ": ", what));
  };
  if (size - offset_ < kHeaderSize) return corrupt("truncated header");
  char header[kHeaderSize];
  RECSHIP_RETURN_IF_ERROR(file_->Read(offset_, kHeaderSize, header));
  uint64_t length;
  uint32_t length_crc;
  std::memcpy(&length, header, sizeof(length));
  std::memcpy(&length_crc, header + sizeof(length), sizeof(length_crc));
  if (MaskedCrc(header, sizeof(length)) != length_crc) return corrupt("length checksum mismatch");
  uint64_t available = size - offset_ - kHeaderSize;
  if (available < kFooterSize || length > available - kFooterSize) {
    return corrupt(absl::StrCat("claims ", length, " bytes but the file has ", available,
                                " bytes left (truncated)"));
  }
  record->resize(length);
  RECSHIP_RETURN_IF_ERROR(file_->Read(offset_ + kHeaderSize, length, record->data()));
  uint32_t data_crc;
  RECSHIP_RETURN_IF_ERROR(
      file_->Read(offset_ + kHeaderSize + length, kFooterSize, reinterpret_cast<char*>(&data_crc)));
  if (MaskedCrc(record->data(), length) != data_crc) return corrupt("data checksum mismatch");
  offset_ += kHeaderSize + length + kFooterSize;
  return absl::OkStatus();
}

}  // namespace recship
