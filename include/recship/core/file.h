// Files with absl::Status errors that name the path: a buffered writable file,
// random-access readers (on disk or in memory), and durable whole-file helpers.
#ifndef RECSHIP_CORE_FILE_H_
#define RECSHIP_CORE_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recship {

// Turns errno `err` into a Status whose code follows the error (NotFound,
// AlreadyExists, PermissionDenied, ResourceExhausted, ...) and whose message
// is "<context>: <strerror>".
absl::Status ErrnoToStatus(int err, absl::string_view context);

// An append-only file with a write buffer. Promises: every byte passed to
// Append is on disk after Close, and durable after Sync then Close. Errors
// name the path. The destructor closes the file without syncing.
class WritableFile {
 public:
  // Creates (or truncates) `path`.
  static absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path);
  ~WritableFile();
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;

  absl::Status Append(absl::string_view data);
  absl::Status Flush();
  // Flushes and fsyncs.
  absl::Status Sync();
  absl::Status Close();

  // Bytes appended so far.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  WritableFile(std::string path, int fd);
  absl::Status WriteAll(const char* data, size_t n);

  std::string path_;
  int fd_;
  uint64_t size_ = 0;
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;
};

// Reads byte ranges of a file that does not change while it is open. Safe to
// call from several threads at once.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;

  // Reads exactly `n` bytes at `offset` into `out`. A range past the end of
  // the file is a DataLoss error naming the file.
  virtual absl::Status Read(uint64_t offset, size_t n, char* out) const = 0;
  virtual uint64_t size() const = 0;
  virtual const std::string& name() const = 0;
};

// Opens `path` for pread-based reads.
absl::StatusOr<std::unique_ptr<RandomAccessFile>> OpenRandomAccessFile(const std::string& path);

// A RandomAccessFile over bytes in memory, called `name` in error messages.
std::unique_ptr<RandomAccessFile> NewStringFile(std::string name, std::string contents);

// Reads all of `path`. A file over `max_bytes` is an error, so a wrong path
// cannot make the caller allocate without bound.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             uint64_t max_bytes = uint64_t{1} << 31);

// Writes `contents` to `path` durably and atomically: a temporary sibling is
// written, fsynced and renamed over `path`, and the folder is fsynced.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Copies `from` to a new file `to` (kernel-side where the system allows).
absl::Status CopyFile(const std::string& from, const std::string& to);

// How a file's bytes were shared (or, at worst, copied).
enum class CloneMethod { kHardLink, kReflink, kCopy };
const char* CloneMethodName(CloneMethod method);

// Makes `to` share the bytes of `from`: a hard link, else (across
// filesystems) a reflink. Empty, with no `to` left behind, when the
// filesystems allow neither.
absl::StatusOr<std::optional<CloneMethod>> LinkOrReflinkFile(const std::string& from,
                                                             const std::string& to);

// fsyncs a folder, so a rename or create inside it survives a crash.
absl::Status SyncDirectory(const std::string& path);

// fsyncs every file and folder under `path`, then `path` itself.
absl::Status SyncTree(const std::string& path);

}  // namespace recship

#endif  // RECSHIP_CORE_FILE_H_
