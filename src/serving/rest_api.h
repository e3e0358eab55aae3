// TensorFlow Serving's REST API (its model_servers/http_rest_api_handler.cc)
// over a ModelManager: GET /v1/models/<m>[/versions/<v>|/labels/<l>] (model
// status), .../metadata, and POST ...:predict, and the Prometheus metrics
// when configured, with TensorFlow Serving's
// JSON and codes. Answers are the gRPC services' own: the same manager,
// version states and Predict path. Errors are {"error": "<message>"} with
// the HTTP code of the status (404 NOT_FOUND, 400 INVALID_ARGUMENT, ...).
#ifndef RECSHIP_SRC_SERVING_REST_API_H_
#define RECSHIP_SRC_SERVING_REST_API_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "recship/serving/background_thread.h"
#include "recship/serving/batcher.h"
#include "recship/serving/model_manager.h"
#include "recship/serving/predict.h"
#include "src/serving/http_server.h"

namespace recship {

class RestApi {
 public:
  // `writer` and `batcher` as for PredictionServiceImpl (not owned);
  // `timeout` bounds each request's remote calls.
  // With a `prometheus_path`, GET there answers Metrics::Global() in
  // Prometheus' text format.
  RestApi(const ModelManager* manager, PredictLimits limits, BackgroundThread* writer,
          Batcher* batcher, absl::Duration timeout, std::string prometheus_path = "")
      : manager_(manager),
        limits_(std::move(limits)),
        writer_(writer),
        batcher_(batcher),
        timeout_(timeout),
        prometheus_path_(std::move(prometheus_path)) {}

  HttpReply Handle(absl::string_view method, absl::string_view path, absl::string_view body) const;

 private:
  absl::StatusOr<std::string> Status(const tensorflow::serving::ModelSpec& spec) const;
  absl::StatusOr<std::string> Metadata(const tensorflow::serving::ModelSpec& spec) const;
  absl::StatusOr<std::string> Predict(tensorflow::serving::ModelSpec spec,
                                      absl::string_view body) const;

  const ModelManager* manager_;
  const PredictLimits limits_;
  BackgroundThread* const writer_;
  Batcher* const batcher_;
  const absl::Duration timeout_;
  const std::string prometheus_path_;
};

// TensorFlow Serving's HTTP code for a status (400, 404, 429, 501, 503...).
int HttpCode(absl::StatusCode code);

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_REST_API_H_
