// format/warmup.h: ReadWarmupSummary counts the PredictionLog records of a
// TensorFlow Serving warmup file by kind, and refuses (DataLoss naming the
// file) a record that is not a PredictionLog or whose framing is corrupt.
#include "recship/format/warmup.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "recship/format/tensor_proto.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;
using testing::WriteRecords;

std::string PredictRecord() {
  tensorflow::serving::PredictionLog log;
  tensorflow::serving::PredictRequest* request = log.mutable_predict_log()->mutable_request();
  request->mutable_model_spec()->set_name("model");
  request->mutable_model_spec()->set_signature_name("serving_default");
  (*request->mutable_inputs())["ids"] = TensorToProto(Tensor::FromVector<int64_t>({2}, {1, 2}));
  return log.SerializeAsString();
}

TEST(WarmupTest, CountsRecordsByKind) {
  TempDir dir;
  const std::string path = dir.Join("tf_serving_warmup_requests");
  tensorflow::serving::PredictionLog classify;
  classify.mutable_classify_log();
  ASSERT_OK(WriteRecords(
      path, {PredictRecord(), PredictRecord(), classify.SerializeAsString(), PredictRecord(), ""}));
  ASSERT_OK_AND_ASSIGN(WarmupSummary summary, ReadWarmupSummary(path));
  EXPECT_EQ(summary.records, 5);
  const std::map<std::string, int> expected = {{"predict", 3}, {"classify", 1}, {"empty", 1}};
  EXPECT_EQ(summary.kinds, expected);

  ASSERT_OK(WriteRecords(dir.Join("empty"), {}));
  ASSERT_OK_AND_ASSIGN(WarmupSummary none, ReadWarmupSummary(dir.Join("empty")));
  EXPECT_EQ(none.records, 0);
  EXPECT_TRUE(none.kinds.empty());
}

TEST(WarmupTest, RecordThatIsNotAPredictionLog) {
  TempDir dir;
  const std::string path = dir.Join("warmup");
  ASSERT_OK(WriteRecords(path, {PredictRecord(), std::string("\xff\xff\xff\xff", 4)}));
  EXPECT_TRUE(IsError(ReadWarmupSummary(path).status(), absl::StatusCode::kDataLoss,
                      {path, "record 1", "PredictionLog"}));
}

TEST(WarmupTest, CorruptFramingAndMissingFile) {
  TempDir dir;
  const std::string path = dir.Join("warmup");
  ASSERT_OK(WriteRecords(path, {PredictRecord(), PredictRecord()}));
  std::string bytes = ReadBytes(path);
  bytes[bytes.size() - 10] = static_cast<char>(bytes[bytes.size() - 10] ^ 0x40);
  WriteBytes(path, bytes);
  EXPECT_TRUE(IsError(ReadWarmupSummary(path).status(), absl::StatusCode::kDataLoss, {path}));
  WriteBytes(path, bytes.substr(0, bytes.size() / 2 + 5));  // Mid-record.
  EXPECT_TRUE(IsError(ReadWarmupSummary(path).status(), absl::StatusCode::kDataLoss, {path}));
  EXPECT_TRUE(IsError(ReadWarmupSummary(dir.Join("missing")).status(), absl::StatusCode::kNotFound,
                      {dir.Join("missing")}));
}

}  // namespace
}  // namespace recship
