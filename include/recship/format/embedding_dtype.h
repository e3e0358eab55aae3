// How an export stores embedding rows: float32 as trained, or compressed to
// float16, bfloat16 or int8 (ExportOptions::embedding_dtype).
//
// TensorFlow's MutableHashTableOfTensors holds int32 but not 16-bit or 8-bit
// values, so a compressed table stores each row packed into int32 words,
// little-endian, and the serving graph unpacks it with stock ops (Bitcast,
// GatherV2, Cast, Mul) right after the lookup:
//   float16, bfloat16: ceil(dim / 2) words, element 2k in the low half of
//                      word k; an odd dim ends in a zero pad.
//   int8:              1 + ceil(dim / 4) words: word 0 is the row's float32
//                      scale, then the elements, four to a word, element 4k
//                      in the lowest byte of word 1 + k; value = q * scale
//                      with scale = max |x| / 127 (symmetric, per row).
// An all-zero row decodes to zeros in every encoding, so the zero default of
// an unseen id stays zeros.
#ifndef RECSHIP_FORMAT_EMBEDDING_DTYPE_H_
#define RECSHIP_FORMAT_EMBEDDING_DTYPE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship {

enum class EmbeddingDtype { kFloat32, kFloat16, kBFloat16, kInt8 };

// "float32", "float16", "bfloat16", "int8".
absl::string_view EmbeddingDtypeName(EmbeddingDtype dtype);
// Parses those names; anything else is an error listing them.
absl::StatusOr<EmbeddingDtype> ParseEmbeddingDtype(absl::string_view name);

// Elements per row as stored: `dim` floats for float32, else int32 words.
int64_t StoredRowWidth(EmbeddingDtype dtype, int64_t dim);

// Encodes `rows` rows of `dim` floats into `rows` rows of
// StoredRowWidth(dtype, dim) int32 words (not for float32). Rounds to
// nearest even for float16 and bfloat16, to nearest for int8.
void EncodeRows(EmbeddingDtype dtype, const float* in, int64_t rows, int64_t dim, int32_t* out);
// The inverse, exactly as the serving graph computes it.
void DecodeRows(EmbeddingDtype dtype, const int32_t* in, int64_t rows, int64_t dim, float* out);

// The compressed tables of a serving graph, by shared_name, with their
// encoding, recognised by the Bitcast that follows each table's lookup.
std::map<std::string, EmbeddingDtype> CompressedTables(const tensorflow::GraphDef& graph);

}  // namespace recship

#endif  // RECSHIP_FORMAT_EMBEDDING_DTYPE_H_
