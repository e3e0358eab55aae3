#include "recship/serving/prediction_service.h"

#include "recship/format/proto_any.h"
#include "recship/format/saved_model.h"
#include "recship/format/sub_model.h"
#include "recship/serving/serving_metrics.h"

namespace recship {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

namespace {

void SetResponseSpec(const ServableHandle& servable, const std::string& signature,
                     tensorflow::serving::ModelSpec* spec) {
  spec->set_name(servable.name);
  spec->mutable_version()->set_value(servable.version);
  if (!signature.empty()) spec->set_signature_name(signature);
}

}  // namespace

absl::Status ServePredict(const ServableHandle& servable,
                          const tensorflow::serving::PredictRequest& request,
                          const PredictLimits& limits, BackgroundThread* writer, Batcher* batcher,
                          absl::Time deadline, tensorflow::serving::PredictResponse* response) {
  const std::string& signature = request.model_spec().signature_name();
  absl::Status ran;
  if (signature == kAssignSignature) {  // A table write: never batched.
    auto run = [&] { ran = RunPredict(*servable.model, request, limits, response, deadline); };
    if (writer != nullptr) {
      writer->Run(run);
    } else {
      run();
    }
  } else if (batcher != nullptr) {
    ran = batcher->Predict(*servable.model, request, deadline, response);
  } else {
    ran = RunPredict(*servable.model, request, limits, response, deadline);
  }
  if (!ran.ok()) return ran;
  SetResponseSpec(servable, signature.empty() ? kDefaultServingSignatureKey : signature,
                  response->mutable_model_spec());
  return absl::OkStatus();
}

grpc::Status PredictionServiceImpl::Predict(grpc::ServerContext* context,
                                            const tensorflow::serving::PredictRequest* request,
                                            tensorflow::serving::PredictResponse* response) {
  const absl::Time start = absl::Now();
  absl::Status status = PredictOnce(context, *request, response);
  RecordRequest(request->model_spec().name(), "predict", "GRPC", status, absl::Now() - start);
  return ToGrpcStatus(status);
}

absl::Status PredictionServiceImpl::PredictOnce(grpc::ServerContext* context,
                                                const tensorflow::serving::PredictRequest& request,
                                                tensorflow::serving::PredictResponse* response) {
  absl::StatusOr<ServableHandle> servable = manager_->Get(request.model_spec());
  if (!servable.ok()) return servable.status();
  // A client's deadline bounds the calls this model makes to its shards.
  const absl::Time deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                                  ? absl::InfiniteFuture()
                                  : absl::FromChrono(context->deadline());
  return ServePredict(*servable, request, limits_, writer_, batcher_, deadline, response);
}

grpc::Status PredictionServiceImpl::GetModelMetadata(
    grpc::ServerContext*, const tensorflow::serving::GetModelMetadataRequest* request,
    tensorflow::serving::GetModelMetadataResponse* response) {
  if (request->metadata_field_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "GetModelMetadataRequest must specify at least one metadata_field");
  }
  for (const std::string& field : request->metadata_field()) {
    if (field != "signature_def") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "Metadata field " + field + " is not supported");
    }
  }
  absl::StatusOr<ServableHandle> servable = manager_->Get(request->model_spec());
  if (!servable.ok()) return ToGrpcStatus(servable.status());
  tensorflow::serving::SignatureDefMap signatures;
  signatures.mutable_signature_def()->insert(servable->model->meta_graph().signature_def().begin(),
                                             servable->model->meta_graph().signature_def().end());
  PackAny(signatures, &(*response->mutable_metadata())["signature_def"]);
  SetResponseSpec(*servable, "", response->mutable_model_spec());
  return grpc::Status::OK;
}

}  // namespace recship
