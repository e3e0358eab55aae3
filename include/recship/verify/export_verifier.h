// Checks that an export serves the model it was exported from (`recship
// export --verify`, `recship verify`), in this process, before anything is
// published when the exporter asks for it.
//
// The exported sub-models are loaded as a server loads them, the entry
// calling its shards through an in-process RemoteCaller (a call to
// "<any model>:ps_<i>" reaches ps_<i>). The reference is the
// model_fn's own graph built outside export mode: float32 tables restored
// straight from every shard of the training checkpoint, whatever its shard
// count, less the ids the export's filters leave out (decided here from the
// checkpoint's own -freqs and -timestamps). Both answer the same requests:
// the export's warmup requests, else generated ones whose ids are drawn from
// every shard of every table. Every output is compared.
#ifndef RECSHIP_VERIFY_EXPORT_VERIFIER_H_
#define RECSHIP_VERIFY_EXPORT_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recship/core/thread_pool.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/sub_model.h"
#include "recship/model/estimator.h"

namespace recship {

struct VerifyOptions {
  ModelFn model_fn;
  ServingInputReceiverFn serving_input_receiver_fn;
  std::string model_dir;   // Given to model_fn.
  std::string checkpoint;  // The training checkpoint's prefix.
  // The export's filters (ExportOptions), applied to the reference.
  std::optional<int64_t> min_frequency;
  std::optional<absl::Duration> max_age;
  // The largest relative error allowed; by default DefaultTolerance of the
  // export's embedding dtype.
  std::optional<double> tolerance;
  int generated_requests = 16;
  int generated_batch = 64;
  // Told after each request; a non-OK status stops the check and is
  // returned (an interrupted export, say).
  std::function<absl::Status(int done, int total)> progress;
  const ThreadPool* thread_pool = nullptr;  // Not owned; null runs inline.
};

// The relative error of each value is |got - want| / max(|want|, floor): the
// floor is 1e-3 for an output whose values all lie in [0, 1] (probabilities),
// else a tenth of the output's root mean square (a regression head crossing
// zero is judged against its typical size).
struct OutputError {
  std::string name;  // The signature's output key.
  double max_relative_error = 0;
  double max_absolute_error = 0;
  int64_t values = 0;
  bool probability = false;  // Every value in [0, 1].
};

struct VerifyReport {
  EmbeddingDtype embedding_dtype = EmbeddingDtype::kFloat32;
  int requests = 0;
  bool generated = false;  // The requests were generated, not warmup.
  double tolerance = 0;
  std::vector<OutputError> outputs;

  bool passed() const;
  // One line per output and a verdict, for people.
  std::string ToString() const;
};

// 1e-5 for float32 (the same arithmetic, in another order); for compressed
// tables about 1.5 to 2 times the largest error measured over the example
// specs (bench/compression_bench.py): 2e-3 for float16, 1e-2 for bfloat16
// (8 significant bits), 3e-2 for int8.
double DefaultTolerance(EmbeddingDtype dtype);

// Runs `folders` (every sub-model of one export: standalone, or entry and
// each ps_<i>, and dense_0 if any; staged or published) and the reference on
// the same requests. A report that did not pass is still a report: the
// caller decides. Errors name the sub-model, request or output at fault.
absl::StatusOr<VerifyReport> VerifyExport(const std::map<SubModel, std::string>& folders,
                                          const VerifyOptions& options);

}  // namespace recship

#endif  // RECSHIP_VERIFY_EXPORT_VERIFIER_H_
