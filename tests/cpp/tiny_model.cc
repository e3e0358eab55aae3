#include "tiny_model.h"

#include <filesystem>

#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"
#include "recship/format/warmup.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"
#include "saved_model_builder.h"
#include "test_util.h"

namespace recship::testing {

using ::recship::tensorflow::DT_FLOAT;
using ::recship::tensorflow::DT_INT64;

tensorflow::MetaGraphDef TinyMeta(float offset) {
  GraphBuilder g;
  g.Placeholder("x", DT_FLOAT);
  g.Op("y", "AddV2", {"x", g.Const("offset", Tensor::FromVector<float>({}, {offset}))}, DT_FLOAT);
  g.Placeholder("bag_indices", DT_INT64);
  g.Placeholder("bag_values", DT_INT64);
  g.Placeholder("bag_dense_shape", DT_INT64);
  g.Placeholder("dense", DT_FLOAT);
  g.Op("values_out", "Identity", {"bag_values"}, DT_INT64);
  g.Op("dense_out", "Identity", {"dense"}, DT_FLOAT);
  tensorflow::MetaGraphDef meta = MetaGraph({kServeTag}, g);
  (*meta.mutable_signature_def())[kDefaultServingSignatureKey] =
      Signature({{"x", Info("x:0", DT_FLOAT, {-1})}}, {{"y", Info("y:0", DT_FLOAT, {-1})}});
  (*meta.mutable_signature_def())["bags"] =
      Signature({{"bag_indices", Info("bag_indices:0", DT_INT64, {-1, 2})},
                 {"bag_values", Info("bag_values:0", DT_INT64, {-1})},
                 {"bag_dense_shape", Info("bag_dense_shape:0", DT_INT64, {2})},
                 {"dense", Info("dense:0", DT_FLOAT, {-1})}},
                {{"values", Info("values_out:0", DT_INT64, {-1})},
                 {"dense", Info("dense_out:0", DT_FLOAT, {-1})}});
  return meta;
}

absl::StatusOr<std::string> WriteTinyVersion(const std::string& base, int64_t version) {
  return WriteVersion(base, version, TinyMeta(static_cast<float>(version)));
}

std::vector<float> Floats(const Tensor& t) {
  if (t.dtype() != DT_FLOAT) return {};
  return std::vector<float>(t.flat<float>().begin(), t.flat<float>().end());
}

Tensor FloatVector(const std::vector<float>& values) {
  return Tensor::FromVector<float>({static_cast<int64_t>(values.size())}, values);
}

tensorflow::serving::PredictRequest XRequest(const std::vector<float>& x) {
  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_name("m");
  (*request.mutable_inputs())["x"] = TensorToProto(FloatVector(x));
  return request;
}

tensorflow::serving::PredictRequest BagRequest(int64_t rows, int64_t entries, int64_t dense_rows) {
  tensorflow::serving::PredictRequest request;
  request.mutable_model_spec()->set_signature_name("bags");
  std::vector<int64_t> indices, values;
  for (int64_t i = 0; i < entries; ++i) {
    indices.push_back(i % rows);
    indices.push_back(i / rows);
    values.push_back(100 + i);
  }
  auto& inputs = *request.mutable_inputs();
  inputs["bag_indices"] = TensorToProto(Tensor::FromVector<int64_t>({entries, 2}, indices));
  inputs["bag_values"] = TensorToProto(Tensor::FromVector<int64_t>({entries}, values));
  inputs["bag_dense_shape"] =
      TensorToProto(Tensor::FromVector<int64_t>({2}, {rows, (entries + rows - 1) / rows}));
  inputs["dense"] =
      TensorToProto(FloatVector(std::vector<float>(static_cast<size_t>(dense_rows), 1.0f)));
  return request;
}

std::string WarmupPath(const std::string& version_dir) {
  return version_dir + "/" + kExtraAssetsDirectory + "/" + kWarmupFilename;
}

absl::Status WriteWarmup(const std::string& version_dir, const std::vector<std::string>& records) {
  std::filesystem::create_directories(version_dir + "/" + kExtraAssetsDirectory);
  return WriteRecords(WarmupPath(version_dir), records);
}

std::string PredictRecord(const tensorflow::serving::PredictRequest& request) {
  tensorflow::serving::PredictionLog log;
  *log.mutable_predict_log()->mutable_request() = request;
  return log.SerializeAsString();
}

}  // namespace recship::testing
