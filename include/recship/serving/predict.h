// Runs one tensorflow.serving.PredictRequest on a loaded model, as
// TensorFlow Serving's Predict does: the signature named in the model spec
// (default serving_default), every input checked against it, the outputs
// selected by output_filter. Shared by the gRPC service and warmup replay.
#ifndef RECSHIP_SERVING_PREDICT_H_
#define RECSHIP_SERVING_PREDICT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "recship/runtime/saved_model_bundle.h"
#include "tensorflow_serving/apis/predict.pb.h"

namespace recship::serving {

struct PredictLimits {
  // The most rows a request may have; 0 means no limit. Rows are an input's
  // first dimension, or dense_shape[0] for a SparseTensor fed as
  // <f>_indices, <f>_values and <f>_dense_shape.
  int64_t max_batch_size = 0;
  // The most bytes one input tensor may decode to.
  uint64_t max_input_bytes = uint64_t{1} << 30;
};

// Fills response->outputs. Errors carry TensorFlow Serving's codes:
// InvalidArgument for a bad input (the message names it), FailedPrecondition
// for an unknown signature.
absl::Status RunPredict(const runtime::SavedModelBundle& model,
                        const tensorflow::serving::PredictRequest& request,
                        const PredictLimits& limits,
                        tensorflow::serving::PredictResponse* response);

}  // namespace recship::serving

#endif  // RECSHIP_SERVING_PREDICT_H_
