#include "recship/core/staged_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

// rename() that fails instead of replacing an existing (even empty) folder.
absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return ErrnoToStatus(errno, absl::StrCat("renaming ", from, " to ", to));
  }
  // The filesystem lacks RENAME_NOREPLACE: check, then rename. rename(2)
  // still refuses to replace a non-empty folder.
  std::error_code ec;
  if (std::filesystem::exists(to, ec)) {
    return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
  }
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("renaming ", from, " to ", to));
  }
  return absl::OkStatus();
}

// Opens `dir` and takes a non-blocking exclusive flock on it. Returns the
// descriptor, -1 with errno EWOULDBLOCK when another process holds it.
int LockDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Holds an flock on the parent folder while a writer checks, clears and
// claims a staging folder, so two writers never both decide a temp-<name>
// is a leftover.
class ParentLock {
 public:
  explicit ParentLock(const std::string& parent)
      : fd_(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~ParentLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

// Removes every temp-* folder of `parent` whose flock is free: its writer
// died before committing. The caller holds the ParentLock.
absl::Status RemoveDeadStagingFoldersLocked(const std::string& parent) {
  std::error_code ec;
  for (const auto& child : std::filesystem::directory_iterator(parent, ec)) {
    if (!child.path().filename().string().starts_with("temp-") || !child.is_directory(ec)) {
      continue;
    }
    int lock = LockDirectory(child.path().string());
    if (lock < 0) continue;  // A live writer's, or already gone.
    std::filesystem::remove_all(child.path(), ec);
    ::close(lock);
    if (ec) {
      return absl::InternalError(absl::StrCat("removing ", child.path().string(),
                                              ", left by a dead export: ", ec.message()));
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::InternalError(absl::StrCat("listing ", parent, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status StagedDirectory::RemoveDeadStagingFolders(const std::string& parent) {
  ParentLock parent_lock(parent);
  return RemoveDeadStagingFoldersLocked(parent);
}

StagedDirectory::StagedDirectory(std::string staging_path, std::string final_path, int lock_fd)
    : staging_path_(std::move(staging_path)),
      final_path_(std::move(final_path)),
      lock_fd_(lock_fd),
      active_(true) {}

StagedDirectory::StagedDirectory(StagedDirectory&& other) noexcept
    : staging_path_(std::move(other.staging_path_)),
      final_path_(std::move(other.final_path_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      active_(std::exchange(other.active_, false)) {}

StagedDirectory& StagedDirectory::operator=(StagedDirectory&& other) noexcept {
  if (this != &other) {
    Abandon();
    ReleaseLock();
    staging_path_ = std::move(other.staging_path_);
    final_path_ = std::move(other.final_path_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    active_ = std::exchange(other.active_, false);
  }
  return *this;
}

StagedDirectory::~StagedDirectory() {
  Abandon();
  ReleaseLock();
}

absl::StatusOr<StagedDirectory> StagedDirectory::Create(const std::string& parent,
                                                        const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", parent, ": ", ec.message()));
  std::string final_path = (std::filesystem::path(parent) / name).string();
  std::string staging_path = (std::filesystem::path(parent) / ("temp-" + name)).string();
  if (std::filesystem::exists(final_path, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(final_path, " already exists; recship never overwrites a version"));
  }
  ParentLock parent_lock(parent);
  RECSHIP_RETURN_IF_ERROR(RemoveDeadStagingFoldersLocked(parent));
  if (::mkdir(staging_path.c_str(), 0755) != 0) {
    if (errno != EEXIST) return ErrnoToStatus(errno, absl::StrCat("creating ", staging_path));
    return absl::AlreadyExistsError(
        absl::StrCat(staging_path, " is being written by another running export of this version"));
  }
  int lock_fd = LockDirectory(staging_path);
  if (lock_fd < 0) {
    int err = errno;
    std::filesystem::remove_all(staging_path, ec);
    return ErrnoToStatus(err, absl::StrCat("locking ", staging_path));
  }
  return StagedDirectory(std::move(staging_path), std::move(final_path), lock_fd);
}

absl::StatusOr<std::string> StagedDirectory::Commit() {
  if (!active_) return absl::FailedPreconditionError("staged directory already finished");
  absl::Status status = SyncTree(staging_path_);
  if (status.ok()) status = RenameNoReplace(staging_path_, final_path_);
  if (!status.ok()) {
    Abandon();
    return status;
  }
  active_ = false;
  ReleaseLock();
  RECSHIP_RETURN_IF_ERROR(SyncDirectory(std::filesystem::path(final_path_).parent_path().string()));
  return final_path_;
}

void StagedDirectory::ReleaseLock() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

void StagedDirectory::Abandon() {
  if (!active_) return;
  active_ = false;
  std::error_code ec;
  std::filesystem::remove_all(staging_path_, ec);
  ReleaseLock();
}

}  // namespace recship
