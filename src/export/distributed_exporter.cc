#include "recship/export/distributed_exporter.h"

#include <algorithm>
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
#include "src/export/shard_routing.h"
#include "src/export/table_rewriter.h"

namespace recship {
namespace {

// The sub-models an export writes, in publishing order (shards, then dense,
// then entry).
absl::StatusOr<std::vector<SubModel>> SelectSubModels(const DistributedExportOptions& options,
                                                      int num_ps) {
  std::vector<SubModel> all;
  for (int i = 0; i < num_ps; ++i) all.push_back(SubModel::Ps(i));
  if (options.with_remote_gpu) all.push_back(SubModel::Dense(0));
  all.push_back(SubModel::Entry());
  if (options.dense_only) {
    if (options.with_remote_gpu)
      return std::vector<SubModel>{SubModel::Dense(0), SubModel::Entry()};
    return std::vector<SubModel>{SubModel::Entry()};
  }
  if (options.include_graphs.empty()) return all;
  std::set<SubModel> wanted(options.include_graphs.begin(), options.include_graphs.end());
  for (const SubModel& sub : wanted) {
    if (std::find(all.begin(), all.end(), sub) == all.end()) {
      std::vector<std::string> names;
      for (const SubModel& s : all) names.push_back(s.name());
      return absl::InvalidArgumentError(absl::StrCat("include_graphs names '", sub.name(),
                                                     "', which this model does not have (it has ",
                                                     absl::StrJoin(names, ", "), ")"));
    }
  }
  std::vector<SubModel> selected;
  for (const SubModel& sub : all) {
    if (wanted.contains(sub)) selected.push_back(sub);
  }
  return selected;
}

// Clears the temp-* folders of dead exports in every sub-model folder of
// the base, including those of sub-models this export does not write.
absl::Status RemoveDeadStagingFoldersUnder(const std::string& export_dir_base) {
  std::error_code ec;
  for (const auto& child : std::filesystem::directory_iterator(export_dir_base, ec)) {
    if (child.is_directory(ec)) {
      RECSHIP_RETURN_IF_ERROR(StagedDirectory::RemoveDeadStagingFolders(child.path().string()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ChooseVersion(const DistributedExportOptions& options,
                                      std::optional<int64_t> global_step,
                                      const CheckpointReader& checkpoint) {
  if (global_step) return *global_step;
  if (!options.global_step_as_timestamp) {
    return absl::ToUnixSeconds(ClockOrReal(options.clock).Now());
  }
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
absl::Status KeepOneShard(RestorePlan& plan, int64_t shard, const std::string& checkpoint,
                          const DistributedLookups& lookups) {
  for (RestorePlan::Table& table : plan.tables) {
    const HashTableSpec* spec = lookups.FindTable(table.name);
    int last = *std::max_element(table.shards.begin(), table.shards.end());
    if (spec != nullptr && last >= spec->num_shards) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint ", checkpoint, " has shard ", last, " of table ", table.name, " (",
          TableShardTensorName(table.name, last, "keys"), ") but the model routes its ids ",
          "over ", spec->num_shards, " shards (num_shards); its ids would be lost"));
    }
    if (std::find(table.shards.begin(), table.shards.end(), shard) == table.shards.end()) {
      return absl::NotFoundError(absl::StrCat(
          "checkpoint ", checkpoint, " has no shard ", shard, " of table ", table.name, " (",
          TableShardTensorName(table.name, static_cast<int>(shard), "keys"), ")"));
    }
    table.shards = {static_cast<int>(shard)};
  }
  return absl::OkStatus();
}

// Every graph of a distributed export: the entry (with the dense network,
// or calling dense_0), the ps sub-graphs in the context, and dense_0.
struct DistributedGraphs {
  ExportContext context;
  ExportGraph entry;
  ExportGraph dense;  // with_remote_gpu only.

  explicit DistributedGraphs(bool with_remote_gpu) : context(with_remote_gpu) {}

  const ExportGraph& Get(const SubModel& sub) const { return sub.is_entry() ? entry : dense; }
};

absl::Status SplitGraphs(const DistributedExportOptions& options, const CheckpointReader& reader,
                         int64_t pinned, DistributedGraphs& graphs) {
  RECSHIP_RETURN_IF_ERROR(
      BuildShardRouting(*graphs.entry.graph, options.model_name, graphs.context, pinned));
  if (!options.with_remote_gpu) return absl::OkStatus();
  // The entry keeps the routing; dense_0 gets the network.
  RECSHIP_ASSIGN_OR_RETURN(DenseSplit split,
                           SplitDenseNetwork(graphs.entry.graph->def(), graphs.entry.signatures,
                                             reader, options.model_name, pinned));
  graphs.entry = ExportGraph{std::move(split.entry), std::move(split.entry_signatures)};
  graphs.dense = ExportGraph{std::move(split.dense), std::move(split.dense_signatures)};
  return absl::OkStatus();
}

// Plans sub-model `sub`'s version `version` and claims its folder.
absl::StatusOr<PendingVersion> PlanSubModel(const SubModel& sub, int64_t version,
                                            DistributedGraphs& graphs,
                                            const CheckpointReader& reader,
                                            const std::string& export_dir_base,
                                            const DistributedExportOptions& options) {
  Graph& g = sub.is_ps() ? graphs.context.sub_graph(sub.name()) : *graphs.Get(sub).graph;
  RECSHIP_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(g.def(), reader));
  if (sub.is_ps()) {
    RECSHIP_RETURN_IF_ERROR(
        KeepOneShard(plan, sub.index(), reader.prefix(), graphs.context.lookups()));
  }
  PendingVersion v;
  v.sub_model = sub;
  const std::vector<SignatureSpec>& signatures =
      sub.is_ps() ? graphs.context.signatures(sub.name()) : graphs.Get(sub).signatures;
  RECSHIP_ASSIGN_OR_RETURN(v.saved_model, MakeSavedModel(g, plan, signatures));
  // dense_0 is the GPU model; allow_gpu governs the other sub-models.
  if (!sub.is_dense()) {
    ApplyDevicePolicy(*v.saved_model.mutable_meta_graphs(0)->mutable_graph_def(), options.allow_gpu,
                      sub.is_entry() && options.clear_entry_devices);
  }
  v.tensor_names = plan.TensorNames();
  v.tables = plan.tables;
  if (sub.is_entry()) v.warmup_file = options.warmup_file;
  RECSHIP_ASSIGN_OR_RETURN(
      SavedModelWriter writer,
      SavedModelWriter::Begin((std::filesystem::path(export_dir_base) / sub.name()).string(),
                              version));
  v.writer = std::make_unique<SavedModelWriter>(std::move(writer));
  return v;
}

// The checkpoint's tables rewritten for the serving shards (re-sharded where
// they are not already routed so) and the filters, or nothing to rewrite.
struct Rewrite {
  StagedRewrite staged;  // checkpoint null when nothing was rewritten.
  std::vector<std::string> resharded;
};

absl::StatusOr<Rewrite> RewriteForShards(const CheckpointReader& checkpoint,
                                         const DistributedLookups& lookups, int64_t version,
                                         const std::string& export_dir_base,
                                         const ExportOptions& options) {
  ShardCounts shards;
  for (const auto& [table, ignored] : checkpoint.tables()) {
    if (const HashTableSpec* spec = lookups.FindTable(table)) shards[table] = spec->num_shards;
  }
  Rewrite out;
  RECSHIP_ASSIGN_OR_RETURN(out.resharded, TablesToReshard(checkpoint, shards));
  RewriteOptions rewrite{.encoding = options.embedding_dtype};
  RECSHIP_ASSIGN_OR_RETURN(rewrite.filter, MakeRowFilter(options, checkpoint, shards));
  if (out.resharded.empty() && !rewrite.filter.active() && !options.CompressesTables()) return out;
  // Every table the export serves is written anew (one checkpoint serves
  // them all); those already routed are copied as they are.
  RECSHIP_ASSIGN_OR_RETURN(
      out.staged, RewriteTablesInStaging(checkpoint, shards, rewrite, export_dir_base, version,
                                         ReportRewriting(options.progress, lookups.num_ps())));
  return out;
}

}  // namespace

DistributedExporter::DistributedExporter(ModelFn model_fn, std::string model_dir,
                                         std::string export_dir_base,
                                         DistributedExportOptions options)
    : model_fn_(std::move(model_fn)),
      model_dir_(std::move(model_dir)),
      export_dir_base_(std::move(export_dir_base)),
      options_(std::move(options)) {}

absl::StatusOr<std::vector<std::string>> DistributedExporter::ExportSavedModel(
    const ServingInputReceiverFn& serving_input_receiver_fn, const std::string& checkpoint_path,
    std::optional<int64_t> global_step) {
  const Clock& clock = ClockOrReal(options_.clock);
  absl::Time start = clock.Now();
  if (options_.model_name.empty() || absl::StrContains(options_.model_name, ":")) {
    return absl::InvalidArgumentError(
        "a distributed export needs a model name without ':' (the entry calls <name>:ps_<i>)");
  }
  RECSHIP_ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir_, checkpoint_path));
  RECSHIP_ASSIGN_OR_RETURN(auto reader, CheckpointReader::Open(checkpoint));
  RECSHIP_RETURN_IF_ERROR(CheckWarmupFile(options_.warmup_file));

  DistributedGraphs graphs(options_.with_remote_gpu);
  graphs.context.set_embedding_dtype(options_.embedding_dtype);
  RECSHIP_ASSIGN_OR_RETURN(graphs.entry,
                           BuildExportGraph(ExportMode::kDistributed, graphs.context, model_fn_,
                                            serving_input_receiver_fn, model_dir_));
  if (options_.num_ps > 0) graphs.context.lookups().SetNumShards(options_.num_ps);
  RECSHIP_ASSIGN_OR_RETURN(int64_t version, ChooseVersion(options_, global_step, *reader));
  RECSHIP_RETURN_IF_ERROR(
      SplitGraphs(options_, *reader, options_.pin_versions ? version : -1, graphs));
  RECSHIP_ASSIGN_OR_RETURN(std::vector<SubModel> subs,
                           SelectSubModels(options_, graphs.context.lookups().num_ps()));

  // Plan every sub-model and claim its version folder before writing any.
  NewFoldersGuard new_folders;
  new_folders.Watch(export_dir_base_);
  for (const SubModel& sub : subs) {
    new_folders.Watch((std::filesystem::path(export_dir_base_) / sub.name()).string());
  }
  RECSHIP_RETURN_IF_ERROR(RemoveDeadStagingFoldersUnder(export_dir_base_));
  RECSHIP_RETURN_IF_ERROR(StagedDirectory::RemoveDeadStagingFolders(export_dir_base_));
  Rewrite rewrite;
  if (std::any_of(subs.begin(), subs.end(), [](const SubModel& sub) { return sub.is_ps(); })) {
    RECSHIP_ASSIGN_OR_RETURN(rewrite, RewriteForShards(*reader, graphs.context.lookups(), version,
                                                       export_dir_base_, options_));
  }
  const bool rewritten = rewrite.staged.checkpoint != nullptr;
  // Its files are new: the versions share them rather than copy them again.
  if (rewritten) reader = std::move(rewrite.staged.checkpoint);
  std::vector<PendingVersion> pending;
  for (const SubModel& sub : subs) {
    RECSHIP_ASSIGN_OR_RETURN(
        PendingVersion v, PlanSubModel(sub, version, graphs, *reader, export_dir_base_, options_));
    pending.push_back(std::move(v));
  }
  RECSHIP_RETURN_IF_ERROR(WriteVersions(pending, *reader, options_, rewritten));
  RECSHIP_ASSIGN_OR_RETURN(ExportSummary summary,
                           CommitVersions(pending, checkpoint, version, options_));
  summary.resharded_tables = std::move(rewrite.resharded);
  if (options_.FiltersRows()) summary.filtered_tables = std::move(rewrite.staged.tables);
  summary.embedding_dtype = options_.embedding_dtype;
  new_folders.Keep();
  summary.seconds = absl::ToDoubleSeconds(clock.Now() - start);
  std::vector<std::string> paths;
  for (const ExportSummary::Written& w : summary.sub_models) paths.push_back(w.path);
  summary_ = std::move(summary);
  return paths;
}

}  // namespace recship
