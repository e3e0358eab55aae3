#include "word_user_model.h"

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/core/status_macros.h"
#include "recship/graph/graph.h"
#include "recship/graph/ops.h"
#include "recship/model/checkpoint.h"
#include "recship/model/estimator.h"
#include "recship/model/layers.h"

namespace recship::testing {

absl::StatusOr<EstimatorSpec> WordUserModel(const Features& features, Mode, const RunConfig&) {
  const Scope& s = features.scope();
  RECSHIP_ASSIGN_OR_RETURN(Feature word, features.Get("word"));
  RECSHIP_ASSIGN_OR_RETURN(Feature user, features.Get("user"));
  Output a = Embedding(s, word.dense, 10, 3, "words");
  Output b = HashEmbeddingLookup(s, {"users", 3, 2}, user.dense);
  Output x = ops::ConcatV2(s, std::vector<Output>{a, b}, ops::ScalarConst(s, int32_t{1}, "axis"));
  EstimatorSpec spec;
  spec.predictions["score"] = Dense(s, x, 1, Activation::kSigmoid, "out");
  return spec;
}

absl::StatusOr<ServingInputReceiver> WordUserInputs(const Scope& s) {
  ServingInputReceiver receiver{Features(s), {}};
  for (const char* name : {"word", "user"}) {
    Output ids = ops::Placeholder(s, tensorflow::DT_INT64, PartialShape::Of({-1}), name);
    receiver.features.Set(name, {ids, {}, {}, {}});
    receiver.receiver_tensors[name] = ids;
  }
  return receiver;
}

CheckpointWriter::TableShard WordUserShard(std::vector<int64_t> keys, int64_t dim) {
  int64_t n = static_cast<int64_t>(keys.size());
  std::vector<float> values(static_cast<size_t>(n * dim));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  CheckpointWriter::TableShard shard{Tensor::FromVector<int64_t>({n}, keys),
                                     Tensor::FromVector<float>({n, dim}, values)};
  shard.slots["adagrad"] = Tensor::Create(tensorflow::DT_FLOAT, {n, dim}).value();
  shard.freqs = Tensor::Create(tensorflow::DT_INT64, {n}).value();
  return shard;
}

absl::Status WriteWordUserCheckpoint(const std::string& dir, int64_t out_rows) {
  RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(dir, 5));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("words/embeddings", Tensor::Create(tensorflow::DT_FLOAT, {10, 3}).value()));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("out/kernel", Tensor::Create(tensorflow::DT_FLOAT, {out_rows, 1}).value()));
  RECSHIP_RETURN_IF_ERROR(
      writer->AddDense("out/bias", Tensor::Create(tensorflow::DT_FLOAT, {1}).value()));
  RECSHIP_RETURN_IF_ERROR(writer->AddTableShard("users", 0, WordUserShard({0, 2, -4}, 3)));
  RECSHIP_RETURN_IF_ERROR(writer->AddTableShard("users", 1, WordUserShard({1, -1}, 3)));
  return writer->Finish().status();
}

}  // namespace recship::testing
