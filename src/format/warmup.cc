#include "recship/format/warmup.h"

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"

namespace recship {
namespace {

const char* KindOf(const tensorflow::serving::PredictionLog& log) {
  using Log = tensorflow::serving::PredictionLog;
  switch (log.log_type_case()) {
    case Log::kPredictLog:
      return "predict";
    case Log::kClassifyLog:
      return "classify";
    case Log::kRegressLog:
      return "regress";
    case Log::kMultiInferenceLog:
      return "multi_inference";
    case Log::kSessionRunLog:
      return "session_run";
    default:
      return "empty";
  }
}

}  // namespace

absl::StatusOr<WarmupSummary> ReadWarmupSummary(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(auto reader, TFRecordReader::Open(path));
  WarmupSummary summary;
  std::string record;
  for (absl::Status s = reader->Read(&record); !absl::IsOutOfRange(s); s = reader->Read(&record)) {
    RECSHIP_RETURN_IF_ERROR(s);
    tensorflow::serving::PredictionLog log;
    if (!log.ParseFromString(record)) {
      return absl::DataLossError(
          absl::StrCat(path, ": record ", summary.records, " is not a PredictionLog"));
    }
    ++summary.records;
    ++summary.kinds[KindOf(log)];
  }
  return summary;
}

}  // namespace recship
