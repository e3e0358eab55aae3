// TensorFlow's SavedModel folder: saved_model.pb, variables/ (a tensor
// bundle), assets/ and assets.extra/; names and constants as TensorFlow and
// TensorFlow Serving use them.
#ifndef RECSHIP_FORMAT_SAVED_MODEL_H_
#define RECSHIP_FORMAT_SAVED_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/core/staged_directory.h"
#include "recship/tensorflow/core/protobuf/saved_model.pb.h"

namespace recship {

inline constexpr char kSavedModelFilename[] = "saved_model.pb";
inline constexpr char kVariablesDirectory[] = "variables";
inline constexpr char kVariablesFilename[] = "variables";
inline constexpr char kAssetsDirectory[] = "assets";
inline constexpr char kExtraAssetsDirectory[] = "assets.extra";
inline constexpr char kWarmupFilename[] = "tf_serving_warmup_requests";
inline constexpr char kServeTag[] = "serve";
inline constexpr char kPredictMethodName[] = "tensorflow/serving/predict";
inline constexpr char kDefaultServingSignatureKey[] = "serving_default";
inline constexpr char kInitOpSignatureKey[] = "__saved_model_init_op";
inline constexpr char kMainOpCollection[] = "saved_model_main_op";
inline constexpr char kLegacyInitOpCollection[] = "legacy_init_op";
inline constexpr char kAssetsCollection[] = "saved_model_assets";
// TensorFlow Serving reads at most this many warmup records.
inline constexpr int kMaxWarmupRecords = 1000;

// True when `dir` holds a saved_model.pb.
bool IsSavedModelDirectory(const std::string& dir);

// Parses <export_dir>/saved_model.pb. Errors name the file.
absl::StatusOr<tensorflow::SavedModel> ReadSavedModel(const std::string& export_dir);

// The meta graph whose tag set equals `tags` (in any order), as loaders pick
// it; NotFound listing the tag sets present otherwise.
absl::StatusOr<const tensorflow::MetaGraphDef*> FindMetaGraph(
    const tensorflow::SavedModel& saved_model, const std::vector<std::string>& tags);

// Writes one SavedModel version: <export_dir_base>/<version>/ is built under
// temp-<version> and published by Commit() (see StagedDirectory). Nothing is
// left behind if the writer is destroyed before a successful Commit.
// The bundle prefix of a SavedModel folder's variables: <dir>/variables/variables.
std::string VariablesPrefix(const std::string& dir);

class SavedModelWriter {
 public:
  static absl::StatusOr<SavedModelWriter> Begin(const std::string& export_dir_base,
                                                int64_t version);

  // The folder being written (the temporary one until Commit).
  const std::string& path() const { return staged_.path(); }
  // The bundle prefix for variables: <path>/variables/variables. The
  // variables folder exists.
  std::string variables_prefix() const;

  // Writes saved_model.pb. Refuses a message over protobuf's 2 GiB limit.
  absl::Status WriteSavedModel(const tensorflow::SavedModel& saved_model);
  // Writes assets/<filename>.
  absl::Status AddAsset(absl::string_view filename, absl::string_view contents);
  // Copies `source` to assets.extra/<filename>.
  absl::Status CopyExtraAsset(absl::string_view filename, const std::string& source);
  // The path of assets.extra/<dir>/<filename>, creating its folders.
  absl::StatusOr<std::string> ExtraAssetPath(absl::string_view dir, absl::string_view filename);

  // Publishes the version; returns <export_dir_base>/<version>.
  absl::StatusOr<std::string> Commit() { return staged_.Commit(); }

 private:
  explicit SavedModelWriter(StagedDirectory staged) : staged_(std::move(staged)) {}
  absl::StatusOr<std::string> Subdirectory(absl::string_view name);

  StagedDirectory staged_;
};

}  // namespace recship

#endif  // RECSHIP_FORMAT_SAVED_MODEL_H_
