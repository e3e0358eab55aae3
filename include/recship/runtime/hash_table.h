// An embedding hash table: integer ids to fixed-size rows, the resource
// behind MutableHashTableOfTensorsV2 and MutableDenseHashTableV2.
//
// Rows live in segments: the table's own heap buffer, for rows inserted a
// few at a time, and the buffers of large view tensors (a checkpoint's
// values mapped from its file, see BundleReader::Map), which are kept as
// they are and never copied or written. Overwriting a row that lives in a
// view puts the new row in the table's own buffer, so the view's file stays
// untouched. Only the index (key to row, see RowIndex) and the table's own
// rows take heap memory.
//
// Views are indexed in one pass, sized for all of them, when the table is
// first read after they were added (or by BuildIndex, which a model load
// calls so that no request pays for it), unless an index file saved with
// them is adopted instead (UseIndexFile); that index is mapped from its file
// and never written: keys inserted or erased later go to a small overlay
// (LayeredIndex), so a live update costs memory for the keys it changes
// only. Find takes a reader lock and runs in parallel with other Finds;
// Insert, Erase and Import take the writer lock.
#ifndef RECSHIP_RUNTIME_HASH_TABLE_H_
#define RECSHIP_RUNTIME_HASH_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "recship/format/row_index.h"
#include "recship/format/table_index_file.h"
#include "recship/runtime/kernel.h"
#include "recship/runtime/layered_index.h"
#include "recship/runtime/memory_budget.h"

namespace recship {

class HashTable : public Resource {
 public:
  // Rows ApplyUpdate changes per hold of the writer lock.
  static constexpr int64_t kRowsPerLock = 64;

  struct Options {
    std::string name;
    DataType key_dtype = tensorflow::DT_INT64;  // DT_INT64 or DT_INT32.
    DataType value_dtype = tensorflow::DT_FLOAT;
    TensorShape value_shape;  // The shape of one row.
    // Keys a dense hash table reserves; inserting them is an error.
    std::optional<int64_t> empty_key;
    std::optional<int64_t> deleted_key;
  };

  // Unimplemented for key or value dtypes the table cannot hold.
  static absl::StatusOr<std::shared_ptr<HashTable>> Create(Options options);
  ~HashTable() override;

  std::string DebugName() const override;
  // The table's shared name.
  const std::string& name() const { return options_.name; }
  DataType key_dtype() const { return options_.key_dtype; }
  DataType value_dtype() const { return options_.value_dtype; }
  const TensorShape& value_shape() const { return options_.value_shape; }

  // Rows for `keys` (any shape), `default_value` (one row) for missing ids.
  // The output has shape keys.shape + value_shape and is charged to
  // `memory` when given.
  absl::StatusOr<Tensor> Find(const Tensor& keys, const Tensor& default_value,
                              const Eigen::ThreadPoolDevice* device,
                              MemoryBudget* memory = nullptr) const;
  // Inserts or overwrites rows: values has shape keys.shape + value_shape.
  // Values that are a view (Tensor::is_view) are kept in place; others are
  // copied. A lookup sees all of an Insert or none of it; growing the index
  // for it happens before, beside lookups.
  absl::Status Insert(const Tensor& keys, const Tensor& values);
  // Removes the rows of `keys` (any shape; absent keys are skipped) and
  // returns how many there were. Their bytes stay in the table's own
  // buffer until the table is imported again.
  absl::StatusOr<int64_t> Erase(const Tensor& keys);
  // A live update: Insert(keys, values) then Erase(*deleted) when given,
  // kRowsPerLock rows per hold of the writer lock, so that lookups wait at
  // most for that many (a lookup may see part of the update, never part of
  // a row). Returns how many deleted keys were present.
  absl::StatusOr<int64_t> ApplyUpdate(const Tensor& keys, const Tensor& values,
                                      const Tensor* deleted = nullptr);
  // Replaces the whole contents, as Insert into an empty table.
  absl::Status Import(const Tensor& keys, const Tensor& values);
  // Every key and its row (LookupTableExportV2), in no particular order.
  absl::StatusOr<std::pair<Tensor, Tensor>> Export() const;
  // Indexes the views added since the last read now rather than on it.
  void BuildIndex() const;
  // Adopts `file` as the index of the views added so far, when they are all
  // the table holds and their row counts and keys' checksums are the ones
  // it was written for; else FailedPrecondition saying why, changing
  // nothing.
  absl::Status UseIndexFile(TableIndexFile& file);

  int64_t size() const;
  // Heap bytes: the index and the table's own rows.
  size_t MemoryBytes() const;
  // Bytes of rows held in views (mapped files: page cache, not heap).
  size_t ViewBytes() const;

 private:
  // The table's own rows, one after another. It grows with realloc, which
  // moves a large block by remapping its pages (mremap) rather than copying.
  class RowBuffer {
   public:
    RowBuffer() = default;
    RowBuffer(const RowBuffer&) = delete;
    RowBuffer& operator=(const RowBuffer&) = delete;
    ~RowBuffer();
    std::byte* data() { return data_; }
    const std::byte* data() const { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    // Appends one row; throws std::bad_alloc when out of memory.
    void Append(const std::byte* src, size_t bytes);
    void Clear();

   private:
    std::byte* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
  };
  HashTable(Options options, size_t row_bytes);
  absl::Status CheckKeysAndValues(const Tensor& keys, const Tensor& values) const;
  // Keeps a view as a segment, copies anything else.
  void AddRows(const Tensor& keys, const Tensor& values) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddView(const Tensor& keys, const Tensor& values) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies rows [begin, end); the index must have room for their keys.
  void CopyRows(const Tensor& keys, const Tensor& values, int64_t begin, int64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckKeys(const Tensor& keys) const;
  // Calls change(begin, end) for the keys in batches of `rows_per_lock`,
  // each under the writer lock, after growing the index for the batch
  // beside lookups (under a reader lock).
  template <typename F>
  void InBatches(const Tensor& keys, int64_t rows_per_lock, F&& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  int64_t EraseInBatches(const Tensor& keys, int64_t rows_per_lock)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  void IndexPending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The row a reference points at.
  const std::byte* Row(int64_t ref) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Options options_;
  const size_t row_bytes_;
  mutable absl::Mutex mu_;
  // Taken by Insert, Erase and Import before mu_, so that one changes the
  // table at a time and can prepare work under a reader lock of mu_.
  absl::Mutex writer_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Built lazily (see the top comment), hence mutable.
  mutable LayeredIndex index_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<RowIndex::KeyRun> pending_ ABSL_GUARDED_BY(mu_);  // Views to index.
  mutable std::atomic<bool> has_pending_{false};
  RowBuffer own_rows_ ABSL_GUARDED_BY(mu_);
  std::vector<Tensor> views_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_HASH_TABLE_H_
