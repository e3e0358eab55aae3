#include "recship/serving/serving_metrics.h"

#include "absl/strings/str_cat.h"
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

std::vector<int> AddModelGauges(const ModelManager& model_manager) {
  Metrics& metrics = Metrics::Global();
  const ModelManager* manager = &model_manager;
  std::vector<int> gauges;
  gauges.push_back(metrics.AddGauge("/recship/versions_loaded", "Versions of a model being served.",
                                    {"model_name"}, [manager] {
                                      std::map<std::string, double> counts;
                                      for (const auto& [name, ready] : manager->ModelsReady())
                                        counts[name] = 0;
                                      for (const ServableHandle& v : manager->LoadedVersions())
                                        ++counts[v.name];
                                      std::vector<std::pair<Metrics::Labels, double>> samples;
                                      for (const auto& [name, n] : counts)
                                        samples.push_back({{name}, n});
                                      return samples;
                                    }));
  gauges.push_back(metrics.AddGauge(
      "/recship/table_rows", "Rows of an embedding table of a version being served.",
      {"model_name", "version", "table"}, [manager] {
        std::vector<std::pair<Metrics::Labels, double>> samples;
        for (const ServableHandle& v : manager->LoadedVersions()) {
          for (const TableStats& t : v.model->Tables()) {
            samples.push_back(
                {{v.name, absl::StrCat(v.version), t.name}, static_cast<double>(t.rows)});
          }
        }
        return samples;
      }));
  gauges.push_back(metrics.AddGauge(
      "/recship/table_bytes",
      "Bytes of an embedding table of a version being served: its index and rows in the heap, "
      "or its rows mapped from the export's files.",
      {"model_name", "version", "table", "memory"}, [manager] {
        std::vector<std::pair<Metrics::Labels, double>> samples;
        for (const ServableHandle& v : manager->LoadedVersions()) {
          for (const TableStats& t : v.model->Tables()) {
            const std::string version = absl::StrCat(v.version);
            samples.push_back(
                {{v.name, version, t.name, "heap"}, static_cast<double>(t.heap_bytes)});
            samples.push_back(
                {{v.name, version, t.name, "mapped"}, static_cast<double>(t.mapped_bytes)});
          }
        }
        return samples;
      }));
  return gauges;
}

}  // namespace recship
