// Delta exports (format/delta.h): the rows of a checkpoint that differ from
// what a published version serves, for servers to apply while they serve.
//
// The base is version `base_version` under `export_dir_base`: a standalone
// model (<base>/<version>/) or a distributed layout, where each ps_<i> gets
// its own delta of the table shards it serves (the entry holds no table).
// What a sub-model serves is its base's rows plus the deltas already written
// for that base; the new delta holds every id of the checkpoint's matching
// shards whose row differs from that (new ids included) and every served id
// the checkpoint no longer has. Rows are compared byte for byte; where the
// checkpoint has -timestamps, only the rows updated since what is served
// are read (ServedTables::Diff). Memory is the rows of the deltas, plus an
// index of the checkpoint's ids (20 bytes each) when its ids moved, never a
// copy of a table. Each delta is published whole (staged, then renamed); a
// failed one leaves nothing.
#ifndef RECSHIP_EXPORT_DELTA_EXPORTER_H_
#define RECSHIP_EXPORT_DELTA_EXPORTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/core/clock.h"
#include "recship/format/delta.h"

namespace recship {

struct DeltaExportOptions {
  // 0: the newest version published under the export base.
  int64_t base_version = 0;
  // Rows updated (by the checkpoint's -timestamps) before this are taken as
  // served already; every table then needs timestamps. By default that time
  // is the newest timestamp of what the base and its deltas serve, where
  // they record one.
  std::optional<int64_t> since_time;
  // Not owned; null is the system clock.
  const Clock* clock = nullptr;
};

struct DeltaSummary {
  struct Written {
    std::string sub_model_base;  // <base> or <base>/ps_<i>.
    std::string path;            // The published delta folder.
    DeltaManifest manifest;
  };
  std::string checkpoint;
  int64_t base_version = 0;
  std::vector<Written> deltas;
  double seconds = 0;
};

// Writes the deltas of `checkpoint_path` (else the newest checkpoint of
// `model_dir`) against the base; errors name the folder, table or tensor at
// fault (a base version that does not exist, a table shard missing from the
// checkpoint, rows of another width).
absl::StatusOr<DeltaSummary> ExportDelta(const std::string& model_dir,
                                         const std::string& checkpoint_path,
                                         const std::string& export_dir_base,
                                         const DeltaExportOptions& options);

}  // namespace recship

#endif  // RECSHIP_EXPORT_DELTA_EXPORTER_H_
