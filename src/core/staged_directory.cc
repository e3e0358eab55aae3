#include "recship/core/staged_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

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

}  // namespace

StagedDirectory::StagedDirectory(std::string staging_path, std::string final_path)
    : staging_path_(std::move(staging_path)), final_path_(std::move(final_path)), active_(true) {}

StagedDirectory::StagedDirectory(StagedDirectory&& other) noexcept
    : staging_path_(std::move(other.staging_path_)),
      final_path_(std::move(other.final_path_)),
      active_(std::exchange(other.active_, false)) {}

StagedDirectory& StagedDirectory::operator=(StagedDirectory&& other) noexcept {
  if (this != &other) {
    Abandon();
    staging_path_ = std::move(other.staging_path_);
    final_path_ = std::move(other.final_path_);
    active_ = std::exchange(other.active_, false);
  }
  return *this;
}

StagedDirectory::~StagedDirectory() { Abandon(); }

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
  if (::mkdir(staging_path.c_str(), 0755) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          staging_path,
          " already exists: another export of this version is running, or a crashed one left "
          "it behind (remove it if no export is running)"));
    }
    return ErrnoToStatus(errno, absl::StrCat("creating ", staging_path));
  }
  return StagedDirectory(std::move(staging_path), std::move(final_path));
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
  RETURN_IF_ERROR(SyncDirectory(std::filesystem::path(final_path_).parent_path().string()));
  return final_path_;
}

void StagedDirectory::Abandon() {
  if (!active_) return;
  active_ = false;
  std::error_code ec;
  std::filesystem::remove_all(staging_path_, ec);
}

}  // namespace recship
