// Checking an export against its checkpoint from the command line: `recship
// verify` and `recship export --verify` (serving/export_verifier.h).
#ifndef RECSHIP_CLI_VERIFY_COMMAND_H_
#define RECSHIP_CLI_VERIFY_COMMAND_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "recship/format/sub_model.h"
#include "recship/model/spec.h"
#include "recship/verify/export_verifier.h"

namespace recship {

// What an export's check needs besides the folders.
struct VerifyTarget {
  const ModelSpec* spec = nullptr;
  std::string export_dir_base;
  std::string model_dir;
  std::string checkpoint;  // A prefix.
  std::optional<int64_t> min_frequency;
  std::optional<absl::Duration> max_age;
  std::optional<double> tolerance;
  std::function<absl::Status(int done, int total)> progress;
};

// Checks `folders` (sub-model -> version folder). A distributed export that
// lacks some sub-model (--include-graphs, --dense-only) is completed with
// the newest published version of it under the export base; one that is
// nowhere is an error naming it.
absl::StatusOr<VerifyReport> VerifyFolders(std::map<SubModel, std::string> folders,
                                           const VerifyTarget& target);

nlohmann::ordered_json VerifyReportJson(const VerifyReport& report);

}  // namespace recship

#endif  // RECSHIP_CLI_VERIFY_COMMAND_H_
