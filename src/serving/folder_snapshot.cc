#include "recship/serving/folder_snapshot.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace recship {
namespace {

absl::Status StatError(const std::string& path, const std::error_code& ec) {
  if (ec == std::errc::no_such_file_or_directory) {
    return absl::NotFoundError(absl::StrCat(path, " is gone"));
  }
  return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", ec.message()));
}

int64_t ModificationNanos(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

absl::StatusOr<FolderSnapshot> SnapshotFolder(const std::string& dir) {
  namespace fs = std::filesystem;
  FolderSnapshot snapshot;
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    return StatError(dir, std::make_error_code(static_cast<std::errc>(errno)));
  }
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string path = it->path().string();
    if (::lstat(path.c_str(), &st) != 0) {
      return StatError(path, std::make_error_code(static_cast<std::errc>(errno)));
    }
    std::string relative = path.substr(dir.size());
    snapshot.hash = absl::HashOf(snapshot.hash, relative, static_cast<int64_t>(st.st_size),
                                 ModificationNanos(st));
    if (it.depth() == 0 && (relative == "/saved_model.pb" || relative == "/saved_model.pbtxt")) {
      snapshot.has_saved_model = true;
    }
  }
  if (ec) return StatError(dir, ec);
  return snapshot;
}

}  // namespace recship
