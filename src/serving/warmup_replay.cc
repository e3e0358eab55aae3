#include "recship/serving/warmup_replay.h"

#include <filesystem>

#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"

namespace recship {

absl::StatusOr<std::vector<tensorflow::serving::PredictRequest>> ReadWarmupRequests(
    const std::string& export_dir) {
  std::vector<tensorflow::serving::PredictRequest> requests;
  std::string path =
      (std::filesystem::path(export_dir) / kExtraAssetsDirectory / kWarmupFilename).string();
  if (!std::filesystem::exists(path)) return requests;
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<TFRecordReader> reader, TFRecordReader::Open(path));
  for (std::string record;;) {
    absl::Status read = reader->Read(&record);
    if (absl::IsOutOfRange(read)) break;
    if (!read.ok()) return read;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": warmup record ", requests.size(), ": ", why));
    };
    if (requests.size() >= static_cast<size_t>(kMaxWarmupRecords)) {
      return fail(absl::StrCat("more than ", kMaxWarmupRecords, " records"));
    }
    tensorflow::serving::PredictionLog log;
    if (!log.ParseFromString(record)) return fail("not a PredictionLog");
    if (!log.has_predict_log()) {
      return fail("only predict_log records can be replayed by recship");
    }
    requests.push_back(std::move(*log.mutable_predict_log()->mutable_request()));
  }
  return requests;
}

absl::StatusOr<int> ReplayWarmup(const SavedModelBundle& model, const PredictLimits& limits) {
  RECSHIP_ASSIGN_OR_RETURN(std::vector<tensorflow::serving::PredictRequest> requests,
                           ReadWarmupRequests(model.export_dir()));
  for (size_t i = 0; i < requests.size(); ++i) {
    tensorflow::serving::PredictResponse response;
    absl::Status ran = RunPredict(model, requests[i], limits, &response);
    if (!ran.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          (std::filesystem::path(model.export_dir()) / kExtraAssetsDirectory / kWarmupFilename)
              .string(),
          ": warmup record ", i, ": ", ran.message()));
    }
  }
  return static_cast<int>(requests.size());
}

}  // namespace recship
