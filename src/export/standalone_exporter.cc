#include "recship/export/standalone_exporter.h"

#include <chrono>
#include <ctime>

#include "recship/core/status_macros.h"
#include "recship/export/serving_graph.h"
#include "recship/model/checkpoint.h"
#include "recship/model/export_context.h"
#include "src/export/export_steps.h"

namespace recship::exporter {

StandaloneExporter::StandaloneExporter(model::ModelFn model_fn, std::string model_dir,
                                       std::string export_dir_base, bool shared_embedding,
                                       std::string warmup_file)
    : model_fn_(std::move(model_fn)),
      model_dir_(std::move(model_dir)),
      export_dir_base_(std::move(export_dir_base)),
      shared_embedding_(shared_embedding),
      warmup_file_(std::move(warmup_file)) {}

absl::StatusOr<std::string> StandaloneExporter::ExportSavedModel(
    const model::ServingInputReceiverFn& serving_input_receiver_fn,
    const std::string& checkpoint_path, std::optional<int64_t> global_step) {
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir_, checkpoint_path));
  ASSIGN_OR_RETURN(auto reader, model::CheckpointReader::Open(checkpoint));
  RETURN_IF_ERROR(CheckWarmupFile(warmup_file_));

  graph::Graph graph;
  model::ExportContext context;
  std::vector<model::SignatureSpec> signatures;
  {
    ASSIGN_OR_RETURN(model::ExportModeScope mode,
                     model::EnterExportMode(model::ExportMode::kStandalone, &context));
    ASSIGN_OR_RETURN(model::ServingInputReceiver receiver,
                     serving_input_receiver_fn(graph::Scope(&graph)));
    ASSIGN_OR_RETURN(model::EstimatorSpec spec,
                     model_fn_(receiver.features, model::Mode::kPredict, {model_dir_}));
    RETURN_IF_ERROR(graph.status());
    ASSIGN_OR_RETURN(signatures, MakeSignatures(receiver, spec));
  }
  ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(graph.def(), *reader));
  NewFoldersGuard new_folders;
  new_folders.Watch(export_dir_base_);
  PendingVersion version;
  ASSIGN_OR_RETURN(version.saved_model, MakeSavedModel(graph, plan, signatures));
  // One machine, which may have no GPU: placements are pinned to the CPU.
  ApplyDevicePolicy(*version.saved_model.mutable_meta_graphs(0)->mutable_graph_def(),
                    /*allow_gpu=*/false, /*clear_devices=*/false);
  version.tensor_names = plan.TensorNames();
  version.warmup_file = warmup_file_;

  int64_t number = global_step.value_or(static_cast<int64_t>(std::time(nullptr)));
  ASSIGN_OR_RETURN(SavedModelWriter writer, SavedModelWriter::Begin(export_dir_base_, number));
  version.writer = std::make_unique<SavedModelWriter>(std::move(writer));
  std::vector<PendingVersion> versions;
  versions.push_back(std::move(version));
  RETURN_IF_ERROR(WriteVersions(versions, *reader, shared_embedding_, progress_));
  ASSIGN_OR_RETURN(std::string path, versions[0].writer->Commit());
  new_folders.Keep();

  summary_ = ExportSummary{
      path, checkpoint, number, versions[0].stats,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  return path;
}

}  // namespace recship::exporter
