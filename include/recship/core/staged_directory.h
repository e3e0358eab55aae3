// A folder that is built under a temporary name and then published whole.
//
// Create(parent, name) makes <parent>/temp-<name>; the caller writes into
// path(); Commit() fsyncs everything in it and renames it to <parent>/<name>.
// Promises: <parent>/<name> never exists half-written; an existing
// <parent>/<name> is never replaced; a StagedDirectory destroyed without a
// successful Commit removes its temporary folder. Readers that ignore
// non-numeric names (TensorFlow Serving) never see the temporary folder.
//
// The writer holds an flock on its temporary folder while it lives. A
// temp-* folder whose lock is free was left by a writer that died (even by
// SIGKILL): Create removes every such folder of `parent`, whatever its name,
// so dead writers never pile up. One whose lock is held belongs to a live
// writer and is never touched; Create refuses to reuse its name.
#ifndef RECSHIP_CORE_STAGED_DIRECTORY_H_
#define RECSHIP_CORE_STAGED_DIRECTORY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recship {

class StagedDirectory {
 public:
  // Fails with AlreadyExists when <parent>/<name> exists, or when a live
  // writer holds <parent>/temp-<name>. Creates `parent` if needed.
  static absl::StatusOr<StagedDirectory> Create(const std::string& parent, const std::string& name);

  // Removes every temp-* folder of `parent` left by a dead writer (see
  // above). A missing `parent` is fine; a leftover that cannot be removed is
  // an error naming it.
  static absl::Status RemoveDeadStagingFolders(const std::string& parent);

  StagedDirectory(StagedDirectory&& other) noexcept;
  StagedDirectory& operator=(StagedDirectory&& other) noexcept;
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;
  ~StagedDirectory();

  // Where to write: <parent>/temp-<name> until Commit.
  const std::string& path() const { return staging_path_; }
  // Where the folder is published: <parent>/<name>.
  const std::string& final_path() const { return final_path_; }

  // fsyncs the tree, renames it into place without replacing anything, and
  // fsyncs the parent. On failure the temporary folder is removed.
  absl::StatusOr<std::string> Commit();

  // Removes the temporary folder now.
  void Abandon();

 private:
  StagedDirectory(std::string staging_path, std::string final_path, int lock_fd);
  void ReleaseLock();

  std::string staging_path_;
  std::string final_path_;
  int lock_fd_ = -1;  // An open, flocked descriptor of the staging folder.
  bool active_ = false;
};

}  // namespace recship

#endif  // RECSHIP_CORE_STAGED_DIRECTORY_H_
