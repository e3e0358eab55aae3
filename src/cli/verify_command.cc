// `recship verify EXPORT --model SPEC --model-dir DIR`: runs an export and
// the model_fn's own graph over the training checkpoint on the same requests
// and compares every output (serving/export_verifier.h).
#include "verify_command.h"

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "commands.h"
#include "recship/core/status_macros.h"
#include "recship/format/checkpoint_state.h"
#include "recship/format/saved_model.h"
#include "recship/model/model_zoo.h"
#include "recship/serving/model_config.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

// <base>/<version>, the newest when `version` is unset.
absl::StatusOr<std::string> VersionFolder(const std::string& base, std::optional<int64_t> version) {
  if (!version) {
    RECSHIP_ASSIGN_OR_RETURN(std::vector<int64_t> versions, ListVersions(base));
    if (versions.empty()) return absl::NotFoundError(absl::StrCat(base, " holds no version"));
    version = versions.back();
  }
  std::string folder = (fs::path(base) / std::to_string(*version)).string();
  if (!IsSavedModelDirectory(folder)) {
    return absl::NotFoundError(absl::StrCat(folder, " is not a SavedModel version folder"));
  }
  return folder;
}

// The sub-model folders under an export base (entry/, ps_<i>/, dense_<i>/).
std::vector<SubModel> SubModelsUnder(const std::string& base) {
  std::vector<SubModel> subs;
  std::error_code ec;
  for (const auto& child : fs::directory_iterator(base, ec)) {
    std::optional<SubModel> sub = SubModel::Parse(child.path().filename().string());
    if (sub && !sub->is_standalone() && child.is_directory(ec)) subs.push_back(*sub);
  }
  return subs;
}

struct VerifyCommandOptions {
  std::string path;
  std::string model;
  std::string model_dir;
  std::string checkpoint;
  int64_t version = -1;
  std::optional<int64_t> min_frequency;
  std::string max_age;
  std::optional<double> tolerance;
  bool json = false;
};

// The folders of the export at `path`: a version folder, a standalone export
// base, or a distributed one (entry/ and ps_<i>/).
absl::StatusOr<std::map<SubModel, std::string>> ExportFolders(const VerifyCommandOptions& o,
                                                              std::string& base) {
  std::optional<int64_t> version;
  if (o.version >= 0) version = o.version;
  std::map<SubModel, std::string> folders;
  if (IsSavedModelDirectory(o.path)) {
    base = fs::path(o.path).parent_path().string();
    folders[SubModel::Standalone()] = o.path;
    return folders;
  }
  base = o.path;
  if (!fs::exists(fs::path(o.path) / "entry")) {
    RECSHIP_ASSIGN_OR_RETURN(folders[SubModel::Standalone()], VersionFolder(o.path, version));
    return folders;
  }
  RECSHIP_ASSIGN_OR_RETURN(std::string entry,
                           VersionFolder((fs::path(o.path) / "entry").string(), version));
  folders[SubModel::Entry()] = entry;  // Its version names the others'.
  return folders;
}

void RunVerify(const VerifyCommandOptions& options) {
  auto spec = LoadModelSpec(options.model);
  if (!spec.ok()) Fail("verify", spec.status());
  VerifyTarget target{.spec = &*spec, .model_dir = options.model_dir};
  target.min_frequency = options.min_frequency;
  target.tolerance = options.tolerance;
  if (!options.max_age.empty()) {
    auto age = ParseAge(options.max_age, "--max-age");
    if (!age.ok()) Fail("verify", age.status());
    target.max_age = *age;
  }
  target.checkpoint = options.checkpoint;
  if (target.checkpoint.empty()) {
    auto latest = LatestCheckpoint(options.model_dir);
    if (!latest.ok()) Fail("verify", latest.status());
    target.checkpoint = *latest;
  }
  auto folders = ExportFolders(options, target.export_dir_base);
  if (!folders.ok()) Fail("verify", folders.status());
  if (folders->contains(SubModel::Entry())) {
    // Every sub-model at the entry's version.
    const std::string version = fs::path(folders->at(SubModel::Entry())).filename().string();
    for (const SubModel& sub : SubModelsUnder(target.export_dir_base)) {
      std::string folder = (fs::path(target.export_dir_base) / sub.name() / version).string();
      if (IsSavedModelDirectory(folder)) (*folders)[sub] = folder;
    }
  }
  auto report = VerifyFolders(*folders, target);
  if (!report.ok()) Fail("verify", report.status());
  if (options.json) {
    std::cout << VerifyReportJson(*report).dump(2) << "\n";
  } else {
    std::cout << report->ToString() << "\n";
  }
  if (!report->passed()) throw CLI::RuntimeError(1);
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyFolders(std::map<SubModel, std::string> folders,
                                           const VerifyTarget& target) {
  if (!folders.contains(SubModel::Standalone())) {
    for (const SubModel& sub : SubModelsUnder(target.export_dir_base)) {
      if (folders.contains(sub)) continue;
      auto folder = VersionFolder((fs::path(target.export_dir_base) / sub.name()).string(), {});
      if (!folder.ok()) {
        return absl::NotFoundError(
            absl::StrCat("verify needs ", sub.name(),
                         ", which this export does not write: ", folder.status().message()));
      }
      folders[sub] = *folder;
    }
  }
  VerifyOptions options{.model_fn = MakeModelFn(*target.spec),
                        .serving_input_receiver_fn = MakeServingInputReceiverFn(*target.spec),
                        .model_dir = target.model_dir,
                        .checkpoint = target.checkpoint};
  options.min_frequency = target.min_frequency;
  options.max_age = target.max_age;
  options.tolerance = target.tolerance;
  options.progress = target.progress;
  return VerifyExport(folders, options);
}

nlohmann::ordered_json VerifyReportJson(const VerifyReport& report) {
  nlohmann::ordered_json outputs = nlohmann::ordered_json::object();
  for (const OutputError& o : report.outputs) {
    outputs[o.name] = {{"max_relative_error", o.max_relative_error},
                       {"max_absolute_error", o.max_absolute_error},
                       {"values", o.values},
                       {"probability", o.probability}};
  }
  return {{"passed", report.passed()},
          {"embedding_dtype", EmbeddingDtypeName(report.embedding_dtype)},
          {"tolerance", report.tolerance},
          {"requests", report.requests},
          {"generated_requests", report.generated},
          {"outputs", outputs}};
}

void AddVerifyCommand(CLI::App& app) {
  auto options = std::make_shared<VerifyCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check that an export serves the model it was exported from: run it (the entry with its "
      "shards, in this process) and the model's own graph over the training checkpoint on the "
      "same requests (the export's warmup requests, else generated ones touching ids of every "
      "shard of every table), and compare every output. Exits 1 past the tolerance.");
  cmd->add_option("EXPORT", options->path,
                  "a version folder, or an export base (standalone, or distributed with entry/ "
                  "and ps_<i>/)")
      ->required();
  cmd->add_option("--model", options->model, "the model spec exported (JSON)")->required();
  cmd->add_option("--model-dir", options->model_dir, "the training folder")->required();
  cmd->add_option("--checkpoint", options->checkpoint,
                  "checkpoint prefix exported (default: the newest in --model-dir)");
  cmd->add_option("--version", options->version, "version to check (default: the newest)");
  cmd->add_option("--min-frequency", options->min_frequency,
                  "the export's --min-frequency: those ids are unseen in the reference too");
  cmd->add_option("--max-age", options->max_age,
                  "the export's --max-age (like 90d, 12h or 3600s): those ids are unseen in the "
                  "reference too");
  cmd->add_option(
         "--tolerance", options->tolerance,
         "largest relative error allowed: |got - want| / max(|want|, 0.001) for a "
         "probability, a tenth of the output's rms in place of 0.001 otherwise (default by "
         "embedding dtype: float32 1e-5, float16 2e-3, bfloat16 1e-2, int8 3e-2)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", options->json, "print the report as JSON");
  cmd->callback([options] { RunVerify(*options); });
}

}  // namespace recship
