// A small hand-written model for export tests: a dense-matrix embedding of
// "word" (10 x 3, words/embeddings), a hash-table embedding of "user" (table
// "users", dim 3, 2 shards), concatenated into a sigmoid dense layer "out"
// (out/kernel [6, 1], out/bias [1]) predicting "score". Inputs: "word" and
// "user", int64 [-1].
#ifndef RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_
#define RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recship/core/status_macros.h"
#include "recship/graph/ops.h"
#include "recship/model/estimator.h"
#include "recship/model/layers.h"

namespace recship::testing {

inline absl::StatusOr<model::EstimatorSpec> WordUserModel(const model::Features& features,
                                                          model::Mode, const model::RunConfig&) {
  namespace ops = graph::ops;
  const graph::Scope& s = features.scope();
  ASSIGN_OR_RETURN(model::Feature word, features.Get("word"));
  ASSIGN_OR_RETURN(model::Feature user, features.Get("user"));
  graph::Output a = model::Embedding(s, word.dense, 10, 3, "words");
  graph::Output b = model::HashEmbeddingLookup(s, {"users", 3, 2}, user.dense);
  graph::Output x =
      ops::ConcatV2(s, std::vector<graph::Output>{a, b}, ops::ScalarConst(s, int32_t{1}, "axis"));
  model::EstimatorSpec spec;
  spec.predictions["score"] = model::Dense(s, x, 1, model::Activation::kSigmoid, "out");
  return spec;
}

inline absl::StatusOr<model::ServingInputReceiver> WordUserInputs(const graph::Scope& s) {
  model::ServingInputReceiver receiver{model::Features(s), {}};
  for (const char* name : {"word", "user"}) {
    graph::Output ids =
        graph::ops::Placeholder(s, tensorflow::DT_INT64, graph::PartialShape::Of({-1}), name);
    receiver.features.Set(name, {ids, {}, {}, {}});
    receiver.receiver_tensors[name] = ids;
  }
  return receiver;
}

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_WORD_USER_MODEL_H_
