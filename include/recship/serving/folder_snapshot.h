// What a version folder holds at one moment: enough to tell a folder still
// being copied into place (`cp -r` creates the folder first, then fills it)
// from one that has stopped changing.
#ifndef RECSHIP_SERVING_FOLDER_SNAPSHOT_H_
#define RECSHIP_SERVING_FOLDER_SNAPSHOT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace recship {

struct FolderSnapshot {
  // Of every entry's relative path, size and modification time.
  uint64_t hash = 0;
  // saved_model.pb or saved_model.pbtxt is at the top.
  bool has_saved_model = false;
};

// NotFound when `dir` is gone; an entry vanishing mid-walk is an error too
// (the folder is changing).
absl::StatusOr<FolderSnapshot> SnapshotFolder(const std::string& dir);

}  // namespace recship

#endif  // RECSHIP_SERVING_FOLDER_SNAPSHOT_H_
