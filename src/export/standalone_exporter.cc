#include "recship/export/standalone_exporter.h"

#include "recship/core/status_macros.h"
#include "recship/export/serving_graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"
#include "src/export/export_steps.h"
#include "src/export/table_rewriter.h"

namespace recship {

StandaloneExporter::StandaloneExporter(ModelFn model_fn, std::string model_dir,
                                       std::string export_dir_base, ExportOptions options)
    : model_fn_(std::move(model_fn)),
      model_dir_(std::move(model_dir)),
      export_dir_base_(std::move(export_dir_base)),
      options_(std::move(options)) {}

namespace {

// The checkpoint with its tables filtered (ExportOptions::min_frequency,
// max_age) and encoded (embedding_dtype), each on the number of shards it
// had.
absl::StatusOr<StagedRewrite> FilterTables(const CheckpointReader& checkpoint,
                                           const RestorePlan& plan, int64_t version,
                                           const ExportOptions& options,
                                           const std::string& export_dir_base) {
  ShardCounts shards;
  for (const RestorePlan::Table& table : plan.tables) {
    shards[table.name] = static_cast<int>(table.shards.size());
  }
  RewriteOptions rewrite{.encoding = options.embedding_dtype};
  RECSHIP_ASSIGN_OR_RETURN(rewrite.filter, MakeRowFilter(options, checkpoint, shards));
  return RewriteTablesInStaging(checkpoint, shards, rewrite, export_dir_base, version,
                                ReportRewriting(options.progress, 0));
}

}  // namespace

absl::StatusOr<std::string> StandaloneExporter::ExportSavedModel(
    const ServingInputReceiverFn& serving_input_receiver_fn, const std::string& checkpoint_path,
    std::optional<int64_t> global_step) {
  const Clock& clock = ClockOrReal(options_.clock);
  absl::Time start = clock.Now();
  RECSHIP_ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir_, checkpoint_path));
  RECSHIP_ASSIGN_OR_RETURN(auto reader, CheckpointReader::Open(checkpoint));
  RECSHIP_RETURN_IF_ERROR(CheckWarmupFile(options_.warmup_file));

  ExportContext context;
  context.set_embedding_dtype(options_.embedding_dtype);
  RECSHIP_ASSIGN_OR_RETURN(ExportGraph graph,
                           BuildExportGraph(ExportMode::kStandalone, context, model_fn_,
                                            serving_input_receiver_fn, model_dir_));
  RECSHIP_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(graph.graph->def(), *reader));
  int64_t number = global_step.value_or(absl::ToUnixSeconds(clock.Now()));
  NewFoldersGuard new_folders;
  new_folders.Watch(export_dir_base_);
  StagedRewrite rewrite;
  if (options_.FiltersRows() || options_.CompressesTables()) {
    RECSHIP_ASSIGN_OR_RETURN(rewrite,
                             FilterTables(*reader, plan, number, options_, export_dir_base_));
    reader = std::move(rewrite.checkpoint);
    RECSHIP_ASSIGN_OR_RETURN(plan, PlanRestore(graph.graph->def(), *reader));
  }
  PendingVersion version;
  RECSHIP_ASSIGN_OR_RETURN(version.saved_model,
                           MakeSavedModel(*graph.graph, plan, graph.signatures));
  // One machine, which may have no GPU: placements are pinned to the CPU.
  ApplyDevicePolicy(*version.saved_model.mutable_meta_graphs(0)->mutable_graph_def(),
                    /*allow_gpu=*/false, /*clear_devices=*/false);
  version.tensor_names = plan.TensorNames();
  version.tables = plan.tables;
  version.warmup_file = options_.warmup_file;

  RECSHIP_ASSIGN_OR_RETURN(SavedModelWriter writer,
                           SavedModelWriter::Begin(export_dir_base_, number));
  version.writer = std::make_unique<SavedModelWriter>(std::move(writer));
  std::vector<PendingVersion> versions;
  versions.push_back(std::move(version));
  RECSHIP_RETURN_IF_ERROR(WriteVersions(versions, *reader, options_, rewrite.folder.has_value()));
  RECSHIP_ASSIGN_OR_RETURN(ExportSummary summary,
                           CommitVersions(versions, checkpoint, number, options_));
  if (options_.FiltersRows()) summary.filtered_tables = std::move(rewrite.tables);
  summary.embedding_dtype = options_.embedding_dtype;
  new_folders.Keep();
  summary.seconds = absl::ToDoubleSeconds(clock.Now() - start);
  summary_ = std::move(summary);
  return summary_.sub_models[0].path;
}

}  // namespace recship
