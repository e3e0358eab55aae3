#include "recship/format/checkpoint_state.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_bundle.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

std::string Absolute(const std::string& dir, const std::string& path) {
  if (fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).string();
}

// The path as stored: relative to `dir` when it lies inside it, else
// absolute. A relative `path` is relative to the working directory, but a
// stored relative path is read back relative to `dir`, so it is never kept
// as given.
std::string Stored(const std::string& dir, const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) return path;
  fs::path rel = fs::relative(p, fs::absolute(dir, ec), ec);
  if (ec || rel.empty() || *rel.begin() == "..") return p.lexically_normal().string();
  return rel.string();
}

}  // namespace

absl::StatusOr<tensorflow::CheckpointState> ReadCheckpointState(const std::string& dir) {
  std::string path = (fs::path(dir) / kCheckpointStateFilename).string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint state file ", path));
  }
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 64 << 20));
  tensorflow::CheckpointState state;
  if (!google::protobuf::TextFormat::ParseFromString(text, &state)) {
    return absl::DataLossError(absl::StrCat(path, ": not a text CheckpointState"));
  }
  if (state.model_checkpoint_path().empty()) {
    return absl::DataLossError(absl::StrCat(path, ": names no model_checkpoint_path"));
  }
  state.set_model_checkpoint_path(Absolute(dir, state.model_checkpoint_path()));
  for (std::string& p : *state.mutable_all_model_checkpoint_paths()) p = Absolute(dir, p);
  return state;
}

absl::Status WriteCheckpointState(const std::string& dir, const std::string& latest_prefix,
                                  const std::vector<std::string>& all_prefixes) {
  tensorflow::CheckpointState state;
  state.set_model_checkpoint_path(Stored(dir, latest_prefix));
  for (const std::string& p : all_prefixes) state.add_all_model_checkpoint_paths(Stored(dir, p));
  std::string text;
  google::protobuf::TextFormat::PrintToString(state, &text);
  return WriteFileAtomically((fs::path(dir) / kCheckpointStateFilename).string(), text);
}

absl::StatusOr<std::string> LatestCheckpoint(const std::string& dir) {
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::CheckpointState state, ReadCheckpointState(dir));
  const std::string& prefix = state.model_checkpoint_path();
  std::error_code ec;
  if (!fs::exists(BundleIndexPath(prefix), ec)) {
    return absl::NotFoundError(absl::StrCat("the checkpoint state in ", dir, " names ", prefix,
                                            ", whose files are gone (no ", BundleIndexPath(prefix),
                                            ")"));
  }
  return prefix;
}

}  // namespace recship
