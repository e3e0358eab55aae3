// `recship sync`: pushes the rows a trainer changes to the running shards of
// a distributed layout, through each ps_<i>'s hashtable_assign signature
// over TensorFlow Serving's Predict API, so they serve fresh rows without a
// new version or delta.
//
// For each shard it keeps what the shard serves (ServedTables: its version,
// the deltas published for it, the rows pushed since). Each time the
// training folder's newest checkpoint changes, it computes every shard's
// changes against that and pushes them in batches of --batch_rows; an id the
// checkpoint dropped is pushed as a zero row (what the shard's lookup gives
// an unseen id). Before each round it asks every shard its table sizes (an
// assign of no rows) and looks up one row it pushed last (its canary);
// sizes other than those after the last round, or another row, mean the
// shard reloaded (a restart) or was changed by someone else, so everything
// pushed since its version is sent again. A failed call is retried at the
// next round, also with everything resent.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "commands.h"
#include "interrupt_flag.h"
#include "recship/core/status_macros.h"
#include "recship/export/served_tables.h"
#include "recship/format/checkpoint_state.h"
#include "recship/format/sub_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/model/checkpoint.h"
#include "recship/serving/grpc_remote_caller.h"
#include "recship/serving/remote_address_resolver.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

struct SyncOptions {
  std::string model_dir;
  std::string export_dir_base;
  std::string model_name;
  int64_t since = -1;
  std::string remote_addresses;
  std::string remote_address_template;
  double poll_seconds = 1;
  int64_t batch_rows = 1024;
  int64_t timeout_ms = 10000;
  bool once = false;
};

// One ps_<i>: what it serves, and pushing changes to it.
class ShardSync {
 public:
  // `replica`: the one address of the shard this pushes to.
  ShardSync(SubModel sub, std::string replica, std::unique_ptr<ServedTables> served,
            const SyncOptions& options, std::function<void(const std::string&)> log)
      : sub_(sub), served_(std::move(served)), options_(options), log_(std::move(log)) {
    target_.model_name = absl::StrCat(options.model_name, ":", sub.name());
    target_.target_address = std::move(replica);
    name_ = absl::StrCat(sub.name(), " (", target_.target_address, ")");
  }
  const SubModel& sub() const { return sub_; }
  // "ps_0 (HOST:PORT)", for the log.
  const std::string& name() const { return name_; }

  // Pushes what `checkpoint` changed (after everything since the version
  // when the shard lost it). Returns the rows pushed; `diff_seconds` is the
  // time spent finding them.
  absl::StatusOr<int64_t> Sync(const CheckpointReader& checkpoint, const RemoteCaller& caller,
                               double& diff_seconds) {
    auto start = std::chrono::steady_clock::now();
    RECSHIP_ASSIGN_OR_RETURN(ServedTables::Changes changes, served_->Diff(checkpoint));
    diff_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    absl::Status status = PushRound(changes, caller);
    if (!status.ok()) {
      resend_all_ = true;
      return status;
    }
    served_->Record(changes);
    int64_t rows = 0;
    for (const auto& [table, c] : changes) rows += c.keys.size() + c.deleted.size();
    return rows;
  }

 private:
  absl::Status PushRound(const ServedTables::Changes& changes, const RemoteCaller& caller) {
    RECSHIP_ASSIGN_OR_RETURN(auto sizes, Push({}, caller));  // Its sizes now.
    std::string lost;
    if (resend_all_) {
      lost = "a call failed";
    } else if (!sizes_.empty() && sizes != sizes_) {
      lost = "its table sizes changed (a restart?)";
    } else {
      RECSHIP_ASSIGN_OR_RETURN(lost, CheckCanary(caller));
    }
    if (!lost.empty()) {
      ServedTables::Changes since = served_->SinceVersion();
      int64_t rows = 0;
      for (const auto& [table, c] : since) rows += c.keys.size() + c.deleted.size();
      log_(absl::StrCat(name_, ": ", lost, "; resending the ", rows, " rows changed since version ",
                        served_->version()));
      RECSHIP_RETURN_IF_ERROR(Push(since, caller).status());
      resend_all_ = false;
    }
    RECSHIP_ASSIGN_OR_RETURN(sizes_, Push(changes, caller));
    PickCanary(changes);
    return absl::OkStatus();
  }

  // A row pushed last that differs from what the shard served before: a
  // shard that reloaded (a restart) serves something else for its id, even
  // when no table changed size.
  struct Canary {
    std::string table;
    int64_t key = 0;
    std::string row;
  };
  void PickCanary(const ServedTables::Changes& changes) {
    for (const auto& [table, c] : changes) {
      if (c.keys.empty()) continue;
      canary_ = Canary{table, c.keys.front(), c.rows.substr(0, RowBytes(table))};
      return;
    }
  }

  // Why the shard lost what was pushed to it, or "" when its canary row is
  // still the one pushed.
  absl::StatusOr<std::string> CheckCanary(const RemoteCaller& caller) {
    if (!canary_) return std::string();
    tensorflow::serving::PredictRequest request;
    request.mutable_model_spec()->set_name(target_.model_name);
    request.mutable_model_spec()->set_signature_name("lookup");
    for (const std::string& name : served_->tables()) {
      std::vector<int64_t> ids;
      if (name == canary_->table) ids.push_back(canary_->key);
      (*request.mutable_inputs())[name] =
          TensorToProto(Tensor::FromVector<int64_t>({static_cast<int64_t>(ids.size())}, ids));
    }
    RECSHIP_ASSIGN_OR_RETURN(
        std::unique_ptr<PendingPredict> call,
        caller.StartPredict(target_, std::move(request), absl::Milliseconds(options_.timeout_ms)));
    RECSHIP_RETURN_IF_ERROR(call->Wait());
    auto it = call->response().outputs().find(canary_->table);
    if (it != call->response().outputs().end()) {
      absl::StatusOr<Tensor> row = TensorFromProto(it->second);
      if (row.ok() && std::string_view(reinterpret_cast<const char*>(row->data()),
                                       row->byte_size()) == canary_->row) {
        return std::string();
      }
    }
    return absl::StrCat("its row for id ", canary_->key, " of table '", canary_->table,
                        "' is not the one pushed (a restart?)");
  }

  // Sends `changes` in batches; returns the table sizes after the last one.
  absl::StatusOr<std::map<std::string, int64_t>> Push(const ServedTables::Changes& changes,
                                                      const RemoteCaller& caller) {
    std::map<std::string, int64_t> sizes;
    bool sent = false;
    for (const auto& [table, c] : changes) {
      ServedTables::TableChanges all = c;
      const size_t width = RowBytes(table);
      for (int64_t key : c.deleted) {
        all.keys.push_back(key);
        all.rows.append(width, '\0');
      }
      for (size_t begin = 0; begin < all.keys.size(); begin += options_.batch_rows) {
        size_t end = std::min(all.keys.size(), begin + static_cast<size_t>(options_.batch_rows));
        ServedTables::TableChanges batch;
        batch.keys.assign(all.keys.begin() + begin, all.keys.begin() + end);
        batch.rows = all.rows.substr(begin * width, (end - begin) * width);
        RECSHIP_ASSIGN_OR_RETURN(sizes, Send(table, batch.keys, batch.rows, caller));
        sent = true;
      }
    }
    if (!sent) return Send("", {}, {}, caller);  // No rows: just the sizes.
    return sizes;
  }

  size_t RowBytes(const std::string& table) const {
    size_t bytes = DataTypeSize(served_->dtype(table));
    for (int64_t d : served_->row_shape(table)) bytes *= static_cast<size_t>(d);
    return bytes;
  }

  // One hashtable_assign call: `keys` and `rows` for `table`, no rows for
  // the others. Returns the sizes it reports.
  absl::StatusOr<std::map<std::string, int64_t>> Send(const std::string& table,
                                                      const std::vector<int64_t>& keys,
                                                      const std::string& rows,
                                                      const RemoteCaller& caller) {
    tensorflow::serving::PredictRequest request;
    request.mutable_model_spec()->set_name(target_.model_name);
    request.mutable_model_spec()->set_signature_name("hashtable_assign");
    for (const std::string& name : served_->tables()) {
      ServedTables::TableChanges part;
      if (name == table) part = {keys, rows, {}};
      RECSHIP_ASSIGN_OR_RETURN(Tensor values, served_->RowsTensor(name, part));
      auto ids = Tensor::FromVector<int64_t>({static_cast<int64_t>(part.keys.size())}, part.keys);
      (*request.mutable_inputs())[name + "_ids"] = TensorToProto(ids);
      (*request.mutable_inputs())[name + "_values"] = TensorToProto(values);
    }
    RECSHIP_ASSIGN_OR_RETURN(
        std::unique_ptr<PendingPredict> call,
        caller.StartPredict(target_, std::move(request), absl::Milliseconds(options_.timeout_ms)));
    RECSHIP_RETURN_IF_ERROR(call->Wait());
    std::map<std::string, int64_t> sizes;
    for (const std::string& name : served_->tables()) {
      auto it = call->response().outputs().find(name + "_size");
      if (it == call->response().outputs().end()) continue;
      absl::StatusOr<Tensor> size = TensorFromProto(it->second);
      if (size.ok() && size->dtype() == tensorflow::DT_INT64 && size->num_elements() == 1) {
        sizes[name] = size->flat<int64_t>()[0];
      }
    }
    return sizes;
  }

  const SubModel sub_;
  std::unique_ptr<ServedTables> served_;
  const SyncOptions& options_;
  const std::function<void(const std::string&)> log_;
  RemoteTarget target_;
  std::string name_;
  std::map<std::string, int64_t> sizes_;  // After the last round.
  std::optional<Canary> canary_;
  bool resend_all_ = false;
};

void Log(const std::string& line) {
  std::cout << absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::LocalTimeZone())
            << " recship sync: " << line << std::endl;
}

// The shards of the layout that serve version `since`, each with what it
// serves.
// One ShardSync per replica of every ps_<i> that serves the version: each
// replica holds its own copy of the rows, so each gets every push.
std::vector<std::unique_ptr<ShardSync>> OpenShards(const SyncOptions& options,
                                                   const RemoteAddressResolver& resolver) {
  std::vector<std::unique_ptr<ShardSync>> shards;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.export_dir_base, ec)) {
    std::optional<SubModel> sub = SubModel::Parse(entry.path().filename().string());
    if (!sub || !sub->is_ps() || !fs::exists(entry.path() / std::to_string(options.since), ec)) {
      continue;
    }
    const std::string model = absl::StrCat(options.model_name, ":", sub->name());
    absl::StatusOr<std::string> addresses = resolver.Resolve(model, "");
    if (!addresses.ok()) Fail("sync", addresses.status());
    if (absl::StartsWith(*addresses, "dns:")) {
      Log(absl::StrCat(sub->name(), ": '", *addresses, "' may name several replicas, and a push ",
                       "reaches one of them: list each replica in --remote_addresses (a|b)"));
    }
    for (absl::string_view replica : absl::StrSplit(*addresses, '|', absl::SkipWhitespace())) {
      auto served = ServedTables::Open(entry.path().string(), options.since);
      if (!served.ok()) Fail("sync", served.status());
      shards.push_back(std::make_unique<ShardSync>(*sub,
                                                   std::string(absl::StripAsciiWhitespace(replica)),
                                                   *std::move(served), options, Log));
    }
  }
  if (shards.empty()) {
    Fail("sync", absl::StrCat("no ps_<i>/", options.since, " under ", options.export_dir_base,
                              ": sync pushes to the shards of a distributed layout"));
  }
  std::stable_sort(shards.begin(), shards.end(), [](const auto& a, const auto& b) {
    return a->sub().index() < b->sub().index();
  });
  return shards;
}

double SecondsSinceWritten(const std::string& checkpoint) {
  struct stat st {};
  if (::stat(BundleIndexPath(checkpoint).c_str(), &st) != 0) return 0;
  return absl::ToDoubleSeconds(absl::Now() - absl::TimeFromTimespec(st.st_mtim));
}

// One round: every shard, the checkpoint's changes. True when all took them.
bool SyncRound(const std::string& checkpoint, std::vector<std::unique_ptr<ShardSync>>& shards,
               const RemoteCaller& caller) {
  auto reader = CheckpointReader::Open(checkpoint);
  if (!reader.ok()) {
    Log(std::string(reader.status().message()));
    return false;
  }
  bool all = true;
  for (auto& shard : shards) {
    auto start = std::chrono::steady_clock::now();
    double diff_seconds = 0;
    absl::StatusOr<int64_t> rows = shard->Sync(**reader, caller, diff_seconds);
    if (!rows.ok()) {
      Log(absl::StrCat(shard->name(), ": ", rows.status().message(), "; retrying"));
      all = false;
      continue;
    }
    Log(absl::StrFormat(
        "%s: %s pushed, %d rows in %.3f s (%.3f s finding them); staleness %.3f s", shard->name(),
        checkpoint, *rows,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        diff_seconds, SecondsSinceWritten(checkpoint)));
  }
  return all;
}

void RunSync(const SyncOptions& options) {
  auto resolver =
      RemoteAddressResolver::Create(options.remote_addresses, options.remote_address_template);
  if (!resolver.ok()) Fail("sync", resolver.status());
  std::vector<std::unique_ptr<ShardSync>> shards = OpenShards(options, *resolver);
  // Each push goes to its one replica, with sync's own deadline: no hedges.
  GrpcRemoteCaller caller(*std::move(resolver),
                          {.timeout = absl::InfiniteDuration(), .hedge = absl::ZeroDuration()});
  InterruptFlag interrupt;
  std::string synced;
  while (interrupt.signal() == 0) {
    absl::StatusOr<std::string> latest = LatestCheckpoint(options.model_dir);
    if (latest.ok() && *latest != synced && SyncRound(*latest, shards, caller)) synced = *latest;
    if (options.once) {
      if (synced.empty()) throw CLI::RuntimeError(1);
      return;
    }
    auto until =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(options.poll_seconds);
    while (interrupt.signal() == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

void AddSyncCommand(CLI::App& app) {
  auto o = std::make_shared<SyncOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sync",
      "Push the rows a trainer changes to the running shards of a distributed layout, through "
      "their hashtable_assign signature (TensorFlow Serving's Predict API), each time the "
      "training folder has a newer checkpoint.");
  cmd->add_option("--model-dir", o->model_dir, "training folder to follow")->required();
  cmd->add_option("--export-dir-base", o->export_dir_base,
                  "the distributed layout the shards serve (holds ps_<i>/<version>/)")
      ->required();
  cmd->add_option("--since", o->since, "the version the shards serve")->required();
  cmd->add_option("--model_name", o->model_name,
                  "the name the shards are served under (<name>:ps_<i>)")
      ->required();
  cmd->add_option("--remote_addresses", o->remote_addresses,
                  "shard addresses, e.g. 'ps_0=10.0.0.1:8500,ps_1=10.0.0.2:8500'");
  cmd->add_option("--remote_address_template", o->remote_address_template,
                  "address of shards not in --remote_addresses, e.g. 'ps-{i}.svc:8500'");
  cmd->add_option("--poll_seconds", o->poll_seconds,
                  "seconds between looks for a new checkpoint (1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch_rows", o->batch_rows, "rows per call (1024)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--timeout_ms", o->timeout_ms, "deadline of each call (10000)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--once", o->once,
                "push the newest checkpoint's changes and exit (1 when a shard did not take "
                "them)");
  cmd->footer(
      "Ids the checkpoint no longer has are pushed as zero rows (what a shard gives an unseen "
      "id). A shard whose table sizes differ from those after the last round (it restarted) "
      "gets everything pushed since its version again; so does one whose call failed, at the "
      "next round. Each round logs rows pushed per shard and the staleness: seconds from the "
      "checkpoint written to the shard updated.\n\n"
      "Example:\n"
      "  recship sync --model-dir train/ --export-dir-base out/ --since 1000 --model_name ctr \\\n"
      "      --remote_address_template 'ps-{i}.svc:8500'");
  cmd->callback([o] { RunSync(*o); });
}

}  // namespace recship
