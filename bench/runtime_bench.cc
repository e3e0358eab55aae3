// Serving benchmark driver, run by bench/serving_bench.py.
//
// Three modes, each printing one JSON document on stdout:
//  * in-process (default): loads --saved-model with SavedModelBundle
//    on a ThreadPool of --threads threads and, for each batch size in
//    the --requests file, calls RunSignature in a closed loop from
//    --concurrency caller threads (1) on the pre-built inputs, round robin.
//  * --grpc HOST:PORT: the load generator for `recship serve`. --clients
//    threads (4), each on its own channel, send the same requests as
//    PredictRequests in a closed loop, or at --rate requests/s each.
//  * --load-only: loads --saved-model once and reports the seconds
//    SavedModelBundle::Load took and the process's peak RSS.
//
// The --requests file holds pre-built requests, written by serving_bench.py:
// records of  u64 batch | u64 length | serialized PredictRequest  (little
// endian). Only the requests' inputs are used (the model name comes from
// --model-name). Requests are converted to tensors (in-process) or protos
// (gRPC) before the clock starts.
//
// Each batch size runs --warmup-seconds untimed, then --seconds timed. The
// figures: p50/p99/mean latency per request, requests/s and rows/s. The
// outputs of each batch's first request are printed too, so the caller can
// compare them with TensorFlow's.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "recship/format/tensor_proto.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string saved_model;
  std::string requests_file;
  std::string grpc_target;
  std::string model_name = "default";
  std::string signature = "serving_default";
  int threads = 2;
  int concurrency = 1;
  int clients = 4;
  double seconds = 3;
  double warmup_seconds = 0.5;
  double rate = 0;  // Requests per second per caller thread; 0: closed loop.
  std::string latency_log;
  bool keep_going = false;  // A failed request is counted, not fatal.
  bool load_only = false;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "runtime_bench: %s\n", message.c_str());
  std::exit(1);
}

// Peak RSS in bytes: ru_maxrss, and VmHWM (the high-water mark of this
// process's own memory map, which exec starts afresh).
json PeakRss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  int64_t hwm = -1;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atoll(line.c_str() + 6) * 1024;
  }
  return json{{"ru_maxrss_bytes", static_cast<int64_t>(usage.ru_maxrss) * 1024},
              {"vm_hwm_bytes", hwm}};
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Requests by batch size, in file order.
std::map<int64_t, std::vector<tensorflow::serving::PredictRequest>> ReadRequests(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(absl::StrCat("cannot open ", path));
  std::map<int64_t, std::vector<tensorflow::serving::PredictRequest>> requests;
  for (;;) {
    uint64_t header[2];
    if (!in.read(reinterpret_cast<char*>(header), sizeof(header))) break;
    std::string payload(header[1], '\0');
    if (!in.read(payload.data(), static_cast<std::streamsize>(payload.size()))) {
      Die(absl::StrCat(path, ": truncated record"));
    }
    tensorflow::serving::PredictRequest request;
    if (!request.ParseFromString(payload)) Die(absl::StrCat(path, ": a record does not parse"));
    requests[static_cast<int64_t>(header[0])].push_back(std::move(request));
  }
  if (requests.empty()) Die(absl::StrCat(path, ": no requests"));
  return requests;
}

// Latency figures over every timed request of every thread.
json Summarize(int64_t batch, std::vector<double> latencies, double seconds) {
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(latencies.size() - 1) + 0.5);
    return latencies[std::min(i, latencies.size() - 1)] * 1e3;
  };
  double total = 0;
  for (double l : latencies) total += l;
  double n = static_cast<double>(latencies.size());
  return json{{"batch", batch},
              {"requests", latencies.size()},
              {"seconds", seconds},
              {"p50_ms", at(0.50)},
              {"p99_ms", at(0.99)},
              {"mean_ms", total / n * 1e3},
              {"max_ms", latencies.back() * 1e3},
              {"requests_per_s", n / seconds},
              {"rows_per_s", n * static_cast<double>(batch) / seconds}};
}

json OutputsJson(const std::map<std::string, Tensor>& outputs) {
  json out = json::object();
  for (const auto& [key, tensor] : outputs) {
    if (tensor.dtype() != tensorflow::DT_FLOAT) continue;
    auto values = tensor.flat<float>();
    out[key] = std::vector<float>(values.begin(), values.end());
  }
  return out;
}

// One line per timed request: its due time (Unix seconds) and latency
// (seconds), for callers that split a run into phases.
// Lines "DUE LATENCY OK": a request's due time (Unix seconds), its latency
// (seconds) and 1 when it succeeded, 0 when it failed.
void WriteLatencyLog(const std::string& path, const std::vector<std::vector<double>>& starts,
                     const std::vector<std::vector<double>>& latencies,
                     const std::vector<std::vector<char>>& oks) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Die(absl::StrCat("cannot write ", path));
  for (size_t t = 0; t < starts.size(); ++t) {
    for (size_t i = 0; i < starts[t].size(); ++i) {
      std::fprintf(f, "%.6f %.6f %d\n", starts[t][i], latencies[t][i], oks[t][i]);
    }
  }
  if (std::fclose(f) != 0) Die(absl::StrCat("cannot write ", path));
}

// Runs `call(thread, request_index)` from `threads` threads in a closed loop
// (or, with --rate, each thread starting a request every 1/rate seconds, on
// schedule or at once when late, its latency counted from when it was due,
// so a stall shows in every request it delays): warmup, then the timed part.
// Returns the summary.
template <typename Call>
json ClosedLoop(int64_t batch, size_t num_requests, int threads, const Options& o, Call call) {
  std::vector<std::vector<double>> latencies(threads);
  // With --latency-log: each timed request's due time (Unix seconds).
  std::vector<std::vector<double>> starts(threads);
  std::vector<std::vector<char>> oks(threads);
  std::atomic<int64_t> failures{0};
  const double unix_at_start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::atomic<bool> failed{false};
  Clock::time_point start = Clock::now();
  auto warm_end = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.warmup_seconds));
  auto end = warm_end +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  auto worker = [&](int t) {
    std::vector<double>& mine = latencies[t];
    mine.reserve(1 << 16);
    // Threads start at different requests so they do not move in lockstep.
    size_t next = static_cast<size_t>(t) * 7919 % num_requests;
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o.rate > 0 ? 1 / o.rate : 0));
    Clock::time_point due = start + period * t / threads;
    for (;;) {
      if (o.rate > 0) {
        std::this_thread::sleep_until(due);
      } else {
        due = Clock::now();
      }
      Clock::time_point begin = due;
      due += period;
      if (begin >= end || failed.load(std::memory_order_relaxed)) break;
      const bool ok = call(t, next);
      if (!ok && !o.keep_going) {
        failed = true;
        break;
      }
      Clock::time_point done = Clock::now();
      if (begin >= warm_end) {
        if (!ok) ++failures;
        mine.push_back(std::chrono::duration<double>(done - begin).count());
        if (!o.latency_log.empty()) {
          starts[t].push_back(unix_at_start + std::chrono::duration<double>(begin - start).count());
          oks[t].push_back(ok ? 1 : 0);
        }
      }
      next = next + 1 == num_requests ? 0 : next + 1;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& th : pool) th.join();
  if (failed) Die("a request failed");
  if (!o.latency_log.empty()) WriteLatencyLog(o.latency_log, starts, latencies, oks);
  // The timed window ends when the last request started before `end` is done.
  double seconds = Since(warm_end);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (all.empty()) Die("no request finished in the timed window; raise --seconds");
  json summary = Summarize(batch, std::move(all), seconds);
  summary["failed_requests"] = failures.load();
  return summary;
}

std::unique_ptr<SavedModelBundle> LoadBundle(const Options& o, const ThreadPool& pool,
                                             double* seconds) {
  LoadOptions load_options;
  load_options.thread_pool = &pool;
  Clock::time_point start = Clock::now();
  auto bundle = SavedModelBundle::Load(o.saved_model, load_options);
  *seconds = Since(start);
  if (!bundle.ok()) Die(std::string(bundle.status().message()));
  return *std::move(bundle);
}

int RunLoadOnly(const Options& o) {
  json rss_before = PeakRss();
  ThreadPool pool(o.threads);
  double seconds = 0;
  std::unique_ptr<SavedModelBundle> bundle = LoadBundle(o, pool, &seconds);
  json out{{"mode", "load-only"},
           {"saved_model", o.saved_model},
           {"threads", o.threads},
           {"load_seconds", seconds},
           {"resource_bytes", bundle->ResourceBytes()},
           {"mapped_bytes", bundle->MappedBytes()},
           {"fused_embedding_decodes", bundle->fused_embedding_decodes()},
           {"rss_before_load", rss_before},
           {"peak_rss", PeakRss()}};
  std::cout << out.dump(1) << std::endl;
  return 0;
}

int RunInProcess(const Options& o) {
  ThreadPool pool(o.threads);
  double load_seconds = 0;
  std::unique_ptr<SavedModelBundle> bundle = LoadBundle(o, pool, &load_seconds);
  json results = json::array();
  for (const auto& [batch, protos] : ReadRequests(o.requests_file)) {
    std::vector<std::map<std::string, Tensor>> requests;
    for (const auto& proto : protos) {
      std::map<std::string, Tensor> inputs;
      for (const auto& [key, tensor_proto] : proto.inputs()) {
        absl::StatusOr<Tensor> t = TensorFromProto(tensor_proto);
        if (!t.ok()) Die(absl::StrCat("input '", key, "': ", t.status().message()));
        inputs.emplace(key, *std::move(t));
      }
      requests.push_back(std::move(inputs));
    }
    auto first = bundle->RunSignature(o.signature, requests[0]);
    if (!first.ok()) Die(std::string(first.status().message()));
    json summary = ClosedLoop(batch, requests.size(), o.concurrency, o, [&](int, size_t i) {
      absl::StatusOr<std::map<std::string, Tensor>> out =
          bundle->RunSignature(o.signature, requests[i]);
      if (!out.ok()) std::fprintf(stderr, "runtime_bench: %s\n", out.status().ToString().c_str());
      return out.ok();
    });
    summary["outputs"] = OutputsJson(*first);
    std::fprintf(stderr, "runtime_bench: batch %lld: %.0f requests/s, p50 %.3f ms\n",
                 static_cast<long long>(batch), summary["requests_per_s"].get<double>(),
                 summary["p50_ms"].get<double>());
    results.push_back(std::move(summary));
  }
  json out{{"mode", "in-process"},         {"saved_model", o.saved_model}, {"threads", o.threads},
           {"concurrency", o.concurrency}, {"load_seconds", load_seconds}, {"results", results},
           {"peak_rss", PeakRss()}};
  std::cout << out.dump(1) << std::endl;
  return 0;
}

int RunGrpc(const Options& o) {
  std::vector<std::unique_ptr<::tensorflow::serving::PredictionService::Stub>> stubs;
  for (int c = 0; c < o.clients; ++c) {
    grpc::ChannelArguments args;
    // A connection per client thread, as separate client processes would have.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    auto channel =
        grpc::CreateCustomChannel(o.grpc_target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
      Die(absl::StrCat("cannot connect to ", o.grpc_target));
    }
    stubs.push_back(::tensorflow::serving::PredictionService::NewStub(channel));
  }
  json results = json::array();
  for (auto& [batch, requests] : ReadRequests(o.requests_file)) {
    for (auto& request : requests) {
      request.mutable_model_spec()->set_name(o.model_name);
      request.mutable_model_spec()->set_signature_name(o.signature);
    }
    tensorflow::serving::PredictResponse first;
    {
      grpc::ClientContext context;
      grpc::Status status = stubs[0]->Predict(&context, requests[0], &first);
      if (!status.ok()) Die(absl::StrCat("Predict: ", status.error_message()));
    }
    json summary = ClosedLoop(batch, requests.size(), o.clients, o, [&](int c, size_t i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      tensorflow::serving::PredictResponse response;
      grpc::Status status = stubs[c]->Predict(&context, requests[i], &response);
      if (!status.ok()) {
        std::fprintf(stderr, "runtime_bench: Predict failed (%d): %s\n", status.error_code(),
                     status.error_message().c_str());
      }
      return status.ok();
    });
    std::map<std::string, Tensor> outputs;
    for (const auto& [key, proto] : first.outputs()) {
      absl::StatusOr<Tensor> t = TensorFromProto(proto);
      if (!t.ok()) Die(absl::StrCat("output '", key, "': ", t.status().message()));
      outputs.emplace(key, *std::move(t));
    }
    summary["outputs"] = OutputsJson(outputs);
    std::fprintf(stderr, "runtime_bench: gRPC batch %lld: %.0f requests/s, p50 %.3f ms\n",
                 static_cast<long long>(batch), summary["requests_per_s"].get<double>(),
                 summary["p50_ms"].get<double>());
    results.push_back(std::move(summary));
  }
  json out{{"mode", "grpc"},
           {"target", o.grpc_target},
           {"clients", o.clients},
           {"results", results},
           {"peak_rss", PeakRss()}};
  std::cout << out.dump(1) << std::endl;
  return 0;
}

}  // namespace
}  // namespace recship

int main(int argc, char** argv) {
  CLI::App app{
      "Serving benchmark driver: the recship runtime in-process on pre-built requests, a gRPC "
      "load generator for `recship serve`, or a load-only run; prints JSON. Usually run by "
      "bench/serving_bench.py."};
  recship::Options o;
  app.add_option("--saved-model", o.saved_model, "SavedModel version folder");
  app.add_option("--requests", o.requests_file,
                 "pre-built requests: records of u64 batch, u64 length, PredictRequest");
  app.add_option("--grpc", o.grpc_target, "HOST:PORT of a PredictionService: load-generator mode");
  app.add_option("--model-name", o.model_name, "model name in gRPC requests")
      ->capture_default_str();
  app.add_option("--signature", o.signature, "signature to run")->capture_default_str();
  app.add_option("--threads", o.threads, "runtime thread pool size (in-process, load-only)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--concurrency", o.concurrency, "in-process caller threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--clients", o.clients, "concurrent gRPC client threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", o.seconds, "timed seconds per batch size")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  app.add_option("--warmup-seconds", o.warmup_seconds, "untimed seconds first, per batch size")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--rate", o.rate,
                 "open loop: requests per second from each caller thread or client (0: closed "
                 "loop)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--latency-log", o.latency_log,
                 "write each timed request's due time (Unix seconds), latency and 1 (0 when it "
                 "failed) to this file");
  app.add_flag("--keep-going", o.keep_going,
               "count failed requests (failed_requests, and 0 in the latency log's third "
               "column) instead of stopping at the first");
  app.add_flag("--load-only", o.load_only, "only load --saved-model: seconds and peak RSS");
  CLI11_PARSE(app, argc, argv);

  if (!o.grpc_target.empty()) {
    if (o.requests_file.empty()) recship::Die("--grpc needs --requests");
    return recship::RunGrpc(o);
  }
  if (o.saved_model.empty()) recship::Die("give --saved-model (or --grpc HOST:PORT)");
  if (o.load_only) return recship::RunLoadOnly(o);
  if (o.requests_file.empty()) recship::Die("give --requests (or --load-only)");
  return recship::RunInProcess(o);
}
