// `recship synth` (a synthetic training folder for a model spec) and
// `recship export` (export a training checkpoint for serving).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "commands.h"
#include "nlohmann/json.hpp"
#include "recship/export/distributed_exporter.h"
#include "recship/export/standalone_exporter.h"
#include "recship/export/warmup_writer.h"
#include "recship/model/model_zoo.h"
#include "recship/model/synthetic.h"

namespace recship::cli {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void Fail(absl::string_view command, const absl::Status& status) {
  std::cerr << "recship " << command << ": " << status.message() << "\n";
  throw CLI::RuntimeError(1);
}

struct SynthOptions {
  std::string model;
  std::string out;
  model::SyntheticOptions synthetic;
};

struct ExportOptions {
  std::string model;
  std::string model_dir;
  std::string export_dir_base;
  std::string mode = "standalone";
  bool shared_embedding = false;
  std::string warmup_file;
  std::string checkpoint;
  int64_t global_step = -1;
  bool json = false;
  // Distributed only.
  std::string model_name;
  exporter::DistributedExportOptions distributed;
};

void RunSynth(const SynthOptions& options) {
  auto spec = model::LoadModelSpec(options.model);
  if (!spec.ok()) Fail("synth", spec.status());
  auto prefix = model::WriteSyntheticCheckpoints(*spec, options.out, options.synthetic);
  if (!prefix.ok()) Fail("synth", prefix.status());
  std::cout << *prefix << "\n";
}

void RunDistributedExport(const ExportOptions& options, const model::ModelSpec& spec,
                          std::optional<int64_t> step) {
  exporter::DistributedExportOptions distributed = options.distributed;
  distributed.model_name = options.model_name.empty() ? spec.name : options.model_name;
  distributed.shared_embedding = options.shared_embedding;
  distributed.warmup_file = options.warmup_file;
  exporter::DistributedExporter exporter(model::MakeModelFn(spec), options.model_dir,
                                         options.export_dir_base, distributed);
  auto paths =
      exporter.ExportSavedModel(model::MakeServingInputReceiverFn(spec), options.checkpoint, step);
  if (!paths.ok()) Fail("export", paths.status());
  const exporter::DistributedExportSummary& summary = exporter.last_summary();
  if (!options.json) {
    for (const auto& sub : summary.sub_models) std::cout << sub.name << " " << sub.path << "\n";
    return;
  }
  json out{{"mode", options.mode},
           {"paths", *paths},
           {"checkpoint", summary.checkpoint},
           {"version", summary.version},
           {"model_name", distributed.model_name},
           {"seconds", summary.seconds}};
  out["sub_models"] = json::array();
  for (const auto& sub : summary.sub_models) {
    json entry{{"name", sub.name},
               {"path", sub.path},
               {"tensor_bytes", sub.variables.tensor_bytes},
               {"copied_bytes", sub.variables.copied_bytes}};
    entry["shared_by"] = nullptr;
    if (sub.variables.shared_by) entry["shared_by"] = CloneMethodName(*sub.variables.shared_by);
    out["sub_models"].push_back(entry);
  }
  std::cout << out.dump(2) << "\n";
}

void RunExport(const ExportOptions& options) {
  auto spec = model::LoadModelSpec(options.model);
  if (!spec.ok()) Fail("export", spec.status());
  std::optional<int64_t> step;
  if (options.global_step >= 0) step = options.global_step;
  if (options.mode == "distributed") return RunDistributedExport(options, *spec, step);
  exporter::StandaloneExporter exporter(model::MakeModelFn(*spec), options.model_dir,
                                        options.export_dir_base, options.shared_embedding,
                                        options.warmup_file);
  auto path =
      exporter.ExportSavedModel(model::MakeServingInputReceiverFn(*spec), options.checkpoint, step);
  if (!path.ok()) Fail("export", path.status());
  const exporter::ExportSummary& summary = exporter.last_summary();
  if (!options.json) {
    std::cout << *path << "\n";
    return;
  }
  json out{{"mode", options.mode},
           {"paths", {*path}},
           {"checkpoint", summary.checkpoint},
           {"version", summary.version},
           {"tensor_bytes", summary.variables.tensor_bytes},
           {"copied_bytes", summary.variables.copied_bytes},
           {"seconds", summary.seconds}};
  out["shared_by"] = nullptr;
  if (summary.variables.shared_by) out["shared_by"] = CloneMethodName(*summary.variables.shared_by);
  std::cout << out.dump(2) << "\n";
}

struct WarmupCommandOptions {
  std::string saved_model;
  std::string out;
  exporter::WarmupOptions warmup;
};

void RunWarmup(const WarmupCommandOptions& options) {
  absl::Status status = exporter::WriteWarmupFile(options.saved_model, options.out, options.warmup);
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
                  "distributed export needs those)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", options->synthetic.steps, "checkpoint steps to write")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->synthetic.seed, "random seed");
  cmd->callback([options] { RunSynth(*options); });
}

void AddExportCommand(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Export a training checkpoint as a SavedModel version for serving.");
  cmd->add_option("--model", options->model, "model spec (JSON)")->required();
  cmd->add_option("--model-dir", options->model_dir, "training folder (its newest checkpoint)")
      ->required();
  cmd->add_option("--export-dir-base", options->export_dir_base,
                  "where version folders are written")
      ->required();
  cmd->add_option("--mode", options->mode,
                  "standalone: one SavedModel; distributed: entry/ plus ps_<i>/ per shard")
      ->check(CLI::IsMember({"standalone", "distributed"}));
  cmd->add_flag("--shared-embedding", options->shared_embedding,
                "share the checkpoint's data files (hard links) instead of copying them");
  cmd->add_option("--warmup-file", options->warmup_file,
                  "TensorFlow Serving warmup file to ship in assets.extra/");
  cmd->add_option("--checkpoint", options->checkpoint,
                  "checkpoint prefix to export instead of the newest");
  cmd->add_option("--global-step", options->global_step,
                  "use this number as the version instead of the current time");
  cmd->add_flag("--json", options->json, "print a JSON summary: paths, bytes, seconds");
  cmd->add_option("--model-name", options->model_name,
                  "distributed: the name the entry calls its shards by (<name>:ps_<i>); "
                  "default: the spec's name");
  cmd->add_flag("--dense-only", options->distributed.dense_only,
                "distributed: write only entry (refresh the dense network; shards stay)");
  cmd->add_flag("--allow-gpu", options->distributed.allow_gpu,
                "distributed: keep GPU device placements (otherwise pinned to CPU)");
  cmd->add_flag("--clear-entry-devices", options->distributed.clear_entry_devices,
                "distributed: clear every device field of entry");
  cmd->add_flag(
      "--with-remote-gpu", options->distributed.with_remote_gpu,
      "distributed: move the dense network into dense_0 (frozen, on GPU), called by entry");
  cmd->add_option("--include-graphs", options->distributed.include_graphs,
                  "distributed: write only these sub-models (entry, ps_0, ...), so separate "
                  "processes can export shards in parallel")
      ->delimiter(',');
  cmd->add_flag("--pin-versions", options->distributed.pin_versions,
                "distributed: the entry calls its shards at this export's version (default: "
                "whatever version they serve)");
  cmd->add_flag("--global-step-as-timestamp", options->distributed.global_step_as_timestamp,
                "distributed: name the version after the checkpoint's global step, so parallel "
                "exporters agree on it");
  cmd->callback([options] { RunExport(*options); });
}

}  // namespace recship::cli
