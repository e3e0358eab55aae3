// A training folder's `checkpoint` file: a text-format CheckpointState naming
// the newest checkpoint prefix and the ones kept, as tf.train.Saver and
// tf.train.CheckpointManager write it.
#ifndef RECSHIP_FORMAT_CHECKPOINT_STATE_H_
#define RECSHIP_FORMAT_CHECKPOINT_STATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recship/tensorflow/core/protobuf/checkpoint_state.pb.h"

namespace recship {

inline constexpr char kCheckpointStateFilename[] = "checkpoint";

// Reads <dir>/checkpoint. Relative paths in it are joined to `dir`, as
// tf.train.get_checkpoint_state does. NotFound when the file is absent;
// DataLoss naming the file when it does not parse or names no checkpoint.
absl::StatusOr<tensorflow::CheckpointState> ReadCheckpointState(const std::string& dir);

// Writes <dir>/checkpoint atomically. Prefixes inside `dir` are stored
// relative to it, so the folder can be moved.
absl::Status WriteCheckpointState(const std::string& dir, const std::string& latest_prefix,
                                  const std::vector<std::string>& all_prefixes);

// The newest checkpoint prefix of `dir`, with tf.train.latest_checkpoint's
// rules: the state file names it and its .index exists. NotFound, with the
// reason, when there is no state file, it names nothing, or the named
// checkpoint's files are gone.
absl::StatusOr<std::string> LatestCheckpoint(const std::string& dir);

}  // namespace recship

#endif  // RECSHIP_FORMAT_CHECKPOINT_STATE_H_
