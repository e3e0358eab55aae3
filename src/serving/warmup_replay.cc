#include "recship/serving/warmup_replay.h"

#include <filesystem>

#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"

namespace recship {

absl::StatusOr<int> ReplayWarmup(const SavedModelBundle& model, const PredictLimits& limits) {
  std::string path =
      (std::filesystem::path(model.export_dir()) / kExtraAssetsDirectory / kWarmupFilename)
          .string();
  if (!std::filesystem::exists(path)) return 0;
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<TFRecordReader> reader, TFRecordReader::Open(path));
  int count = 0;
  for (std::string record;; ++count) {
    absl::Status read = reader->Read(&record);
    if (absl::IsOutOfRange(read)) break;
    if (!read.ok()) return read;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": warmup record ", count, ": ", why));
    };
    if (count >= kMaxWarmupRecords) {
      return fail(absl::StrCat("more than ", kMaxWarmupRecords, " records"));
    }
    tensorflow::serving::PredictionLog log;
    if (!log.ParseFromString(record)) return fail("not a PredictionLog");
    if (!log.has_predict_log()) {
      return fail("only predict_log records can be replayed by recship");
    }
    tensorflow::serving::PredictResponse response;
    absl::Status ran = RunPredict(model, log.predict_log().request(), limits, &response);
    if (!ran.ok()) return fail(ran.message());
  }
  return count;
}

}  // namespace recship
