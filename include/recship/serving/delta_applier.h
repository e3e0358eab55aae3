// Applies a served version's deltas (format/delta.h) to its tables, in
// sequence, while it serves.
//
// ApplyNew finds <model_base>/deltas/<version>/delta-<s> for s = applied + 1,
// + 2, ..., and applies each whole: its manifest must name this version and
// sequence, its bundle's index must have the manifest's crc32c, and every
// tensor is checked (crc32c, dtypes, row width) before any row changes.
// Rows go into the tables in small batches, each under the table's writer
// lock for a few microseconds, so lookups are never held longer than that;
// a request may see part of a delta, never a half-written row. Applying a
// delta twice changes nothing. A delta that fails a check is refused, logged
// once, and stops the sequence there (later ones wait: they build on it);
// so does a gap (delta s + 1 missing while a later one exists).
#ifndef RECSHIP_SERVING_DELTA_APPLIER_H_
#define RECSHIP_SERVING_DELTA_APPLIER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "recship/runtime/saved_model_bundle.h"

namespace recship {

// Where a served version stands with its deltas.
struct DeltaProgress {
  int64_t applied = 0;   // The last sequence applied.
  std::string reported;  // The last problem logged, so it is logged once.
};

// Applies the deltas after progress.applied; `log` gets one line per delta
// applied and one per problem. Returns how many were applied.
int ApplyNewDeltas(const SavedModelBundle& bundle, const std::string& model_base, int64_t version,
                   DeltaProgress& progress, const std::function<void(const std::string&)>& log);

}  // namespace recship

#endif  // RECSHIP_SERVING_DELTA_APPLIER_H_
