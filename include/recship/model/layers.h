// Layers for recommendation models, built into a Scope: variables,
// dense layers, embeddings from a dense matrix, and sharded hash embedding
// tables with bag pooling. Variable and table names follow the checkpoint
// contract (DESIGN.md, contract 1): a variable is restored from the checkpoint
// tensor of its full name, a table <t> from <t>/shard_<i>-keys and -values.
#ifndef RECSHIP_MODEL_LAYERS_H_
#define RECSHIP_MODEL_LAYERS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "recship/graph/graph.h"
#include "recship/model/estimator.h"

namespace recship {

enum class Activation { kNone, kRelu, kSigmoid, kTanh, kSoftmax };
enum class Combiner { kSum, kMean, kSqrtN };

absl::StatusOr<Activation> ParseActivation(absl::string_view name);
absl::StatusOr<Combiner> ParseCombiner(absl::string_view name);

// x through the activation (kNone returns x itself).
Output Activate(const Scope& s, const Output& x, Activation activation);

// A resource variable <scope>/<name> (VarHandleOp whose shared_name is the
// full name, as TensorFlow 1 exports name them) and its value.
Output Variable(const Scope& s, absl::string_view name, DataType dtype, const TensorShape& shape);

// activation(x · kernel + bias), with variables <scope>/<name>/kernel [in, units]
// and <scope>/<name>/bias [units], as tf.compat.v1.layers.dense names them.
Output Dense(const Scope& s, const Output& x, int64_t units, Activation activation,
             absl::string_view name);

// Rows of the float matrix variable <scope>/<name>/embeddings [vocab, dim].
// Ids outside [0, vocab) are an error at run time, as in TensorFlow.
Output Embedding(const Scope& s, const Output& ids, int64_t vocab, int64_t dim,
                 absl::string_view name);

// An embedding table keyed by int64 id, trained on `num_shards` parameter
// servers (id x on shard floor_mod(x, num_shards)). Unseen ids give zeros.
struct HashTableSpec {
  std::string name;
  int64_t dim = 0;
  int num_shards = 1;
};

// Vectors of `ids` (int64, any shape S) as float [S..., dim].
Output HashEmbeddingLookup(const Scope& s, const HashTableSpec& table, const Output& ids);

// One pooled vector per row of a feature: a single-valued feature gives its
// id's vector; a multi-valued (sparse) one pools its bag with `combiner`, and
// an empty bag gives zeros. Result: float [batch, dim].
Output HashEmbeddingBag(const Scope& s, const HashTableSpec& table, const Feature& feature,
                        Combiner combiner);

}  // namespace recship

#endif  // RECSHIP_MODEL_LAYERS_H_
