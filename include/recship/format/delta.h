// A delta: the rows of a served model's tables that changed since one of
// its versions (the base), to apply on top of it while it serves.
//
// The deltas of version V of the model whose versions live in <base>/ sit in
// <base>/deltas/V/delta-<sequence, 6 digits>/ (a folder TensorFlow Serving
// never mistakes for a version: only numeric children of <base> are). Each
// is a tensor bundle, variables/variables, holding per table <t>:
//   <t>/keys          int64 [n]       ids inserted or changed
//   <t>/values        [n, dim]        their rows, in the table's dtype
//   <t>/deleted_keys  int64 [m]       ids removed
// and manifest.json (DeltaManifest). Delta s is relative to the base plus
// deltas 1 .. s-1, so a server applies them in sequence; applying one twice
// changes nothing.
#ifndef RECSHIP_FORMAT_DELTA_H_
#define RECSHIP_FORMAT_DELTA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recship {

inline constexpr char kDeltasDirectory[] = "deltas";
inline constexpr char kDeltaManifestFilename[] = "manifest.json";

struct DeltaManifest {
  struct Table {
    int64_t rows = 0;     // Inserted or changed.
    int64_t deleted = 0;  // Removed.
    // From the checkpoint's -timestamps, when it has them (table_times.h):
    // the newest timestamp of the table's rows, and the oldest and newest of
    // the rows this delta carries.
    std::optional<int64_t> updated_through;
    std::optional<int64_t> rows_updated_from, rows_updated_to;
  };
  int64_t base_version = 0;
  int64_t sequence = 0;    // 1, 2, ... per base version.
  std::string checkpoint;  // The checkpoint the rows come from.
  int64_t global_step = -1;
  int64_t created_unix_seconds = 0;
  std::map<std::string, Table> tables;
  // Masked crc32c of variables/variables.index, which holds each tensor's.
  uint32_t index_crc32c = 0;

  std::string ToJson() const;
  // Errors name `path` and the field at fault.
  static absl::StatusOr<DeltaManifest> Parse(absl::string_view json, const std::string& path);
};

// <model_base>/deltas/<version>
std::string DeltaRoot(const std::string& model_base, int64_t version);
// delta-000042
std::string DeltaFolderName(int64_t sequence);
// The sequence numbers of the published deltas in `root` (folders named
// DeltaFolderName), ascending; none when `root` does not exist.
std::vector<int64_t> ListDeltas(const std::string& root);

// Tensor names in a delta's bundle.
std::string DeltaKeysName(absl::string_view table);
std::string DeltaValuesName(absl::string_view table);
std::string DeltaDeletedName(absl::string_view table);

}  // namespace recship

#endif  // RECSHIP_FORMAT_DELTA_H_
