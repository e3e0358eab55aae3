#include "recship/export/delta_exporter.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "recship/core/staged_directory.h"
#include "recship/core/status_macros.h"
#include "recship/export/served_tables.h"
#include "recship/format/saved_model.h"
#include "recship/format/sub_model.h"
#include "recship/format/tensor_bundle.h"
#include "recship/model/checkpoint.h"
#include "src/export/export_steps.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

absl::Status AddTable(BundleWriter& writer, const ServedTables& served, const std::string& table,
                      const ServedTables::TableChanges& changes) {
  auto int64s = [](const std::vector<int64_t>& v) {
    return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  };
  RECSHIP_RETURN_IF_ERROR(writer.Add(DeltaKeysName(table), int64s(changes.keys)));
  RECSHIP_ASSIGN_OR_RETURN(Tensor values, served.RowsTensor(table, changes));
  RECSHIP_RETURN_IF_ERROR(writer.Add(DeltaValuesName(table), values));
  return writer.Add(DeltaDeletedName(table), int64s(changes.deleted));
}

absl::Status WriteManifest(const std::string& dir, DeltaManifest& manifest) {
  RECSHIP_ASSIGN_OR_RETURN(std::string index,
                           ReadFileToString(BundleIndexPath(VariablesPrefix(dir))));
  manifest.index_crc32c = crc32c::Mask(crc32c::Value(index));
  RECSHIP_ASSIGN_OR_RETURN(auto file,
                           WritableFile::Create((fs::path(dir) / kDeltaManifestFilename).string()));
  RECSHIP_RETURN_IF_ERROR(file->Append(manifest.ToJson()));
  return file->Close();
}

// A sub-model's delta, written and not yet published.
struct StagedDelta {
  StagedDirectory staged;
  DeltaSummary::Written written;
};

absl::StatusOr<StagedDelta> WriteSubModelDelta(const std::string& sub_base,
                                               const CheckpointReader& checkpoint,
                                               const DeltaExportOptions& options) {
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<ServedTables> served,
                           ServedTables::Open(sub_base, options.base_version));
  RECSHIP_ASSIGN_OR_RETURN(ServedTables::Changes changes,
                           served->Diff(checkpoint, options.since_time));
  const int64_t sequence = served->deltas_applied() + 1;
  RECSHIP_ASSIGN_OR_RETURN(StagedDirectory staged,
                           StagedDirectory::Create(DeltaRoot(sub_base, options.base_version),
                                                   DeltaFolderName(sequence)));
  std::error_code ec;
  fs::create_directories(fs::path(staged.path()) / kVariablesDirectory, ec);
  RECSHIP_ASSIGN_OR_RETURN(
      std::unique_ptr<BundleWriter> writer,
      BundleWriter::Create(VariablesPrefix(staged.path()), {.data_alignment = 8}));
  DeltaManifest manifest;
  manifest.base_version = options.base_version;
  manifest.sequence = sequence;
  manifest.checkpoint = checkpoint.prefix();
  manifest.global_step = checkpoint.global_step().value_or(-1);
  manifest.created_unix_seconds = absl::ToUnixSeconds(ClockOrReal(options.clock).Now());
  for (const auto& [table, table_changes] : changes) {
    RECSHIP_RETURN_IF_ERROR(AddTable(*writer, *served, table, table_changes));
    manifest.tables[table] = {static_cast<int64_t>(table_changes.keys.size()),
                              static_cast<int64_t>(table_changes.deleted.size()),
                              table_changes.updated_through, table_changes.rows_updated_from,
                              table_changes.rows_updated_to};
  }
  RECSHIP_RETURN_IF_ERROR(writer->Finish());
  RECSHIP_RETURN_IF_ERROR(WriteManifest(staged.path(), manifest));
  std::string path = staged.final_path();
  return StagedDelta{std::move(staged), {sub_base, std::move(path), std::move(manifest)}};
}

// The model bases that serve tables at the base version: the standalone
// model, else each ps_<i>.
absl::StatusOr<std::vector<std::string>> SubModelBases(const std::string& export_dir_base,
                                                       int64_t version) {
  auto has_version = [&](const fs::path& base) {
    std::error_code ec;
    return fs::exists(base / std::to_string(version) / kSavedModelFilename, ec);
  };
  if (has_version(export_dir_base)) return std::vector<std::string>{export_dir_base};
  std::vector<std::string> bases;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(export_dir_base, ec)) {
    std::optional<SubModel> sub = SubModel::Parse(entry.path().filename().string());
    if (sub && sub->is_ps() && has_version(entry.path())) bases.push_back(entry.path().string());
  }
  std::sort(bases.begin(), bases.end());
  if (bases.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no version ", version, " under ", export_dir_base, " (neither ", version,
        "/saved_model.pb of a standalone model nor ps_<i>/", version, "/ of a distributed one)"));
  }
  return bases;
}

// The newest version a standalone model or any ps_<i> of `export_dir_base`
// has published.
absl::StatusOr<int64_t> NewestVersion(const std::string& export_dir_base) {
  int64_t newest = 0;
  auto scan = [&](const fs::path& base) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      int64_t version;
      if (absl::SimpleAtoi(entry.path().filename().string(), &version) && version > 0 &&
          fs::exists(entry.path() / kSavedModelFilename, ec)) {
        newest = std::max(newest, version);
      }
    }
  };
  scan(export_dir_base);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(export_dir_base, ec)) {
    std::optional<SubModel> sub = SubModel::Parse(entry.path().filename().string());
    if (sub && sub->is_ps()) scan(entry.path());
  }
  if (newest == 0) {
    return absl::NotFoundError(absl::StrCat("no published version under ", export_dir_base,
                                            " (nor under its ps_<i>/) to write a delta of"));
  }
  return newest;
}

}  // namespace

absl::StatusOr<DeltaSummary> ExportDelta(const std::string& model_dir,
                                         const std::string& checkpoint_path,
                                         const std::string& export_dir_base,
                                         const DeltaExportOptions& options) {
  const Clock& clock = ClockOrReal(options.clock);
  const absl::Time start = clock.Now();
  DeltaExportOptions resolved = options;
  if (resolved.base_version <= 0) {
    RECSHIP_ASSIGN_OR_RETURN(resolved.base_version, NewestVersion(export_dir_base));
  }
  RECSHIP_ASSIGN_OR_RETURN(std::vector<std::string> bases,
                           SubModelBases(export_dir_base, resolved.base_version));
  RECSHIP_ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir, checkpoint_path));
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                           CheckpointReader::Open(checkpoint));
  // Every sub-model's delta is written before any is published, so a failure
  // publishes none.
  std::vector<StagedDelta> staged;
  for (const std::string& base : bases) {
    RECSHIP_ASSIGN_OR_RETURN(StagedDelta delta, WriteSubModelDelta(base, *reader, resolved));
    staged.push_back(std::move(delta));
  }
  DeltaSummary summary;
  summary.checkpoint = reader->prefix();
  summary.base_version = resolved.base_version;
  for (StagedDelta& delta : staged) {
    RECSHIP_RETURN_IF_ERROR(delta.staged.Commit().status());
    summary.deltas.push_back(std::move(delta.written));
  }
  summary.seconds = absl::ToDoubleSeconds(clock.Now() - start);
  return summary;
}

}  // namespace recship
