// serving/warmup_replay: replaying a version's warmup file before it serves,
// and the errors that name the file and the record.
#include "recship/serving/warmup_replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/format/warmup.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/predict.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"
#include "test_util.h"
#include "tiny_model.h"
#include "tiny_model_test.h"

namespace recship {
namespace {

using ::recship::testing::BagRequest;
using ::recship::testing::IsAnyError;
using ::recship::testing::IsError;
using ::recship::testing::PredictRecord;
using ::recship::testing::TempDir;
using ::recship::testing::TinyModelTest;
using ::recship::testing::WarmupPath;
using ::recship::testing::WriteBytes;
using ::recship::testing::WriteTinyVersion;
using ::recship::testing::WriteWarmup;
using ::recship::testing::XRequest;
using tensorflow::serving::PredictionLog;
using tensorflow::serving::PredictRequest;
using Code = absl::StatusCode;

// ---------------------------------------------------------------------------
// ReplayWarmup.

class WarmupReplayTest : public TinyModelTest {
 protected:
  std::string version_dir() const { return model_->export_dir(); }
};

TEST_F(WarmupReplayTest, NoFileReplaysNothing) {
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, 0);
}

TEST_F(WarmupReplayTest, ReplaysEveryRecord) {
  ASSERT_OK(WriteWarmup(version_dir(), {PredictRecord(XRequest({1})), PredictRecord(XRequest({})),
                                        PredictRecord(BagRequest(2, 3, 2))}));
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, 3);
}

TEST_F(WarmupReplayTest, ExactlyTheMaximumIsReplayed) {
  std::vector<std::string> records(kMaxWarmupRecords, PredictRecord(XRequest({1})));
  ASSERT_OK(WriteWarmup(version_dir(), records));
  ASSERT_OK_AND_ASSIGN(int replayed, ReplayWarmup(*model_, {}));
  EXPECT_EQ(replayed, kMaxWarmupRecords);
}

TEST_F(WarmupReplayTest, BadRecordsNameTheFileAndTheRecord) {
  const std::string path = WarmupPath(version_dir());
  const std::string good = PredictRecord(XRequest({1}));
  auto replay_error = [&](const std::vector<std::string>& records) {
    absl::Status written = WriteWarmup(version_dir(), records);
    EXPECT_OK(written);
    return ReplayWarmup(*model_, {}).status();
  };

  // Field 1, length-delimited, claiming more bytes than there are.
  EXPECT_TRUE(IsError(replay_error({good, std::string("\x0a\x7f\x01", 3)}), Code::kInvalidArgument,
                      {path, "warmup record 1", "not a PredictionLog"}));
  PredictionLog classify;
  classify.mutable_classify_log();
  EXPECT_TRUE(IsError(replay_error({classify.SerializeAsString(), good}), Code::kInvalidArgument,
                      {path, "warmup record 0", "predict_log"}));
  PredictRequest wrong_dtype;
  (*wrong_dtype.mutable_inputs())["x"] = TensorToProto(Tensor::FromVector<int64_t>({1}, {1}));
  EXPECT_TRUE(IsError(replay_error({good, good, PredictRecord(wrong_dtype)}),
                      Code::kInvalidArgument, {path, "warmup record 2", "'x'"}));
  EXPECT_TRUE(IsError(replay_error(std::vector<std::string>(kMaxWarmupRecords + 1, good)),
                      Code::kInvalidArgument, {path, "warmup record 1000", "more than 1000"}));
  // The server's limits apply to warmup requests too.
  ASSERT_OK(WriteWarmup(version_dir(), {PredictRecord(XRequest({1, 2, 3}))}));
  PredictLimits limits;
  limits.max_batch_size = 2;
  EXPECT_TRUE(IsError(ReplayWarmup(*model_, limits).status(), Code::kInvalidArgument,
                      {path, "warmup record 0", "batch size 3"}));
  // A truncated file fails with the file named.
  std::string bytes = ::recship::testing::ReadBytes(path);
  WriteBytes(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_TRUE(IsAnyError(ReplayWarmup(*model_, {}).status(), {path}));
}

}  // namespace
}  // namespace recship
