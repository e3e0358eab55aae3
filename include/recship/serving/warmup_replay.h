// Replays a version's assets.extra/tf_serving_warmup_requests before it is
// served, as TensorFlow Serving does: every record once, in order. Any bad
// record (framing, parse, a log kind other than predict, a failing request,
// more than 1000 records) fails the version's load.
#ifndef RECSHIP_SERVING_WARMUP_REPLAY_H_
#define RECSHIP_SERVING_WARMUP_REPLAY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/predict.h"

namespace recship {

// The requests of <export_dir>'s warmup file, none when it has none. Errors
// name the file and the record.
absl::StatusOr<std::vector<tensorflow::serving::PredictRequest>> ReadWarmupRequests(
    const std::string& export_dir);

// The number of requests replayed; 0 when the version has no warmup file.
// Errors name the file and the record.
absl::StatusOr<int> ReplayWarmup(const SavedModelBundle& model, const PredictLimits& limits);

}  // namespace recship

#endif  // RECSHIP_SERVING_WARMUP_REPLAY_H_
