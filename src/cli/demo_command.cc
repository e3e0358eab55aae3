// `recship demo`: the whole path on one machine, in seconds. It synthesizes
// a DeepFM training folder, exports it standalone and distributed, serves
// both layouts from this process on loopback (the standalone model; the
// entry and its 2 shards), sends the warmup requests and a few more to
// both, prints their predictions side by side and checks that they agree.
// Every server it started is stopped, and its temporary folder removed
// (a folder given with --work is kept). Exit status 1 when the layouts
// disagree.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "commands.h"
#include "demo_spec.h"
#include "grpcpp/grpcpp.h"
#include "recship/export/distributed_exporter.h"
#include "recship/export/standalone_exporter.h"
#include "recship/export/warmup_writer.h"
#include "recship/format/sub_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/format/tfrecord.h"
#include "recship/model/distributed_lookup.h"
#include "recship/model/model_zoo.h"
#include "recship/model/synthetic.h"
#include "recship/serving/grpc_remote_caller.h"
#include "recship/serving/model_config.h"
#include "recship/serving/model_server.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "recship/tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship {
namespace {

namespace fs = std::filesystem;
using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;

struct DemoOptions {
  std::string work;
  int64_t ids = 100000;
  int extra_requests = 3;
  bool update_shard = false;
};

template <typename T>
T OrFail(absl::StatusOr<T> value) {
  if (!value.ok()) Fail("demo", value.status());
  return *std::move(value);
}

void Step(absl::string_view text) { std::cout << "\n== " << text << "\n" << std::flush; }

// A model server on a free loopback port, quiet, stopped when destroyed.
std::unique_ptr<ModelServer> StartServer(const std::string& name, const std::string& base_path,
                                         std::shared_ptr<const RemoteCaller> remote = nullptr) {
  ServerOptions options;
  options.port = 0;
  options.config = SingleModelConfig(name, base_path);
  options.poll_wait_seconds = 0;
  options.log = [](const std::string&) {};
  options.remote_caller = std::move(remote);
  auto server = ModelServer::Start(std::move(options));
  if (!server.ok()) Fail("demo", server.status());
  std::cout << absl::StrFormat("  %-14s 127.0.0.1:%d  %s\n", name, (*server)->port(), base_path);
  return *std::move(server);
}

// Removes a folder when it goes out of scope, on any path.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

// Stops every server it holds when it goes out of scope, on any path.
struct Servers {
  std::vector<std::unique_ptr<ModelServer>> all;
  ~Servers() {
    for (auto& server : all) server->Shutdown();
  }
};

class Client {
 public:
  explicit Client(int port)
      : stub_(::tensorflow::serving::PredictionService::NewStub(grpc::CreateChannel(
            absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()))) {}

  PredictResponse Predict(const PredictRequest& request, const std::string& model) const {
    PredictRequest named = request;
    named.mutable_model_spec()->set_name(model);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    PredictResponse response;
    grpc::Status status = stub_->Predict(&context, named, &response);
    if (!status.ok()) {
      Fail("demo", absl::UnavailableError(
                       absl::StrCat("Predict on ", model, ": ", status.error_message())));
    }
    return response;
  }

 private:
  std::unique_ptr<::tensorflow::serving::PredictionService::Stub> stub_;
};

std::vector<PredictRequest> ReadRequests(const std::string& warmup_file) {
  auto reader = OrFail(TFRecordReader::Open(warmup_file));
  std::vector<PredictRequest> requests;
  std::string record;
  while (true) {
    absl::Status status = reader->Read(&record);
    if (absl::IsOutOfRange(status)) break;
    if (!status.ok()) Fail("demo", status);
    tensorflow::serving::PredictionLog log;
    if (!log.ParseFromString(record)) Fail("demo", absl::DataLossError("bad warmup record"));
    requests.push_back(log.predict_log().request());
  }
  return requests;
}

std::vector<float> Predictions(const PredictResponse& response) {
  auto it = response.outputs().find("prediction");
  if (it == response.outputs().end()) Fail("demo", absl::InternalError("no 'prediction' output"));
  Tensor tensor = OrFail(TensorFromProto(it->second));
  auto values = tensor.flat<float>();
  return {values.begin(), values.end()};
}

// Overwrites, on shard 0 through its hashtable_assign signature, the rows of
// every id the requests look up there: the standalone model keeps the old
// rows, so the two layouts must then disagree.
void UpdateShardZero(const ModelSpec& spec, const std::vector<PredictRequest>& requests,
                     const Client& shard, const std::string& model) {
  PredictRequest assign;
  assign.mutable_model_spec()->set_signature_name(kAssignSignature);
  for (const HashTableSpec& table : spec.tables) {
    std::vector<int64_t> ids;
    for (const FeatureSpec& f : spec.features) {
      if (f.table != table.name) continue;
      std::string input = f.kind == FeatureSpec::Kind::kIdBag ? f.name + "_values" : f.name;
      for (const PredictRequest& request : requests) {
        Tensor t = OrFail(TensorFromProto(request.inputs().at(input)));
        for (int64_t id : t.flat<int64_t>()) {
          if (((id % table.num_shards) + table.num_shards) % table.num_shards == 0) {
            ids.push_back(id);
          }
        }
      }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto n = static_cast<int64_t>(ids.size());
    std::vector<float> values(static_cast<size_t>(n * table.dim), 1.0f);
    (*assign.mutable_inputs())[table.name + "_ids"] =
        TensorToProto(Tensor::FromVector<int64_t>({n}, ids));
    (*assign.mutable_inputs())[table.name + "_values"] =
        TensorToProto(Tensor::FromVector<float>({n, table.dim}, values));
    std::cout << "  ps_0: " << table.name << ": " << n << " rows set to 1.0\n";
  }
  shard.Predict(assign, model);
}

// Prints both layouts' predictions side by side; true when all agree.
bool CompareLayouts(const std::vector<PredictRequest>& requests, size_t warmup_count,
                    const Client& standalone, const Client& entry, const std::string& model) {
  std::cout << absl::StrFormat("  %-9s %4s  %12s  %12s  %10s\n", "request", "row", "standalone",
                               "distributed", "|diff|");
  bool agree = true;
  size_t rows = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    std::vector<float> a = Predictions(standalone.Predict(requests[r], model));
    std::vector<float> b = Predictions(entry.Predict(requests[r], model));
    if (a.size() != b.size())
      Fail("demo", absl::InternalError("the layouts return different shapes"));
    std::string label = absl::StrCat(r < warmup_count ? "warmup " : "extra ", r);
    for (size_t i = 0; i < a.size(); ++i, ++rows) {
      double diff = std::fabs(double{a[i]} - double{b[i]});
      bool same = diff <= 1e-5 * std::max(1.0, std::fabs(double{a[i]}));
      agree = agree && same;
      std::cout << absl::StrFormat("  %-9s %4d  %12.6f  %12.6f  %10.2g%s\n", label, i, a[i], b[i],
                                   diff, same ? "" : "  <-- differs");
    }
  }
  std::cout << "  " << rows << " predictions from " << requests.size()
            << " requests: " << (agree ? "the two layouts agree" : "the two layouts DISAGREE")
            << "\n";
  return agree;
}

// Exports the checkpoint in <work>/model standalone and distributed, with a
// warmup file (<work>/warmup) made from the standalone export, which the
// entry ships; returns the standalone version's path.
std::string ExportBothLayouts(const ModelSpec& spec, const fs::path& work) {
  const std::string& name = spec.name;
  Step("recship export --mode standalone, then a warmup file from it");
  StandaloneExporter standalone_exporter(MakeModelFn(spec), (work / "model").string(),
                                         (work / "standalone").string());
  std::string standalone = OrFail(
      standalone_exporter.ExportSavedModel(MakeServingInputReceiverFn(spec), {}, int64_t{1}));
  std::cout << "  " << standalone << "\n";
  std::string warmup = (work / "warmup").string();
  WarmupOptions warmup_options;
  warmup_options.count = 4;
  if (absl::Status s = WriteWarmupFile(standalone, warmup, warmup_options); !s.ok()) {
    Fail("demo", s);
  }
  std::cout << "  " << warmup << " (4 requests)\n";

  Step("recship export --mode distributed (entry + shards; the entry ships the warmup file)");
  DistributedExportOptions distributed;
  distributed.model_name = name;
  distributed.warmup_file = warmup;
  DistributedExporter distributed_exporter(MakeModelFn(spec), (work / "model").string(),
                                           (work / "distributed").string(), distributed);
  for (const std::string& path : OrFail(distributed_exporter.ExportSavedModel(
           MakeServingInputReceiverFn(spec), {}, int64_t{1}))) {
    std::cout << "  " << path << "\n";
  }
  return standalone;
}

// Serves the standalone export, then each shard, then the entry calling
// them, on loopback: servers.all holds them in that order.
void ServeBothLayouts(const ModelSpec& spec, const fs::path& work, Servers& servers) {
  const std::string& name = spec.name;
  Step("recship serve: the standalone model, and the entry with its shards, on loopback");
  servers.all.push_back(StartServer(name, (work / "standalone").string()));
  std::string addresses;
  int num_ps = 1;
  for (const HashTableSpec& table : spec.tables) num_ps = std::max(num_ps, table.num_shards);
  for (int i = 0; i < num_ps; ++i) {
    SubModel shard = SubModel::Ps(i);
    std::string ps = shard.name();
    servers.all.push_back(
        StartServer(shard.ServedName(name), (work / "distributed" / ps).string()));
    absl::StrAppend(&addresses, i == 0 ? "" : ",", ps, "=127.0.0.1:", servers.all.back()->port());
  }
  auto remote =
      std::make_shared<GrpcRemoteCaller>(OrFail(RemoteAddressResolver::Create(addresses, "")));
  servers.all.push_back(StartServer(name, (work / "distributed/entry").string(), remote));
}

void RunDemo(const DemoOptions& o) {
  bool temporary = o.work.empty();
  fs::path work = temporary ? fs::temp_directory_path() / absl::StrCat("recship-demo-", getpid())
                            : fs::path(o.work);
  if (fs::exists(work) && !fs::is_empty(work)) {
    Fail("demo",
         absl::AlreadyExistsError(absl::StrCat(work.string(), " is not empty; pick a new --work")));
  }
  RemoveOnExit cleanup{temporary ? work : fs::path()};
  ModelSpec spec = OrFail(ParseModelSpec(kDemoSpecJson));
  const std::string name = spec.name;
  bool agree = false;
  size_t started = 0;
  {
    Step(absl::StrCat("recship synth: a DeepFM training folder (", o.ids, " ids per table, ",
                      spec.tables[0].num_shards, " parameter-server shards, 2 steps)"));
    SyntheticOptions synthetic;
    synthetic.ids_per_table = o.ids;
    std::string checkpoint =
        OrFail(WriteSyntheticCheckpoints(spec, (work / "model").string(), synthetic));
    std::cout << "  " << checkpoint << "\n";

    std::string standalone = ExportBothLayouts(spec, work);
    std::string warmup = (work / "warmup").string();
    Servers servers;
    ServeBothLayouts(spec, work, servers);
    Step(absl::StrCat("recship predict: the 4 warmup requests and ", o.extra_requests,
                      " more, to both layouts"));
    std::vector<PredictRequest> requests = ReadRequests(warmup);
    size_t warmup_count = requests.size();
    WarmupOptions warmup_options;
    warmup_options.count = o.extra_requests;
    warmup_options.seed = 2;
    if (o.extra_requests > 0) {
      std::string extra = (work / "extra_requests").string();
      if (absl::Status s = WriteWarmupFile(standalone, extra, warmup_options); !s.ok()) {
        Fail("demo", s);
      }
      for (PredictRequest& r : ReadRequests(extra)) requests.push_back(std::move(r));
    }
    Client standalone_client(servers.all.front()->port());
    Client entry_client(servers.all.back()->port());
    if (o.update_shard) {
      Client shard(servers.all[1]->port());
      UpdateShardZero(spec, requests, shard, SubModel::Ps(0).ServedName(name));
    }
    agree = CompareLayouts(requests, warmup_count, standalone_client, entry_client, name);
    Step("stopping the servers");
    started = servers.all.size();
  }
  std::cout << "  all " << started << " servers stopped\n";
  if (!temporary) std::cout << "  the training folder and exports are in " << work.string() << "\n";
  if (!agree) throw CLI::RuntimeError(1);
}

}  // namespace

void AddDemoCommand(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Show the whole path in seconds: synthesize a DeepFM checkpoint, export it standalone and "
      "distributed, serve both layouts on loopback (standalone; entry + 2 shards), send the "
      "warmup requests and a few more, print both layouts' predictions side by side and check "
      "they agree. Exits 1 if they do not.");
  cmd->add_option("--work", options->work,
                  "keep the training folder and exports in this folder (empty or absent); "
                  "default: a temporary folder, removed afterwards");
  cmd->add_option("--ids", options->ids, "ids per embedding table")->check(CLI::Range(1, 10000000));
  cmd->add_option("--extra-requests", options->extra_requests,
                  "generated requests sent after the warmup ones")
      ->check(CLI::Range(0, 100));
  cmd->add_flag("--update-shard", options->update_shard,
                "before comparing, overwrite on shard ps_0 (hashtable_assign) the rows the "
                "requests use: shows a live update, and the check then fails");
  cmd->callback([options] { RunDemo(*options); });
}

}  // namespace recship
