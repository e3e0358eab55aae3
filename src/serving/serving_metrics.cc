#include "recship/serving/serving_metrics.h"

#include "recship/serving/metrics.h"
#include "recship/tensorflow/core/lib/core/error_codes.pb.h"

namespace recship {
namespace {

// TensorFlow Serving's latency buckets: 10 us growing by 1.8, 33 of them
// (about 20 minutes).
std::vector<double> LatencyBuckets() { return ExponentialBuckets(10, 1.8, 33); }

double Micros(absl::Duration d) { return absl::ToDoubleMicroseconds(d); }

}  // namespace

std::string ErrorCodeName(absl::StatusCode code) {
  return tensorflow::error::Code_Name(static_cast<tensorflow::error::Code>(static_cast<int>(code)));
}

void RecordRequest(const std::string& model, absl::string_view api, absl::string_view entrypoint,
                   const absl::Status& status, absl::Duration latency) {
  static Metrics::Counter* count =
      Metrics::Global().AddCounter("/tensorflow/serving/request_count",
                                   "The total number of requests.", {"model_name", "status"});
  static Metrics::Histogram* latencies = Metrics::Global().AddHistogram(
      "/tensorflow/serving/request_latency",
      "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
      {"model_name", "API", "entrypoint"}, LatencyBuckets());
  count->Add({model, ErrorCodeName(status.code())});
  latencies->Observe({model, std::string(api), std::string(entrypoint)}, Micros(latency));
}

void RecordLoad(const std::string& path, bool loaded, absl::Duration latency) {
  static Metrics::Counter* attempts = Metrics::Global().AddCounter(
      "/tensorflow/cc/saved_model/load_attempt_count",
      "The number of times a SavedModel was successfully loaded.", {"model_path", "status"});
  static Metrics::Counter* latencies = Metrics::Global().AddCounter(
      "/tensorflow/cc/saved_model/load_latency",
      "Latency in microseconds for SavedModels that were successfully loaded.", {"model_path"});
  attempts->Add({path, loaded ? "success" : "fail"});
  if (loaded) latencies->Add({path}, Micros(latency));
}

void RecordWarmup(const std::string& path, const absl::Status& status, absl::Duration latency) {
  static Metrics::Histogram* latencies = Metrics::Global().AddHistogram(
      "/tensorflow/serving/model_warmup_latency",
      "Distribution of wall time (in microseconds) for warming up the model.",
      {"model_path", "status"}, LatencyBuckets());
  latencies->Observe({path, ErrorCodeName(status.code())}, Micros(latency));
}

void RecordRemoteCall(const std::string& model, const std::string& address,
                      const absl::Status& status, absl::Duration latency) {
  static Metrics::Histogram* latencies = Metrics::Global().AddHistogram(
      "/recship/remote_call_latency",
      "Distribution of wall time (in microseconds) of calls to a sub-model's replica.",
      {"model_name", "address"}, LatencyBuckets());
  static Metrics::Counter* errors = Metrics::Global().AddCounter(
      "/recship/remote_call_errors", "Calls to a sub-model's replica that failed.",
      {"model_name", "address", "status"});
  latencies->Observe({model, address}, Micros(latency));
  if (!status.ok()) errors->Add({model, address, ErrorCodeName(status.code())});
}

void RecordBatch(const std::string& model, int64_t requests, int64_t rows) {
  static Metrics::Histogram* by_requests = Metrics::Global().AddHistogram(
      "/recship/batch_requests", "Requests merged into one batch run.", {"model_name"},
      ExponentialBuckets(1, 2, 12));
  static Metrics::Histogram* by_rows =
      Metrics::Global().AddHistogram("/recship/batch_rows", "Rows of one batch run.",
                                     {"model_name"}, ExponentialBuckets(1, 2, 16));
  by_requests->Observe({model}, static_cast<double>(requests));
  by_rows->Observe({model}, static_cast<double>(rows));
}

void RecordZeroAnswer(const std::string& model) {
  static Metrics::Counter* zeros = Metrics::Global().AddCounter(
      "/recship/remote_zero_answers",
      "Calls to a sub-model answered with zero rows after every replica failed "
      "(--on_shard_failure=zeros).",
      {"model_name"});
  zeros->Add({model});
}

}  // namespace recship
