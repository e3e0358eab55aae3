// `recship synth` (a synthetic training folder for a model spec) and
// `recship export` (export a training checkpoint for serving).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "commands.h"
#include "export_progress_bar.h"
#include "interrupt_flag.h"
#include "nlohmann/json.hpp"
#include "recship/core/status_macros.h"
#include "recship/export/delta_exporter.h"
#include "recship/export/distributed_exporter.h"
#include "recship/export/standalone_exporter.h"
#include "recship/export/warmup_writer.h"
#include "recship/model/model_zoo.h"
#include "recship/model/synthetic.h"
#include "verify_command.h"

namespace recship {

absl::StatusOr<absl::Duration> ParseAge(const std::string& text, absl::string_view flag) {
  int64_t n;
  if (absl::SimpleAtoi(text, &n) && n >= 0) return absl::Seconds(n);
  if (text.size() > 1 && text.back() == 'd' &&
      absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) && n >= 0) {
    return absl::Hours(24 * n);
  }
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d >= absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " '", text, "' is not a duration (like 90d, 12h, 30m, 3600s or 3600)"));
}

namespace {

using json = nlohmann::ordered_json;

struct SynthOptions {
  std::string model;
  std::string out;
  SyntheticOptions synthetic;
};

struct ExportCommandOptions {
  std::string model;
  std::string model_dir;
  std::string export_dir_base;
  std::string mode = "standalone";
  bool shared_embedding = false;
  std::string warmup_file;
  std::optional<int64_t> min_frequency;
  std::string max_age;  // A duration: 90d, 12h, 30m, 3600s, or seconds.
  std::string embedding_dtype = "float32";
  bool verify = false;
  std::optional<double> tolerance;  // --verify's.
  std::string checkpoint;
  int64_t global_step = -1;
  int64_t since = 0;       // Delta only: the base version (0: the newest).
  std::string since_time;  // Delta only.
  bool json = false;
  // Distributed only.
  std::string model_name;
  std::vector<std::string> include_graphs;
  DistributedExportOptions distributed;
};

// The name the entry calls its shards by: --model_name, else the spec's.
std::string DistributedModelName(const ExportCommandOptions& options, const ModelSpec& spec) {
  return options.model_name.empty() ? spec.name : options.model_name;
}

void RunSynth(const SynthOptions& options) {
  auto spec = LoadModelSpec(options.model);
  if (!spec.ok()) Fail("synth", spec.status());
  auto prefix = WriteSyntheticCheckpoints(*spec, options.out, options.synthetic);
  if (!prefix.ok()) Fail("synth", prefix.status());
  std::cout << *prefix << "\n";
}

// With --verify: the check run on the staged export before it is published
// (cli/verify_command.h), its report kept in `report`.
ExportOptions::BeforePublish VerifyBeforePublishing(const ExportCommandOptions& options,
                                                    const ModelSpec& spec,
                                                    const ExportOptions& export_options,
                                                    std::function<bool()> interrupted,
                                                    std::optional<VerifyReport>& report) {
  VerifyTarget target{
      .spec = &spec, .export_dir_base = options.export_dir_base, .model_dir = options.model_dir};
  target.min_frequency = export_options.min_frequency;
  target.max_age = export_options.max_age;
  target.tolerance = options.tolerance;
  target.progress = [interrupted](int, int) {
    return interrupted() ? absl::CancelledError("interrupted") : absl::OkStatus();
  };
  return [target, &report](const std::string& checkpoint,
                           const std::map<SubModel, std::string>& staged) mutable {
    target.checkpoint = checkpoint;
    absl::StatusOr<VerifyReport> checked = VerifyFolders(staged, target);
    if (!checked.ok()) {
      return absl::Status(checked.status().code(),
                          absl::StrCat("--verify: ", checked.status().message()));
    }
    report = *checked;
    if (checked->passed()) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("--verify: ", checked->ToString(), "; nothing was published"));
  };
}

absl::Status SetCommonExportOptions(const ExportCommandOptions& options, ExportOptions& out) {
  out.shared_embedding = options.shared_embedding;
  out.warmup_file = options.warmup_file;
  out.min_frequency = options.min_frequency;
  if (!options.max_age.empty()) {
    RECSHIP_ASSIGN_OR_RETURN(out.max_age, ParseAge(options.max_age, "--max-age"));
  }
  auto dtype = ParseEmbeddingDtype(options.embedding_dtype);
  if (!dtype.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--embedding-dtype: ", dtype.status().message()));
  out.embedding_dtype = *dtype;
  return absl::OkStatus();
}

// What an export command does beside exporting: report progress, stop
// when interrupted, and with --verify, keep the check's report.
struct ExportHooks {
  ExportProgressCallback progress;
  std::function<bool()> interrupted;
  std::optional<VerifyReport> report;
};

absl::Status SetExportHooks(const ExportCommandOptions& options, const ModelSpec& spec,
                            ExportHooks& hooks, ExportOptions& out) {
  RECSHIP_RETURN_IF_ERROR(SetCommonExportOptions(options, out));
  out.progress = hooks.progress;
  if (options.verify) {
    out.before_publish =
        VerifyBeforePublishing(options, spec, out, hooks.interrupted, hooks.report);
  }
  return absl::OkStatus();
}

absl::StatusOr<ExportSummary> ExportStandalone(const ExportCommandOptions& options,
                                               const ModelSpec& spec, std::optional<int64_t> step,
                                               ExportHooks& hooks) {
  ExportOptions standalone;
  RECSHIP_RETURN_IF_ERROR(SetExportHooks(options, spec, hooks, standalone));
  StandaloneExporter exporter(MakeModelFn(spec), options.model_dir, options.export_dir_base,
                              std::move(standalone));
  auto path = exporter.ExportSavedModel(MakeServingInputReceiverFn(spec), options.checkpoint, step);
  if (!path.ok()) return path.status();
  return exporter.last_summary();
}

absl::StatusOr<ExportSummary> ExportDistributed(const ExportCommandOptions& options,
                                                const ModelSpec& spec, std::optional<int64_t> step,
                                                ExportHooks& hooks) {
  DistributedExportOptions distributed = options.distributed;
  distributed.model_name = DistributedModelName(options, spec);
  RECSHIP_RETURN_IF_ERROR(SetExportHooks(options, spec, hooks, distributed));
  for (const std::string& name : options.include_graphs) {
    std::optional<SubModel> sub = SubModel::Parse(name);
    if (!sub || sub->is_standalone()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--include-graphs: '", name, "' is no sub-model name (entry, ps_<i>, dense_<i>)"));
    }
    distributed.include_graphs.push_back(*sub);
  }
  DistributedExporter exporter(MakeModelFn(spec), options.model_dir, options.export_dir_base,
                               distributed);
  auto paths =
      exporter.ExportSavedModel(MakeServingInputReceiverFn(spec), options.checkpoint, step);
  if (!paths.ok()) return paths.status();
  return exporter.last_summary();
}

// One line per sub-model (name, path, variables' bytes, seconds to write
// it), then a summary line.
void PrintExport(const ExportSummary& result) {
  int name_width = 0;
  int path_width = 0;
  uint64_t bytes = 0;
  uint64_t copied = 0;
  for (const auto& sub : result.sub_models) {
    name_width = std::max(name_width, static_cast<int>(sub.sub_model.name().size()));
    path_width = std::max(path_width, static_cast<int>(sub.path.size()));
    bytes += sub.variables.tensor_bytes;
    copied += sub.variables.copied_bytes;
  }
  for (const auto& sub : result.sub_models) {
    std::cout << absl::StrFormat("%-*s  %-*s  %10s  %.2f s\n", name_width, sub.sub_model.name(),
                                 path_width, sub.path, FormatBytes(sub.variables.tensor_bytes),
                                 sub.seconds);
  }
  for (const auto& [table, rows] : result.filtered_tables) {
    std::cout << absl::StrFormat("table %s: %d rows kept, %d left out by the filters\n", table,
                                 rows.kept, rows.dropped);
  }
  if (result.embedding_dtype != EmbeddingDtype::kFloat32) {
    std::cout << "embeddings stored as " << EmbeddingDtypeName(result.embedding_dtype)
              << " (decoded after each lookup)\n";
  }
  if (!result.resharded_tables.empty()) {
    std::cout << "re-sharded (rows written anew, not shared with the checkpoint): "
              << absl::StrJoin(result.resharded_tables, ", ") << "\n";
  }
  size_t n = result.sub_models.size();
  std::cout << absl::StrFormat(
      "exported %s as version %d: %d sub-model%s, %s of variables (%s copied) in %.2f s\n",
      result.checkpoint, result.version, n, n == 1 ? "" : "s", FormatBytes(bytes),
      FormatBytes(copied), result.seconds);
}

json SharedBy(const VariablesStats& variables) {
  if (!variables.shared_by) return nullptr;
  return CloneMethodName(*variables.shared_by);
}

void PrintExportJson(const ExportCommandOptions& options, const ModelSpec& spec,
                     const ExportSummary& result, const std::optional<VerifyReport>& report) {
  std::vector<std::string> paths;
  for (const auto& sub : result.sub_models) paths.push_back(sub.path);
  json out{{"mode", options.mode},
           {"paths", paths},
           {"checkpoint", result.checkpoint},
           {"version", result.version},
           {"embedding_dtype", EmbeddingDtypeName(result.embedding_dtype)}};
  if (report) out["verify"] = VerifyReportJson(*report);
  if (!result.filtered_tables.empty()) {
    json tables = json::object();
    for (const auto& [table, rows] : result.filtered_tables) {
      tables[table] = {{"kept", rows.kept}, {"dropped", rows.dropped}};
    }
    out["filtered_tables"] = tables;
  }
  if (options.mode != "distributed") {
    const VariablesStats& variables = result.sub_models.at(0).variables;
    out["tensor_bytes"] = variables.tensor_bytes;
    out["copied_bytes"] = variables.copied_bytes;
    out["seconds"] = result.seconds;
    out["shared_by"] = SharedBy(variables);
    std::cout << out.dump(2) << "\n";
    return;
  }
  out["model_name"] = DistributedModelName(options, spec);
  out["resharded_tables"] = result.resharded_tables;
  out["seconds"] = result.seconds;
  out["sub_models"] = json::array();
  for (const auto& sub : result.sub_models) {
    out["sub_models"].push_back(json{{"name", sub.sub_model.name()},
                                     {"path", sub.path},
                                     {"tensor_bytes", sub.variables.tensor_bytes},
                                     {"copied_bytes", sub.variables.copied_bytes},
                                     {"shared_by", SharedBy(sub.variables)},
                                     {"seconds", sub.seconds}});
  }
  std::cout << out.dump(2) << "\n";
}

// Unix seconds ("1765000000") or an RFC 3339 time ("2026-12-01T09:00:00Z").
absl::StatusOr<int64_t> ParseUnixTime(const std::string& text) {
  int64_t seconds;
  if (absl::SimpleAtoi(text, &seconds)) return seconds;
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return absl::ToUnixSeconds(time);
  return absl::InvalidArgumentError(absl::StrCat(
      "--since-time '", text, "' is neither Unix seconds nor an RFC 3339 time (", error, ")"));
}

// --mode delta: one line per sub-model's delta (or --json).
// The flags that choose what a version holds; a delta holds rows as its
// version does, so they do not apply to it.
void RefuseVersionFlagsForDeltas(const ExportCommandOptions& options) {
  const std::pair<bool, const char*> flags[] = {
      {options.embedding_dtype != "float32", "--embedding-dtype"},
      {options.min_frequency.has_value(), "--min-frequency"},
      {!options.max_age.empty(), "--max-age"},
      {options.verify, "--verify"},
      {options.distributed.num_ps > 0, "--num-ps"}};
  for (const auto& [given, flag] : flags) {
    if (given) {
      Fail("export", absl::StrCat(flag, " does not apply to --mode delta: a delta carries rows "
                                        "as the version it applies to stores them"));
    }
  }
}

void RunDeltaExport(const ExportCommandOptions& options) {
  RefuseVersionFlagsForDeltas(options);
  DeltaExportOptions delta_options{.base_version = options.since};
  if (!options.since_time.empty()) {
    absl::StatusOr<int64_t> since_time = ParseUnixTime(options.since_time);
    if (!since_time.ok()) Fail("export", since_time.status());
    delta_options.since_time = *since_time;
  }
  absl::StatusOr<DeltaSummary> summary =
      ExportDelta(options.model_dir, options.checkpoint, options.export_dir_base, delta_options);
  if (!summary.ok()) Fail("export", summary.status());
  json deltas = json::array();
  for (const DeltaSummary::Written& d : summary->deltas) {
    json tables = json::object();
    int64_t rows = 0, deleted = 0;
    for (const auto& [name, t] : d.manifest.tables) {
      tables[name] = {{"rows", t.rows}, {"deleted", t.deleted}};
      if (t.rows_updated_from) {
        tables[name]["rows_updated"] = {*t.rows_updated_from, *t.rows_updated_to};
      }
      rows += t.rows;
      deleted += t.deleted;
    }
    deltas.push_back({{"path", d.path}, {"sequence", d.manifest.sequence}, {"tables", tables}});
    if (!options.json) {
      std::cout << absl::StrFormat("delta  %s  %d rows, %d deleted\n", d.path, rows, deleted);
    }
  }
  if (options.json) {
    std::cout << json{{"mode", "delta"},
                      {"checkpoint", summary->checkpoint},
                      {"base_version", summary->base_version},
                      {"deltas", deltas},
                      {"seconds", summary->seconds}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << absl::StrFormat("exported %s as %d delta(s) of version %d in %.2f s\n",
                               summary->checkpoint, summary->deltas.size(), summary->base_version,
                               summary->seconds);
}

void RunExport(const ExportCommandOptions& options) {
  if (options.mode == "delta") return RunDeltaExport(options);
  if (options.model.empty()) Fail("export", "--model is required (the model spec)");
  // SIGINT/SIGTERM from here on cancel the export through its progress
  // callback: nothing is published (exporters' contract).
  InterruptFlag interrupt;
  auto spec = LoadModelSpec(options.model);
  if (!spec.ok()) Fail("export", spec.status());
  std::optional<int64_t> step;
  if (options.global_step >= 0) step = options.global_step;
  ExportProgressBar bar(!options.json && ::isatty(STDERR_FILENO));
  ExportHooks hooks;
  hooks.interrupted = [&interrupt] { return interrupt.signal() != 0; };
  hooks.progress = [&](const ExportProgress& p) {
    if (interrupt.signal() != 0) return absl::CancelledError("interrupted");
    bar.Update(p);
    return absl::OkStatus();
  };
  auto result = options.mode == "distributed" ? ExportDistributed(options, *spec, step, hooks)
                                              : ExportStandalone(options, *spec, step, hooks);
  bar.Clear();
  if (!result.ok() && interrupt.signal() != 0 && absl::IsCancelled(result.status())) {
    std::cerr << "recship export: interrupted; nothing was published\n";
    throw CLI::RuntimeError(128 + interrupt.signal());
  }
  if (!result.ok()) Fail("export", result.status());
  if (interrupt.signal() != 0) {
    std::cerr << "recship export: interrupted while publishing; the export completed\n";
  }
  if (options.json) return PrintExportJson(options, *spec, *result, hooks.report);
  PrintExport(*result);
  if (hooks.report) std::cout << hooks.report->ToString() << "\n";
}

struct WarmupCommandOptions {
  std::string saved_model;
  std::string out;
  WarmupOptions warmup;
};

void RunWarmup(const WarmupCommandOptions& options) {
  absl::Status status = WriteWarmupFile(options.saved_model, options.out, options.warmup);
  if (!status.ok()) Fail("warmup", status);
  std::cout << options.out << "\n";
}

}  // namespace

void AddWarmupCommand(CLI::App& app) {
  auto options = std::make_shared<WarmupCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("warmup",
                         "Write a TensorFlow Serving warmup file (PredictionLog records) for a "
                         "SavedModel's signature, with generated or given inputs.");
  cmd->add_option("--saved-model", options->saved_model, "SavedModel version folder")->required();
  cmd->add_option("--out", options->out, "warmup file to write")->required();
  cmd->add_option("--count", options->warmup.count, "records to generate (at most 1000)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--batch", options->warmup.batch, "rows per generated request")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--signature", options->warmup.signature, "signature to call");
  cmd->add_option("--seed", options->warmup.seed, "random seed for generated inputs");
  cmd->add_option("--inputs", options->warmup.inputs_json,
                  "JSON list of requests (input name -> nested list) to use instead of "
                  "generated ones");
  cmd->callback([options] { RunWarmup(*options); });
}

void AddSynthCommand(CLI::App& app) {
  auto options = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Write a synthetic training folder for a model spec: checkpoint steps with dense "
      "variables and table shards (keys, values, Adagrad slots, freqs, timestamps).");
  cmd->add_option("--model", options->model, "model spec (JSON)")->required();
  cmd->add_option("--out", options->out, "training folder to write")->required();
  cmd->add_option("--ids", options->synthetic.ids_per_table, "ids per table")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--num-ps", options->synthetic.num_ps,
                  "parameter-server shards per table (default: each table's num_shards; a "
                  "distributed export re-shards any other count)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", options->synthetic.steps, "checkpoint steps to write")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->synthetic.seed, "random seed");
  cmd->add_option("--first-step", options->synthetic.first_step,
                  "write only steps first-step..steps (the earlier ones are there), e.g. to add "
                  "a checkpoint to a training folder")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--changed-fraction", options->synthetic.changed_fraction,
                  "steps after the first change only this fraction of each table's rows, as "
                  "training between checkpoints does (dense variables stay); 0 draws all anew")
      ->check(CLI::Range(0.0, 0.999999));
  cmd->callback([options] { RunSynth(*options); });
}

namespace {

// The flags of --mode distributed.
void AddDistributedExportFlags(CLI::App& cmd_ref, ExportCommandOptions& opts) {
  CLI::App* cmd = &cmd_ref;
  ExportCommandOptions* options = &opts;
  cmd->add_option("--model_name", options->model_name,
                  "distributed: the name the entry calls its shards by (<name>:ps_<i>); use the "
                  "--model_name the shards are served under (default: the spec's name)");
  cmd->add_flag("--dense-only", options->distributed.dense_only,
                "distributed: write only entry (and dense_0): a cheap refresh of the dense "
                "network while the shards keep serving their tables");
  cmd->add_flag("--allow-gpu", options->distributed.allow_gpu,
                "distributed: keep the GPU placements of the spec; without it they are "
                "pinned to /device:CPU:0 so any machine can serve");
  cmd->add_flag("--with-remote-gpu", options->distributed.with_remote_gpu,
                "distributed: move the dense network into its own sub-model dense_0 (variables "
                "frozen, nodes on /device:GPU:0) that entry calls, to serve it on a GPU machine");
  cmd->add_flag("--clear-entry-devices", options->distributed.clear_entry_devices,
                "distributed: clear every device field of entry, leaving placement to the "
                "server (for entry servers whose devices differ from training's)");
  cmd->add_option("--include-graphs", options->include_graphs,
                  "distributed: write only these sub-models (entry, ps_0, dense_0, ...), so "
                  "separate processes or machines export the shards in parallel; pair with "
                  "--global-step-as-timestamp")
      ->delimiter(',');
  cmd->add_option("--num-ps", options->distributed.num_ps,
                  "distributed: serve every table on this many ps_<i> (default: each table's "
                  "num_shards in the spec); rows go to ps_<floor_mod(id, N)> whatever shard of "
                  "the checkpoint holds them, so a checkpoint trained on any number of "
                  "parameter servers exports; tables not already sharded so are re-sharded "
                  "(written anew, said in the output)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--pin-versions", options->distributed.pin_versions,
                "distributed: the entry calls its shards at this export's version (default: "
                "whatever version they serve)");
  cmd->add_flag("--global-step-as-timestamp", options->distributed.global_step_as_timestamp,
                "distributed: the version is the checkpoint's global_step, not the time, so "
                "parallel exports (--include-graphs) agree on it");
}

// The flags that change what the exported tables hold, and --verify.
void AddTableFlags(CLI::App& cmd, ExportCommandOptions& options) {
  cmd.add_option("--min-frequency", options.min_frequency,
                 "leave out the rows of ids whose -freqs (times seen in training) is below "
                 "this; they serve as unseen ids (zeros). Every table exported needs -freqs")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--max-age", options.max_age,
                 "leave out the rows not updated (-timestamps) within this duration (90d, "
                 "12h, 30m, 3600s) of the newest timestamp in the checkpoint's tables; they "
                 "serve as unseen ids. Every table exported needs -timestamps");
  cmd.add_option("--embedding-dtype", options.embedding_dtype,
                 "store table rows as float32 (as trained), float16, bfloat16 or int8 (per row, "
                 "with a float scale): 1/2 or about 1/4 of the bytes on disk and in a server's "
                 "memory; the serving graphs decode each row they look up with stock ops, so "
                 "TensorFlow Serving serves them too")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16", "int8"}));
  cmd.add_flag("--verify", options.verify,
               "before publishing, run the export (the entry with its shards, in this process) "
               "and the model's own graph over the checkpoint on the same requests, print the "
               "largest relative error of each output, and publish nothing past --tolerance "
               "(see `recship verify`)");
  cmd.add_option("--tolerance", options.tolerance,
                 "--verify: largest relative error allowed (default by --embedding-dtype: "
                 "float32 1e-5, float16 2e-3, bfloat16 1e-2, int8 3e-2)")
      ->check(CLI::PositiveNumber);
}

}  // namespace

void AddExportCommand(CLI::App& app) {
  auto options = std::make_shared<ExportCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Export a training checkpoint as SavedModel versions for serving: one SavedModel "
      "(standalone), or an entry model plus one model per parameter-server shard "
      "(distributed). Every version is built under temp-<version> and renamed into place, so "
      "servers only ever see whole versions.");
  cmd->add_option("--model", options->model,
                  "model spec (JSON, like examples/ctr.json) the checkpoint was trained from; "
                  "it gives the serving graph (required but with --mode delta)");
  cmd->add_option("--model-dir", options->model_dir,
                  "training folder; its newest checkpoint (by its `checkpoint` file) is exported "
                  "unless --checkpoint names one")
      ->required();
  cmd->add_option("--export-dir-base", options->export_dir_base,
                  "where versions go: <base>/<version>/ (standalone) or <base>/<sub-model>/"
                  "<version>/ (distributed); point the server's --model_base_path here")
      ->required();
  cmd->add_option("--mode", options->mode,
                  "standalone: one SavedModel for one server; distributed: entry/ plus ps_<i>/ "
                  "per shard, for tables too big for one machine; delta: only the table rows "
                  "that changed since version --since, for servers to apply while they serve")
      ->check(CLI::IsMember({"standalone", "distributed", "delta"}));
  cmd->add_option("--since", options->since,
                  "delta: the served version the delta applies to (default: the newest); it "
                  "holds the rows that differ from that version plus the deltas already "
                  "written for it");
  cmd->add_option("--since-time", options->since_time,
                  "delta: take rows updated before this time (Unix seconds or RFC 3339, by the "
                  "checkpoint's -timestamps) as served and read only the others; by default "
                  "the newest timestamp the base and its deltas recorded");
  cmd->add_flag("--shared-embedding", options->shared_embedding,
                "copy no embedding byte: hard-link the checkpoint's data files into variables/ "
                "(reflink or copy across filesystems); fast and small on disk, and the export "
                "stays valid after the checkpoint is deleted");
  AddTableFlags(*cmd, *options);
  cmd->add_option("--warmup-file", options->warmup_file,
                  "TensorFlow Serving warmup file (see `recship warmup`), checked and shipped "
                  "as assets.extra/tf_serving_warmup_requests (with the entry when distributed), "
                  "so servers replay it before taking traffic");
  cmd->add_option("--checkpoint", options->checkpoint,
                  "checkpoint prefix to export (model.ckpt-100) instead of the newest one, e.g. "
                  "to re-export an older step");
  cmd->add_option("--global-step", options->global_step,
                  "version number to write instead of the current Unix time; a version that "
                  "exists is never overwritten");
  cmd->add_flag("--json", options->json,
                "print one JSON document (paths, version, bytes, seconds) instead of lines; no "
                "progress bar");
  AddDistributedExportFlags(*cmd, *options);
  cmd->footer(
      "Progress: a bar on stderr when it is a terminal (never with --json). Ctrl-C (or SIGTERM) "
      "stops the export and publishes nothing: it exits 130 (143) and leaves no version and no "
      "temp-<version> folder. A second Ctrl-C kills at once and may leave a temp-<version> "
      "folder; servers ignore it and the next export of that version clears it.\n\n"
      "Examples:\n"
      "  recship export --model examples/ctr.json --model-dir train/ --export-dir-base out/\n"
      "  recship export --model examples/ctr.json --model-dir train/ --export-dir-base out/ \\\n"
      "      --mode distributed --shared-embedding --global-step-as-timestamp\n"
      "  recship export --mode delta --since 1700000000 --model-dir train/ --export-dir-base out/");
  cmd->callback([options] { RunExport(*options); });
}

}  // namespace recship
