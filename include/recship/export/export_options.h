// What both exporters take (ExportOptions) and report (ExportSummary).
#ifndef RECSHIP_EXPORT_EXPORT_OPTIONS_H_
#define RECSHIP_EXPORT_EXPORT_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "recship/core/clock.h"
#include "recship/export/export_progress.h"
#include "recship/export/variables_writer.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/sub_model.h"

namespace recship {

struct ExportOptions {
  // Share the checkpoint's data files instead of copying (variables_writer.h).
  bool shared_embedding = false;
  // A TensorFlow Serving warmup file, checked and then shipped as
  // assets.extra/tf_serving_warmup_requests (with the entry, when
  // distributed).
  std::string warmup_file;
  // Called as the export goes (export_progress.h); a non-OK status stops it
  // and nothing is published.
  ExportProgressCallback progress;
  // Names versions (Unix seconds) and times the export; null is the system
  // clock. Not owned.
  const Clock* clock = nullptr;
  // Leave out the rows of ids whose -freqs is below this; they serve as
  // unseen. Every table exported needs -freqs.
  std::optional<int64_t> min_frequency;
  // Leave out the rows not updated (-timestamps) within this of the newest
  // timestamp in the checkpoint's tables. Every table exported needs
  // -timestamps.
  std::optional<absl::Duration> max_age;
  // How the exported tables store their rows: float32 as trained, or
  // compressed (format/embedding_dtype.h); the serving graphs decode the
  // rows they look up, so stock TensorFlow serves every table.
  EmbeddingDtype embedding_dtype = EmbeddingDtype::kFloat32;

  // Called once every sub-model is written, with the checkpoint exported and
  // each sub-model's staged folder, before any is published; a non-OK status publishes nothing and
  // is returned (`recship export --verify` checks the export here).
  using BeforePublish = std::function<absl::Status(const std::string& checkpoint,
                                                   const std::map<SubModel, std::string>& staged)>;
  BeforePublish before_publish;

  bool FiltersRows() const { return min_frequency || max_age; }
  bool CompressesTables() const { return embedding_dtype != EmbeddingDtype::kFloat32; }
};

// Rows of one table an export kept and left out (ExportOptions filters).
struct TableRowsKept {
  int64_t kept = 0;
  int64_t dropped = 0;
};

// What an export wrote: one entry per sub-model, in publishing order (a
// standalone export has one, SubModel::Standalone()).
struct ExportSummary {
  struct Written {
    SubModel sub_model = SubModel::Standalone();
    std::string path;
    VariablesStats variables;
    double seconds = 0;  // Spent writing it.
  };
  std::string checkpoint;
  int64_t version = 0;
  std::vector<Written> sub_models;
  // Distributed: the tables whose rows were re-routed to the serving shards
  // (written anew, not shared with the checkpoint).
  std::vector<std::string> resharded_tables;
  // With a filter: per table, the rows kept and left out.
  std::map<std::string, TableRowsKept> filtered_tables;
  // How the tables store their rows (ExportOptions::embedding_dtype).
  EmbeddingDtype embedding_dtype = EmbeddingDtype::kFloat32;
  double seconds = 0;
};

}  // namespace recship

#endif  // RECSHIP_EXPORT_EXPORT_OPTIONS_H_
