// A hash embedding table's resource and its lookup, in the encoding an export
// stores its rows in (format/embedding_dtype.h). Every graph that holds a
// table builds it here: the standalone model, and ps_<i> of a distributed one.
#ifndef RECSHIP_MODEL_HASH_TABLE_ROWS_H_
#define RECSHIP_MODEL_HASH_TABLE_ROWS_H_

#include "recship/format/embedding_dtype.h"
#include "recship/graph/graph.h"
#include "recship/model/layers.h"

namespace recship {

// The resource of `table` in the scope's graph, created once per graph under
// <table>/MutableHashTable (found again by its shared_name, the table name):
// a MutableHashTableOfTensorsV2 of int64 ids to rows as `dtype` stores them
// (float [dim], or int32 [StoredRowWidth] when compressed).
Output HashTableHandle(const Scope& s, const HashTableSpec& table, EmbeddingDtype dtype);

// The float rows of `ids` (int64, any shape S) as float [S..., dim]; unseen
// ids give zeros. Compressed rows are decoded with stock ops right after the
// lookup, so only the rows looked up are ever float.
Output FindEmbeddingRows(const Scope& s, const Output& handle, const HashTableSpec& table,
                         EmbeddingDtype dtype, const Output& ids);

// The rows a table of `dtype` stores, as inserted by LookupTableInsertV2:
// float [N, dim], or int32 [N, StoredRowWidth] when compressed.
DataType StoredRowType(EmbeddingDtype dtype);
PartialShape StoredRowsShape(const HashTableSpec& table, EmbeddingDtype dtype);

}  // namespace recship

#endif  // RECSHIP_MODEL_HASH_TABLE_ROWS_H_
