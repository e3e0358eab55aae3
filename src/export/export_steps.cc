#include "src/export/export_steps.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/checkpoint_state.h"
#include "recship/format/table_index_file.h"
#include "recship/format/table_times.h"
#include "recship/format/warmup.h"

namespace recship {

constexpr char kCpuDevice[] = "/device:CPU:0";

void ApplyDevicePolicy(tensorflow::GraphDef& graph, bool allow_gpu, bool clear_devices) {
  for (tensorflow::NodeDef& node : *graph.mutable_node()) {
    if (clear_devices) {
      node.clear_device();
    } else if (!allow_gpu && absl::StrContains(absl::AsciiStrToUpper(node.device()), "GPU")) {
      node.set_device(kCpuDevice);
    }
  }
}

absl::StatusOr<std::string> ResolveCheckpoint(const std::string& model_dir,
                                              const std::string& checkpoint_path) {
  if (!checkpoint_path.empty()) return checkpoint_path;
  auto latest = LatestCheckpoint(model_dir);
  if (!latest.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint to export in ", model_dir, ": ", latest.status().message()));
  }
  return *latest;
}

absl::Status CheckWarmupFile(const std::string& warmup_file) {
  if (warmup_file.empty()) return absl::OkStatus();
  RECSHIP_ASSIGN_OR_RETURN(WarmupSummary warmup, ReadWarmupSummary(warmup_file));
  if (warmup.records > kMaxWarmupRecords) {
    return absl::InvalidArgumentError(absl::StrCat(warmup_file, " holds ", warmup.records,
                                                   " records; TensorFlow Serving accepts at most ",
                                                   kMaxWarmupRecords));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::vector<SignatureSpec>> MakeSignatures(const ServingInputReceiver& receiver,
                                                          const EstimatorSpec& spec) {
  std::vector<SignatureSpec> signatures;
  if (!spec.export_outputs.contains(kDefaultServingSignatureKey)) {
    signatures.push_back(
        {kDefaultServingSignatureKey, receiver.receiver_tensors, spec.predictions});
  }
  for (const auto& [name, output] : spec.export_outputs) {
    signatures.push_back({name, receiver.receiver_tensors, output.outputs});
  }
  for (const auto& signature : signatures) {
    if (signature.outputs.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("signature ", signature.name,
                                                     " has no outputs: the model_fn returned no "
                                                     "predictions"));
    }
    for (const auto& [key, output] : signature.outputs) {
      if (!output.valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat("signature ", signature.name, ": output '", key, "' is not a tensor"));
      }
    }
  }
  return signatures;
}

}  // namespace

absl::StatusOr<ExportGraph> BuildExportGraph(ExportMode mode, ExportContext& context,
                                             const ModelFn& model_fn,
                                             const ServingInputReceiverFn& receiver_fn,
                                             const std::string& model_dir) {
  ExportGraph out;
  out.graph = std::make_unique<Graph>();
  RECSHIP_ASSIGN_OR_RETURN(ExportModeScope scope, EnterExportMode(mode, &context));
  RECSHIP_ASSIGN_OR_RETURN(ServingInputReceiver receiver, receiver_fn(Scope(out.graph.get())));
  RECSHIP_ASSIGN_OR_RETURN(EstimatorSpec spec,
                           model_fn(receiver.features, Mode::kPredict, {model_dir}));
  RECSHIP_RETURN_IF_ERROR(out.graph->status());
  RECSHIP_ASSIGN_OR_RETURN(out.signatures, MakeSignatures(receiver, spec));
  return out;
}

absl::StatusOr<tensorflow::SavedModel> MakeSavedModel(
    Graph& graph, const RestorePlan& plan, const std::vector<SignatureSpec>& signatures) {
  tensorflow::MetaGraphDef meta_graph;
  if (plan.variables.empty() && plan.tables.empty()) {
    // As TensorFlow does: no variables, no saver.
    RECSHIP_ASSIGN_OR_RETURN(meta_graph, MakeServeMetaGraph(graph, nullptr, signatures));
  } else {
    RECSHIP_ASSIGN_OR_RETURN(tensorflow::SaverDef saver, AddSaverOps(graph, plan));
    RECSHIP_ASSIGN_OR_RETURN(meta_graph, MakeServeMetaGraph(graph, &saver, signatures));
  }
  tensorflow::SavedModel saved_model;
  saved_model.set_saved_model_schema_version(1);
  *saved_model.add_meta_graphs() = std::move(meta_graph);
  return saved_model;
}

namespace {

// Indexes each table's keys (as the server would when it loads them) into
// assets.extra/recship_table_index/, so that the server maps the index
// rather than builds it. The keys are read from the checkpoint: the same
// bytes as variables/ holds.
absl::Status WriteTableIndexes(PendingVersion& version, const CheckpointReader& checkpoint) {
  for (const RestorePlan::Table& table : version.tables) {
    std::vector<Tensor> keys;
    for (int shard : table.shards) {
      RECSHIP_ASSIGN_OR_RETURN(keys.emplace_back(), checkpoint.bundle().Map(TableShardTensorName(
                                                        table.name, shard, "keys")));
    }
    RECSHIP_ASSIGN_OR_RETURN(
        std::string path,
        version.writer->ExtraAssetPath(kTableIndexDirectory, TableIndexFilename(table.name)));
    RECSHIP_RETURN_IF_ERROR(WriteTableIndexFile(path, keys));
  }
  return absl::OkStatus();
}

// Records when each table's rows were last updated (format/table_times.h),
// for the tables whose shards all have timestamps, so that a delta against
// this version need only look at the rows updated since.
absl::Status WriteTableTimesOf(PendingVersion& version, const CheckpointReader& checkpoint) {
  TableTimes times;
  for (const RestorePlan::Table& table : version.tables) {
    RECSHIP_ASSIGN_OR_RETURN(std::optional<std::vector<Tensor>> timestamps,
                             checkpoint.TableTimestamps(table.name, table.shards));
    std::optional<int64_t> newest = timestamps ? NewestTimestamp(*timestamps) : std::nullopt;
    if (newest) times[table.name] = *newest;
  }
  if (times.empty()) return absl::OkStatus();
  RECSHIP_ASSIGN_OR_RETURN(std::string path,
                           version.writer->ExtraAssetPath("", kTableTimesFilename));
  return WriteTableTimes(path, times);
}

absl::Status WriteVersion(PendingVersion& version, const CheckpointReader& checkpoint,
                          ShareMode mode, const BytesDoneCallback& on_bytes) {
  for (const RestorePlan::Table& table : version.tables) {
    if (table.needs_encoding) {
      return absl::InternalError(absl::StrCat("table ", table.name, " is stored as ",
                                              EmbeddingDtypeName(table.encoding),
                                              " but was not encoded before it was written"));
    }
  }
  RECSHIP_ASSIGN_OR_RETURN(version.stats,
                           WriteVariables(checkpoint.bundle(), version.tensor_names,
                                          version.writer->variables_prefix(), mode, on_bytes));
  RECSHIP_RETURN_IF_ERROR(WriteTableIndexes(version, checkpoint));
  RECSHIP_RETURN_IF_ERROR(WriteTableTimesOf(version, checkpoint));
  RECSHIP_RETURN_IF_ERROR(version.writer->WriteSavedModel(version.saved_model));
  if (!version.warmup_file.empty()) {
    RECSHIP_RETURN_IF_ERROR(version.writer->CopyExtraAsset(kWarmupFilename, version.warmup_file));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteVersions(std::vector<PendingVersion>& versions,
                           const CheckpointReader& checkpoint, const ExportOptions& options,
                           bool checkpoint_written_by_export) {
  const ShareMode mode = checkpoint_written_by_export ? ShareMode::kShareWritten
                         : options.shared_embedding   ? ShareMode::kShare
                                                      : ShareMode::kCopy;
  const ExportProgressCallback& progress = options.progress;
  const Clock& clock = ClockOrReal(options.clock);
  ExportProgress p;
  p.num_sub_models = static_cast<int>(versions.size());
  std::vector<uint64_t> totals;
  for (const PendingVersion& version : versions) {
    uint64_t bytes = 0;
    for (const std::string& name : version.tensor_names) {
      RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* entry, checkpoint.bundle().Lookup(name));
      bytes += entry->size;
    }
    totals.push_back(bytes);
    p.total_bytes += bytes;
  }
  auto report = [&](ExportProgress::Event event) {
    p.event = event;
    return progress ? progress(p) : absl::OkStatus();
  };
  uint64_t before = 0;  // Bytes of the versions already written.
  BytesDoneCallback on_bytes;
  if (progress) {
    on_bytes = [&](uint64_t done) {
      p.sub_model_bytes = done;
      p.bytes = before + done;
      return report(ExportProgress::Event::kBytes);
    };
  }
  for (size_t i = 0; i < versions.size(); ++i) {
    absl::Time start = clock.Now();
    PendingVersion& version = versions[i];
    p.sub_model = version.sub_model;
    p.sub_model_index = static_cast<int>(i);
    p.sub_model_bytes = 0;
    p.sub_model_total_bytes = totals[i];
    p.bytes = before;
    RECSHIP_RETURN_IF_ERROR(report(ExportProgress::Event::kStarted));
    RECSHIP_RETURN_IF_ERROR(WriteVersion(version, checkpoint, mode, on_bytes));
    version.seconds = absl::ToDoubleSeconds(clock.Now() - start);
    before += totals[i];
    p.sub_model_bytes = totals[i];
    p.bytes = before;
    RECSHIP_RETURN_IF_ERROR(report(ExportProgress::Event::kFinished));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExportSummary> CommitVersions(std::vector<PendingVersion>& versions,
                                             const std::string& checkpoint, int64_t version,
                                             const ExportOptions& options) {
  if (options.before_publish) {
    std::map<SubModel, std::string> staged;
    for (const PendingVersion& v : versions) staged[v.sub_model] = v.writer->path();
    RECSHIP_RETURN_IF_ERROR(options.before_publish(checkpoint, staged));
  }
  ExportSummary summary;
  summary.checkpoint = checkpoint;
  summary.version = version;
  for (PendingVersion& v : versions) {
    RECSHIP_ASSIGN_OR_RETURN(std::string path, v.writer->Commit());
    summary.sub_models.push_back({v.sub_model, std::move(path), v.stats, v.seconds});
  }
  return summary;
}

NewFoldersGuard::~NewFoldersGuard() {
  // rmdir removes only empty folders, children before their parents.
  for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) ::rmdir(it->c_str());
}

void NewFoldersGuard::Watch(const std::string& path) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) paths_.push_back(path);
}

}  // namespace recship
