// The metrics a server records, under TensorFlow Serving's names where it
// has one (request count and latency, warmup latency, load latency and
// attempts) and recship's own otherwise (remote calls, zero answers). Each
// Record* adds to Metrics::Global(); latencies are in microseconds, as
// TensorFlow's.
#ifndef RECSHIP_SERVING_SERVING_METRICS_H_
#define RECSHIP_SERVING_SERVING_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "recship/serving/model_manager.h"

namespace recship {

// One request: :tensorflow:serving:request_count{model_name,status} and
// :tensorflow:serving:request_latency{model_name,API,entrypoint}
// (entrypoint "GRPC" or "REST").
void RecordRequest(const std::string& model, absl::string_view api, absl::string_view entrypoint,
                   const absl::Status& status, absl::Duration latency);

// One load of a version folder: :tensorflow:cc:saved_model:load_attempt_count
// {model_path,status} and, when it loaded, :tensorflow:cc:saved_model:
// load_latency{model_path}.
void RecordLoad(const std::string& path, bool loaded, absl::Duration latency);

// A warmup replay: :tensorflow:serving:model_warmup_latency{model_path,status}.
void RecordWarmup(const std::string& path, const absl::Status& status, absl::Duration latency);

// One call to a sub-model's replica: :recship:remote_call_latency{model_name,
// address} and, when it failed, :recship:remote_call_errors{model_name,
// address,status}.
void RecordRemoteCall(const std::string& model, const std::string& address,
                      const absl::Status& status, absl::Duration latency);

// A remote call answered with zero rows (--on_shard_failure=zeros):
// :recship:remote_zero_answers{model_name}.
void RecordZeroAnswer(const std::string& model);

// One batch run (--enable_batching): :recship:batch_requests{model_name}
// and :recship:batch_rows{model_name}, histograms of how many requests and
// rows it merged.
void RecordBatch(const std::string& model, int64_t requests, int64_t rows);

// Gauges read from `manager` at each scrape: :recship:versions_loaded
// {model_name}, :recship:table_rows{model_name,version,table} and
// :recship:table_bytes{model_name,version,table,memory}. Their ids, for
// Metrics::RemoveGauge once the manager is gone.
std::vector<int> AddModelGauges(const ModelManager& manager);

// TensorFlow's name of an error code ("OK", "NOT_FOUND", ...).
std::string ErrorCodeName(absl::StatusCode code);

}  // namespace recship

#endif  // RECSHIP_SERVING_SERVING_METRICS_H_
