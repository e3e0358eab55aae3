// TensorFlow Serving's warmup file (assets.extra/tf_serving_warmup_requests):
// a TFRecord file of PredictionLog records that the server replays before it
// serves a version.
#ifndef RECSHIP_FORMAT_WARMUP_H_
#define RECSHIP_FORMAT_WARMUP_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace recship {

struct WarmupSummary {
  int records = 0;
  std::map<std::string, int> kinds;  // "predict", "classify", ... -> count
};

// Reads every record of `path`. Each must frame correctly (checksums) and
// parse as a PredictionLog; otherwise DataLoss naming the file and record.
absl::StatusOr<WarmupSummary> ReadWarmupSummary(const std::string& path);

}  // namespace recship

#endif  // RECSHIP_FORMAT_WARMUP_H_
