// tensorflow.serving.PredictionService over gRPC: Predict and
// GetModelMetadata answered from a ModelManager. Classify, Regress and
// MultiInference are left to gRPC's UNIMPLEMENTED. Every failure is a gRPC
// status with TensorFlow Serving's code and a message naming what is wrong.
#ifndef RECSHIP_SERVING_PREDICTION_SERVICE_H_
#define RECSHIP_SERVING_PREDICTION_SERVICE_H_

#include "recship/serving/background_thread.h"
#include "recship/serving/batcher.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship {

class PredictionServiceImpl final : public ::tensorflow::serving::PredictionService::Service {
 public:
  // With `writer`, requests to a shard's hashtable_assign signature (table
  // writes) run on it, at background priority (not owned).
  // With `batcher`, other requests run through it (not owned).
  PredictionServiceImpl(const ModelManager* manager, PredictLimits limits,
                        BackgroundThread* writer = nullptr, Batcher* batcher = nullptr)
      : manager_(manager), limits_(limits), writer_(writer), batcher_(batcher) {}

  grpc::Status Predict(grpc::ServerContext* context,
                       const tensorflow::serving::PredictRequest* request,
                       tensorflow::serving::PredictResponse* response) override;
  grpc::Status GetModelMetadata(grpc::ServerContext* context,
                                const tensorflow::serving::GetModelMetadataRequest* request,
                                tensorflow::serving::GetModelMetadataResponse* response) override;

 private:
  absl::Status PredictOnce(grpc::ServerContext* context,
                           const tensorflow::serving::PredictRequest& request,
                           tensorflow::serving::PredictResponse* response);

  const ModelManager* manager_;
  const PredictLimits limits_;
  BackgroundThread* const writer_;
  Batcher* const batcher_;
};

// Runs `request` on `servable` as Predict does (a shard's table writes,
// its hashtable_assign signature, on `writer` when given; other requests
// through `batcher` when given) and fills the response's model spec. Shared
// by gRPC and REST.
absl::Status ServePredict(const ServableHandle& servable,
                          const tensorflow::serving::PredictRequest& request,
                          const PredictLimits& limits, BackgroundThread* writer, Batcher* batcher,
                          absl::Time deadline, tensorflow::serving::PredictResponse* response);

// The gRPC status carrying `status`'s code and message (the codes agree).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace recship

#endif  // RECSHIP_SERVING_PREDICTION_SERVICE_H_
