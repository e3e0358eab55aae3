// Runs one tensorflow.serving.PredictRequest on a loaded model, as
// TensorFlow Serving's Predict does: the signature named in the model spec
// (default serving_default), every input checked against it, the outputs
// selected by output_filter. Shared by the gRPC service and warmup replay.
#ifndef RECSHIP_SERVING_PREDICT_H_
#define RECSHIP_SERVING_PREDICT_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "recship/runtime/memory_budget.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

struct PredictLimits {
  // The most rows a request may have; 0 means no limit. Rows are an input's
  // first dimension, or dense_shape[0] for a SparseTensor fed as
  // <f>_indices, <f>_values and <f>_dense_shape.
  int64_t max_batch_size = 0;
  // The most bytes one input tensor may decode to.
  uint64_t max_input_bytes = uint64_t{1} << 30;
  // The most bytes of tensors one request may hold at once: its decoded
  // inputs and every tensor its kernels allocate.
  uint64_t max_request_memory_bytes = uint64_t{1} << 30;
  // What all requests in flight hold together is charged here as well; null
  // bounds each request alone.
  std::shared_ptr<MemoryBudget> memory;
};

// Fills response->outputs. Errors carry TensorFlow Serving's codes:
// InvalidArgument for a bad input (the message names it), FailedPrecondition
// for an unknown signature, ResourceExhausted over a memory budget. Before
// any kernel runs, a bag's indices must lie inside its dense_shape and its
// dense_shape[0] must equal the batch the other inputs agree on. Remote
// calls the model makes get no more time than `deadline` leaves.
absl::Status RunPredict(const SavedModelBundle& model,
                        const tensorflow::serving::PredictRequest& request,
                        const PredictLimits& limits, tensorflow::serving::PredictResponse* response,
                        absl::Time deadline = absl::InfiniteFuture());

}  // namespace recship

#endif  // RECSHIP_SERVING_PREDICT_H_
