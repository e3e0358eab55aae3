// Folds the decoding of compressed embedding rows into the lookup (private
// to runtime/). An export that compresses its tables (format/embedding_dtype.h)
// decodes each lookup's rows with a chain of stock ops, so that stock
// TensorFlow serves it; recship runs the chain as one LookupTableFindV2 that
// decodes the rows it finds, which saves a kernel call and a copy of the rows
// per op of the chain.
#ifndef RECSHIP_SRC_RUNTIME_EMBEDDING_DECODE_FUSION_H_
#define RECSHIP_SRC_RUNTIME_EMBEDDING_DECODE_FUSION_H_

#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship {

// The attr of a LookupTableFindV2 that decodes the int32 words it finds as
// this embedding dtype ("float16", "bfloat16", "int8") into float rows of
// its default value's size.
inline constexpr char kDecodeAttr[] = "_recship_embedding_dtype";

// Rewrites, in place, the last node of each decode chain that follows a
// lookup of rank-1 ids exactly as recship writes it (the constants checked)
// into such a lookup, under the same name; its consumers are unchanged and
// the chain's other nodes are left unused. Other graphs are left alone.
// Returns the number of chains fused.
int FuseEmbeddingDecodes(tensorflow::GraphDef& graph);

}  // namespace recship

#endif  // RECSHIP_SRC_RUNTIME_EMBEDDING_DECODE_FUSION_H_
