// ExportProgress: where a running export is, reported to an optional
// callback of StandaloneExporter and DistributedExporter, for progress bars
// and for cancelling an export (Ctrl-C).
//
// The callback is called once when each sub-model starts, as its variables'
// bytes are copied or shared (about every 2 MiB, never per byte), and once
// when the sub-model is written (not yet published). Returning a non-OK
// status (say CANCELLED) stops the export promptly; it returns that status
// and publishes nothing: no version folder, and no temp-<v> folder is left.
#ifndef RECSHIP_EXPORT_EXPORT_PROGRESS_H_
#define RECSHIP_EXPORT_EXPORT_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "recship/format/sub_model.h"

namespace recship {

struct ExportProgress {
  // kRewritingTables comes before any sub-model starts, while the
  // checkpoint's tables are re-sharded (DistributedExportOptions::num_ps) or
  // filtered (ExportOptions::min_frequency, max_age) or compressed
  // (embedding_dtype), every serving shard at once: bytes and total_bytes
  // count the rows' bytes read; sub_model is standalone and sub_model_* stay
  // 0.
  enum class Event { kStarted, kBytes, kFinished, kRewritingTables };
  Event event = Event::kBytes;
  // entry, ps_0, dense_0, or standalone.
  SubModel sub_model = SubModel::Standalone();
  int sub_model_index = 0;  // 0-based, in writing order.
  int num_sub_models = 1;
  // This sub-model's variables: bytes written or shared so far, and in all.
  uint64_t sub_model_bytes = 0;
  uint64_t sub_model_total_bytes = 0;
  // The same over every sub-model of the export.
  uint64_t bytes = 0;
  uint64_t total_bytes = 0;
};

using ExportProgressCallback = std::function<absl::Status(const ExportProgress&)>;

}  // namespace recship

#endif  // RECSHIP_EXPORT_EXPORT_PROGRESS_H_
