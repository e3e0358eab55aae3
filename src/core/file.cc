#include "recship/core/file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

constexpr size_t kWriteBufferSize = 1 << 20;

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::StatusCode::kNotFound;
    case EEXIST:
    case ENOTEMPTY:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::StatusCode::kResourceExhausted;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case EXDEV:
    case EOPNOTSUPP:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kInternal;
  }
}

class PosixRandomAccessFile : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string name, int fd, uint64_t size)
      : name_(std::move(name)), fd_(fd), size_(size) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  absl::Status Read(uint64_t offset, size_t n, char* out) const override {
    if (offset > size_ || n > size_ - offset) {
      return absl::DataLossError(absl::StrCat(name_, ": read of ", n, " bytes at offset ", offset,
                                              " is past the end of the file (", size_, " bytes)"));
    }
    while (n > 0) {
      ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, absl::StrCat("reading ", name_));
      }
      if (got == 0) {
        return absl::DataLossError(
            absl::StrCat(name_, ": file shrank while reading at offset ", offset));
      }
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
    return absl::OkStatus();
  }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  int fd_;
  uint64_t size_;
};

class StringFile : public RandomAccessFile {
 public:
  StringFile(std::string name, std::string contents)
      : name_(std::move(name)), contents_(std::move(contents)) {}

  absl::Status Read(uint64_t offset, size_t n, char* out) const override {
    if (offset > contents_.size() || n > contents_.size() - offset) {
      return absl::DataLossError(absl::StrCat(name_, ": read of ", n, " bytes at offset ", offset,
                                              " is past the end of the file (", contents_.size(),
                                              " bytes)"));
    }
    std::memcpy(out, contents_.data() + offset, n);
    return absl::OkStatus();
  }
  uint64_t size() const override { return contents_.size(); }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::string contents_;
};

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path, " to fsync"));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(err, absl::StrCat("fsync ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status ErrnoToStatus(int err, absl::string_view context) {
  return absl::Status(CodeForErrno(err), absl::StrCat(context, ": ", std::strerror(err)));
}

WritableFile::WritableFile(std::string path, int fd)
    : path_(std::move(path)), fd_(fd), buffer_(new char[kWriteBufferSize]) {}

WritableFile::~WritableFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<WritableFile>> WritableFile::Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("creating ", path));
  return std::unique_ptr<WritableFile>(new WritableFile(path, fd));
}

absl::Status WritableFile::WriteAll(const char* data, size_t n) {
  while (n > 0) {
    ssize_t wrote = ::write(fd_, data, n);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat("writing ", path_));
    }
    data += wrote;
    n -= static_cast<size_t>(wrote);
  }
  return absl::OkStatus();
}

absl::Status WritableFile::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is closed"));
  size_ += data.size();
  if (buffered_ + data.size() <= kWriteBufferSize) {
    std::memcpy(buffer_.get() + buffered_, data.data(), data.size());
    buffered_ += data.size();
    return absl::OkStatus();
  }
  RECSHIP_RETURN_IF_ERROR(Flush());
  if (data.size() >= kWriteBufferSize) return WriteAll(data.data(), data.size());
  std::memcpy(buffer_.get(), data.data(), data.size());
  buffered_ = data.size();
  return absl::OkStatus();
}

absl::Status WritableFile::Flush() {
  if (buffered_ == 0) return absl::OkStatus();
  size_t n = buffered_;
  buffered_ = 0;
  return WriteAll(buffer_.get(), n);
}

absl::Status WritableFile::Sync() {
  RECSHIP_RETURN_IF_ERROR(Flush());
  if (::fdatasync(fd_) != 0) return ErrnoToStatus(errno, absl::StrCat("fsync ", path_));
  return absl::OkStatus();
}

absl::Status WritableFile::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status status = Flush();
  if (::close(fd_) != 0 && status.ok()) {
    status = ErrnoToStatus(errno, absl::StrCat("closing ", path_));
  }
  fd_ = -1;
  return status;
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> OpenRandomAccessFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("stat ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  return std::unique_ptr<RandomAccessFile>(
      new PosixRandomAccessFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

std::unique_ptr<RandomAccessFile> NewStringFile(std::string name, std::string contents) {
  return std::make_unique<StringFile>(std::move(name), std::move(contents));
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes) {
  RECSHIP_ASSIGN_OR_RETURN(auto file, OpenRandomAccessFile(path));
  if (file->size() > max_bytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is ", file->size(), " bytes, more than the limit of ", max_bytes));
  }
  std::string contents(file->size(), '\0');
  RECSHIP_RETURN_IF_ERROR(file->Read(0, contents.size(), contents.data()));
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  // Unique per process and call, so concurrent writers never share a temp.
  static std::atomic<uint64_t> counter{0};
  std::string temp = absl::StrCat(path, ".tmp-", ::getpid(), "-", counter.fetch_add(1));
  absl::Status status = [&]() -> absl::Status {
    RECSHIP_ASSIGN_OR_RETURN(auto file, WritableFile::Create(temp));
    RECSHIP_RETURN_IF_ERROR(file->Append(contents));
    RECSHIP_RETURN_IF_ERROR(file->Sync());
    RECSHIP_RETURN_IF_ERROR(file->Close());
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("renaming ", temp, " to ", path));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  std::string parent = std::filesystem::path(path).parent_path().string();
  return SyncDirectory(parent.empty() ? "." : parent);
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::none, ec);
  if (ec) return ErrnoToStatus(ec.value(), absl::StrCat("copying ", from, " to ", to));
  return absl::OkStatus();
}

const char* CloneMethodName(CloneMethod method) {
  switch (method) {
    case CloneMethod::kHardLink:
      return "hard link";
    case CloneMethod::kReflink:
      return "reflink";
    case CloneMethod::kCopy:
      return "copy";
  }
  return "?";
}

absl::StatusOr<std::optional<CloneMethod>> LinkOrReflinkFile(const std::string& from,
                                                             const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return CloneMethod::kHardLink;
  if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP) {
    return ErrnoToStatus(errno, absl::StrCat("linking ", from, " to ", to));
  }
  int src = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", from));
  int dst = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (dst < 0) {
    int err = errno;
    ::close(src);
    return ErrnoToStatus(err, absl::StrCat("creating ", to));
  }
  bool cloned = ::ioctl(dst, FICLONE, src) == 0;
  ::close(src);
  ::close(dst);
  if (cloned) return CloneMethod::kReflink;
  ::unlink(to.c_str());
  return std::nullopt;
}

absl::Status SyncDirectory(const std::string& path) {
  return FsyncPath(path, O_RDONLY | O_DIRECTORY);
}

absl::Status SyncTree(const std::string& path) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink()) continue;
    if (it->is_directory()) {
      RECSHIP_RETURN_IF_ERROR(SyncDirectory(it->path().string()));
    } else if (it->is_regular_file()) {
      RECSHIP_RETURN_IF_ERROR(FsyncPath(it->path().string(), O_RDONLY));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", path, ": ", ec.message()));
  return SyncDirectory(path);
}

}  // namespace recship
