#include "recship/export/distributed_exporter.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/core/staged_directory.h"
#include "recship/core/status_macros.h"
#include "recship/export/serving_graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"
#include "src/export/export_steps.h"
#include "src/export/remote_dense.h"

namespace recship::exporter {
namespace {

// The sub-models an export writes, in publishing order (shards, then entry).
absl::StatusOr<std::vector<std::string>> SelectSubModels(const DistributedExportOptions& options,
                                                         int num_ps) {
  std::vector<std::string> all;
  for (int i = 0; i < num_ps; ++i) all.push_back(model::PsGraphName(i));
  if (options.with_remote_gpu) all.push_back(kDenseGraph);
  all.push_back(kEntryGraph);
  if (options.dense_only) {
    if (options.with_remote_gpu) return std::vector<std::string>{kDenseGraph, kEntryGraph};
    return std::vector<std::string>{kEntryGraph};
  }
  if (options.include_graphs.empty()) return all;
  std::set<std::string> wanted(options.include_graphs.begin(), options.include_graphs.end());
  for (const std::string& name : wanted) {
    if (std::find(all.begin(), all.end(), name) == all.end()) {
      return absl::InvalidArgumentError(absl::StrCat("include_graphs names '", name,
                                                     "', which this model does not have (it has ",
                                                     absl::StrJoin(all, ", "), ")"));
    }
  }
  std::vector<std::string> selected;
  for (const std::string& name : all) {
    if (wanted.contains(name)) selected.push_back(name);
  }
  return selected;
}

// Clears the temp-* folders of dead exports in every sub-model folder of
// the base, including those of sub-models this export does not write.
absl::Status RemoveDeadStagingFoldersUnder(const std::string& export_dir_base) {
  std::error_code ec;
  for (const auto& child : std::filesystem::directory_iterator(export_dir_base, ec)) {
    if (child.is_directory(ec)) {
      RETURN_IF_ERROR(StagedDirectory::RemoveDeadStagingFolders(child.path().string()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ChooseVersion(const DistributedExportOptions& options,
                                      std::optional<int64_t> global_step,
                                      const model::CheckpointReader& checkpoint) {
  if (global_step) return *global_step;
  if (!options.global_step_as_timestamp) return static_cast<int64_t>(std::time(nullptr));
  if (!checkpoint.global_step()) {
    return absl::FailedPreconditionError(
        absl::StrCat("global_step_as_timestamp: checkpoint ", checkpoint.prefix(),
                     " has no global_step tensor and no global step was given"));
  }
  return *checkpoint.global_step();
}

// Keeps shard `shard` of every table in a ps sub-model's restore plan. The
// checkpoint must hold exactly the shards the model routes ids to: a shard
// beyond them would hold ids that no request could reach.
absl::Status KeepOneShard(RestorePlan& plan, int shard, const std::string& checkpoint,
                          const model::DistributedLookups& lookups) {
  for (RestorePlan::Table& table : plan.tables) {
    const model::HashTableSpec* spec = lookups.FindTable(table.name);
    int last = *std::max_element(table.shards.begin(), table.shards.end());
    if (spec != nullptr && last >= spec->num_shards) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint ", checkpoint, " has shard ", last, " of table ", table.name, " (",
          model::TableShardTensorName(table.name, last, "keys"), ") but the model routes its ids ",
          "over ", spec->num_shards, " shards (num_shards); its ids would be lost"));
    }
    if (std::find(table.shards.begin(), table.shards.end(), shard) == table.shards.end()) {
      return absl::NotFoundError(
          absl::StrCat("checkpoint ", checkpoint, " has no shard ", shard, " of table ", table.name,
                       " (", model::TableShardTensorName(table.name, shard, "keys"), ")"));
    }
    table.shards = {shard};
  }
  return absl::OkStatus();
}

}  // namespace

DistributedExporter::DistributedExporter(model::ModelFn model_fn, std::string model_dir,
                                         std::string export_dir_base,
                                         DistributedExportOptions options)
    : model_fn_(std::move(model_fn)),
      model_dir_(std::move(model_dir)),
      export_dir_base_(std::move(export_dir_base)),
      options_(std::move(options)) {}

absl::StatusOr<std::vector<std::string>> DistributedExporter::ExportSavedModel(
    const model::ServingInputReceiverFn& serving_input_receiver_fn,
    const std::string& checkpoint_path, std::optional<int64_t> global_step) {
  auto start = std::chrono::steady_clock::now();
  if (options_.model_name.empty() || absl::StrContains(options_.model_name, ":")) {
    return absl::InvalidArgumentError(
        "a distributed export needs a model name without ':' (the entry calls <name>:ps_<i>)");
  }
  ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir_, checkpoint_path));
  ASSIGN_OR_RETURN(auto reader, model::CheckpointReader::Open(checkpoint));
  RETURN_IF_ERROR(CheckWarmupFile(options_.warmup_file));

  // Build the entry graph with model_fn, then the shards' sub-graphs.
  graph::Graph entry;
  model::ExportContext context(options_.with_remote_gpu);
  std::vector<model::SignatureSpec> entry_signatures;
  {
    ASSIGN_OR_RETURN(model::ExportModeScope mode,
                     model::EnterExportMode(model::ExportMode::kDistributed, &context));
    ASSIGN_OR_RETURN(model::ServingInputReceiver receiver,
                     serving_input_receiver_fn(graph::Scope(&entry)));
    ASSIGN_OR_RETURN(model::EstimatorSpec spec,
                     model_fn_(receiver.features, model::Mode::kPredict, {model_dir_}));
    RETURN_IF_ERROR(entry.status());
    ASSIGN_OR_RETURN(entry_signatures, MakeSignatures(receiver, spec));
  }
  ASSIGN_OR_RETURN(int64_t version, ChooseVersion(options_, global_step, *reader));
  int64_t pinned = options_.pin_versions ? version : -1;
  RETURN_IF_ERROR(context.lookups().Finalize(entry, options_.model_name, context, pinned));
  // with_remote_gpu: the entry keeps the routing; dense_0 gets the network.
  graph::Graph* entry_graph = &entry;
  DenseSplit split;
  if (options_.with_remote_gpu) {
    ASSIGN_OR_RETURN(split, SplitDenseNetwork(entry.def(), entry_signatures, *reader,
                                              options_.model_name, pinned));
    entry_graph = split.entry.get();
    entry_signatures = split.entry_signatures;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   SelectSubModels(options_, context.lookups().num_ps()));

  // Plan every sub-model and claim its version folder before writing any.
  NewFoldersGuard new_folders;
  new_folders.Watch(export_dir_base_);
  for (const std::string& name : names) {
    new_folders.Watch((std::filesystem::path(export_dir_base_) / name).string());
  }
  RETURN_IF_ERROR(RemoveDeadStagingFoldersUnder(export_dir_base_));
  std::vector<PendingVersion> pending;
  for (const std::string& name : names) {
    bool is_entry = name == kEntryGraph;
    bool is_dense = name == kDenseGraph;
    graph::Graph& g = is_entry ? *entry_graph : is_dense ? *split.dense : context.sub_graph(name);
    ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(g.def(), *reader));
    if (!is_entry && !is_dense) {
      RETURN_IF_ERROR(KeepOneShard(plan, std::stoi(name.substr(3)), checkpoint, context.lookups()));
    }
    PendingVersion v;
    v.name = name;
    const std::vector<model::SignatureSpec>& signatures = is_entry   ? entry_signatures
                                                          : is_dense ? split.dense_signatures
                                                                     : context.signatures(name);
    ASSIGN_OR_RETURN(v.saved_model, MakeSavedModel(g, plan, signatures));
    // dense_0 is the GPU model; allow_gpu governs the other sub-models.
    if (!is_dense) {
      ApplyDevicePolicy(*v.saved_model.mutable_meta_graphs(0)->mutable_graph_def(),
                        options_.allow_gpu, is_entry && options_.clear_entry_devices);
    }
    v.tensor_names = plan.TensorNames();
    if (is_entry) v.warmup_file = options_.warmup_file;
    ASSIGN_OR_RETURN(SavedModelWriter writer,
                     SavedModelWriter::Begin(
                         (std::filesystem::path(export_dir_base_) / name).string(), version));
    v.writer = std::make_unique<SavedModelWriter>(std::move(writer));
    pending.push_back(std::move(v));
  }
  RETURN_IF_ERROR(WriteVersions(pending, *reader, options_.shared_embedding, options_.progress));
  DistributedExportSummary summary{checkpoint, version, {}, 0};
  std::vector<std::string> paths;
  for (PendingVersion& v : pending) {
    ASSIGN_OR_RETURN(std::string path, v.writer->Commit());
    paths.push_back(path);
    summary.sub_models.push_back({v.name, path, v.stats, v.seconds});
  }
  new_folders.Keep();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary_ = std::move(summary);
  return paths;
}

}  // namespace recship::exporter
