#include "recship/serving/batching.h"

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/serving/model_config.h"
#include "recship/tensorflow_serving/servables/tensorflow/session_bundle_config.pb.h"

namespace recship {

absl::StatusOr<BatchingOptions> ReadBatchingParameters(const std::string& path) {
  tensorflow::serving::BatchingParameters parameters;
  RECSHIP_RETURN_IF_ERROR(ReadTextProtoFile(path, parameters));
  BatchingOptions options;
  auto positive = [&](const google::protobuf::Int64Value& value, bool present,
                      const char* field) -> absl::StatusOr<int64_t> {
    if (!present) return 0;
    if (value.value() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", field, " must be positive, got ", value.value()));
    }
    return value.value();
  };
  RECSHIP_ASSIGN_OR_RETURN(
      int64_t max_batch,
      positive(parameters.max_batch_size(), parameters.has_max_batch_size(), "max_batch_size"));
  if (max_batch > 0) options.max_batch_size = max_batch;
  RECSHIP_ASSIGN_OR_RETURN(int64_t enqueued,
                           positive(parameters.max_enqueued_batches(),
                                    parameters.has_max_enqueued_batches(), "max_enqueued_batches"));
  if (enqueued > 0) options.max_enqueued_batches = enqueued;
  RECSHIP_ASSIGN_OR_RETURN(
      int64_t threads, positive(parameters.num_batch_threads(), parameters.has_num_batch_threads(),
                                "num_batch_threads"));
  options.num_batch_threads = static_cast<int>(std::min<int64_t>(threads, 1 << 16));
  const int64_t timeout = parameters.batch_timeout_micros().value();
  if (timeout < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": batch_timeout_micros must not be negative, got ", timeout));
  }
  options.batch_timeout = absl::Microseconds(timeout);
  int64_t previous = 0;
  for (int64_t size : parameters.allowed_batch_sizes()) {
    if (size <= previous) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": allowed_batch_sizes must be positive and ascending"));
    }
    previous = size;
    options.allowed_batch_sizes.push_back(size);
  }
  if (previous != 0 && previous != options.max_batch_size) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the last of allowed_batch_sizes (",
                                                   previous, ") must equal max_batch_size (",
                                                   options.max_batch_size, ")"));
  }
  return options;
}

}  // namespace recship
