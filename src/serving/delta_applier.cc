#include "recship/serving/delta_applier.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/delta.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_bundle.h"
#include "recship/runtime/hash_table.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

struct TableRows {
  HashTable* table = nullptr;
  Tensor keys, values, deleted;
};

// A delta read and checked whole, ready to apply.
struct LoadedDelta {
  DeltaManifest manifest;
  std::map<std::string, TableRows> tables;
};

std::map<std::string, HashTable*> TablesOf(const SavedModelBundle& bundle) {
  std::map<std::string, HashTable*> tables;
  for (const auto& resource : bundle.session().resources().All()) {
    if (auto* table = dynamic_cast<HashTable*>(resource.get())) tables[table->name()] = table;
  }
  return tables;
}

absl::Status CheckTableRows(const std::string& dir, const std::string& name, const TableRows& t) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": table '", name, "': ", what));
  };
  if (t.keys.dtype() != t.table->key_dtype() || t.deleted.dtype() != t.table->key_dtype()) {
    return bad(absl::StrCat("keys are not ", DataTypeName(t.table->key_dtype())));
  }
  if (t.values.dtype() != t.table->value_dtype()) {
    return bad(absl::StrCat("rows are not ", DataTypeName(t.table->value_dtype())));
  }
  TensorShape expected = t.keys.shape();
  const TensorShape& row = t.table->value_shape();
  expected.insert(expected.end(), row.begin(), row.end());
  if (t.keys.shape().size() != 1 || t.values.shape() != expected) {
    return bad(absl::StrCat("rows of shape ", ShapeToString(t.values.shape()), " for ",
                            ShapeToString(t.keys.shape()), " keys; the table's rows are ",
                            ShapeToString(row)));
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedDelta> LoadDelta(const SavedModelBundle& bundle, const std::string& dir,
                                      int64_t version, int64_t sequence) {
  LoadedDelta delta;
  const std::string manifest_path = (fs::path(dir) / kDeltaManifestFilename).string();
  RECSHIP_ASSIGN_OR_RETURN(std::string json, ReadFileToString(manifest_path, 1 << 20));
  RECSHIP_ASSIGN_OR_RETURN(delta.manifest, DeltaManifest::Parse(json, manifest_path));
  if (delta.manifest.base_version != version || delta.manifest.sequence != sequence) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, " is delta ", delta.manifest.sequence, " of version ",
        delta.manifest.base_version, ", not delta ", sequence, " of version ", version));
  }
  const std::string prefix = VariablesPrefix(dir);
  RECSHIP_ASSIGN_OR_RETURN(std::string index, ReadFileToString(BundleIndexPath(prefix)));
  if (crc32c::Mask(crc32c::Value(index)) != delta.manifest.index_crc32c) {
    return absl::DataLossError(
        absl::StrCat(BundleIndexPath(prefix), ": checksum differs from its manifest's"));
  }
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> reader, BundleReader::Open(prefix));
  std::map<std::string, HashTable*> tables = TablesOf(bundle);
  for (const auto& [name, counts] : delta.manifest.tables) {
    auto it = tables.find(name);
    if (it == tables.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, ": table '", name, "' is not served by this version"));
    }
    TableRows& rows = delta.tables[name];
    rows.table = it->second;
    RECSHIP_ASSIGN_OR_RETURN(rows.keys, reader->Read(DeltaKeysName(name)));
    RECSHIP_ASSIGN_OR_RETURN(rows.values, reader->Read(DeltaValuesName(name)));
    RECSHIP_ASSIGN_OR_RETURN(rows.deleted, reader->Read(DeltaDeletedName(name)));
    RECSHIP_RETURN_IF_ERROR(CheckTableRows(dir, name, rows));
  }
  return delta;
}

// Lookups go on while a delta goes in: HashTable::ApplyUpdate holds the
// table's writer lock for a few rows at a time.
absl::Status Apply(const LoadedDelta& delta) {
  for (const auto& [name, rows] : delta.tables) {
    RECSHIP_RETURN_IF_ERROR(
        rows.table->ApplyUpdate(rows.keys, rows.values, &rows.deleted).status());
  }
  return absl::OkStatus();
}

void ReportOnce(DeltaProgress& progress, const std::string& problem,
                const std::function<void(const std::string&)>& log) {
  if (progress.reported == problem) return;
  progress.reported = problem;
  if (log) log(problem);
}

}  // namespace

int ApplyNewDeltas(const SavedModelBundle& bundle, const std::string& model_base, int64_t version,
                   DeltaProgress& progress, const std::function<void(const std::string&)>& log) {
  const std::string root = DeltaRoot(model_base, version);
  std::vector<int64_t> found = ListDeltas(root);
  int applied = 0;
  for (int64_t sequence : found) {
    if (sequence <= progress.applied) continue;
    const std::string dir = (fs::path(root) / DeltaFolderName(sequence)).string();
    if (sequence != progress.applied + 1) {
      ReportOnce(progress,
                 absl::StrCat("delta ", dir, " waits: ", DeltaFolderName(progress.applied + 1),
                              " is missing"),
                 log);
      break;
    }
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<LoadedDelta> delta = LoadDelta(bundle, dir, version, sequence);
    int64_t rows = 0, deleted = 0;
    if (delta.ok()) {
      for (const auto& [name, t] : delta->manifest.tables) {
        rows += t.rows;
        deleted += t.deleted;
      }
      if (log)
        log(absl::StrFormat("delta %s checked; applying %d rows, %d deleted", dir, rows, deleted));
    }
    absl::Status status = delta.ok() ? Apply(*delta) : delta.status();
    if (!status.ok()) {
      ReportOnce(progress,
                 absl::StrCat("delta ", dir,
                              " refused (still serving what came before it): ", status.message()),
                 log);
      break;
    }
    progress.applied = sequence;
    ++applied;
    if (log) {
      log(absl::StrFormat(
          "delta %s applied in %.3f s (%d rows, %d deleted)", dir,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), rows,
          deleted));
    }
  }
  return applied;
}

}  // namespace recship
