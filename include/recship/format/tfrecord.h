// TFRecord files: a sequence of records, each framed as
//   uint64 length | masked crc32c(length) | data | masked crc32c(data)
// (little-endian). TensorFlow Serving's warmup file is one of these.
#ifndef RECSHIP_FORMAT_TFRECORD_H_
#define RECSHIP_FORMAT_TFRECORD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/core/file.h"

namespace recship {

// Appends records to a new file. Close() makes them durable.
class TFRecordWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TFRecordWriter>> Create(const std::string& path);
  absl::Status Write(absl::string_view record);
  // Flushes, fsyncs and closes.
  absl::Status Close();

 private:
  explicit TFRecordWriter(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}
  std::unique_ptr<WritableFile> file_;
};

// Reads records in order, checking both checksums of each. Read() returns
// OutOfRange at a clean end of file, DataLoss (naming the file and offset)
// for a truncated or corrupt record. A record is never larger than the rest
// of the file, so a corrupt length cannot cause a huge allocation.
class TFRecordReader {
 public:
  static absl::StatusOr<std::unique_ptr<TFRecordReader>> Open(const std::string& path);
  explicit TFRecordReader(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)) {}

  absl::Status Read(std::string* record);
  uint64_t offset() const { return offset_; }

 private:
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t offset_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_FORMAT_TFRECORD_H_
