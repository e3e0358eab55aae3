// `recship synth` (a synthetic training folder for a model spec) and
// `recship export` (export a training checkpoint for serving).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "commands.h"
#include "nlohmann/json.hpp"
#include "recship/export/standalone_exporter.h"
#include "recship/export/warmup_writer.h"
#include "recship/model/spec.h"
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
};

void RunSynth(const SynthOptions& options) {
  auto spec = model::LoadModelSpec(options.model);
  if (!spec.ok()) Fail("synth", spec.status());
  auto prefix = model::WriteSyntheticCheckpoints(*spec, options.out, options.synthetic);
  if (!prefix.ok()) Fail("synth", prefix.status());
  std::cout << *prefix << "\n";
}

void RunExport(const ExportOptions& options) {
  if (options.mode != "standalone") {
    Fail("export", absl::UnimplementedError(absl::StrCat(
                       "--mode ", options.mode, " is not available yet (standalone only)")));
  }
  auto spec = model::LoadModelSpec(options.model);
  if (!spec.ok()) Fail("export", spec.status());
  exporter::StandaloneExporter exporter(model::MakeModelFn(*spec), options.model_dir,
                                        options.export_dir_base, options.shared_embedding,
                                        options.warmup_file);
  std::optional<int64_t> step;
  if (options.global_step >= 0) step = options.global_step;
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
  cmd->add_option("--num-ps", options->synthetic.num_ps, "parameter-server shards per table")
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
  cmd->add_option("--mode", options->mode, "standalone (distributed comes later)")
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
  cmd->callback([options] { RunExport(*options); });
}

}  // namespace recship::cli
