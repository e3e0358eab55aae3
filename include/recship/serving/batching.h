// How a server batches requests (--enable_batching): TensorFlow Serving's
// BatchingParameters, read from its text format, with its defaults.
#ifndef RECSHIP_SERVING_BATCHING_H_
#define RECSHIP_SERVING_BATCHING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace recship {

struct BatchingOptions {
  int64_t max_batch_size = 1000;
  absl::Duration batch_timeout = absl::ZeroDuration();
  int64_t max_enqueued_batches = 10;
  int num_batch_threads = 0;  // 0: one per core.
  std::vector<int64_t> allowed_batch_sizes;
};

// Reads a --batching_parameters_file. Errors name the file and the field at
// fault (a non-positive size, allowed_batch_sizes not ascending or not
// ending at max_batch_size, as TensorFlow Serving requires).
absl::StatusOr<BatchingOptions> ReadBatchingParameters(const std::string& path);

}  // namespace recship

#endif  // RECSHIP_SERVING_BATCHING_H_
