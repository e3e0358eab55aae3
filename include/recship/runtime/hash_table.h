// An embedding hash table: integer ids to fixed-size rows, the resource
// behind MutableHashTableOfTensorsV2 and MutableDenseHashTableV2.
//
// Open addressing with linear probing over 16-byte slots {key, row}; the rows
// themselves live contiguously in one buffer in insertion order, so a lookup
// is one probe sequence plus one memcpy. Find takes a reader lock and runs in
// parallel with other Finds; Insert and Import take the writer lock.
#ifndef RECSHIP_RUNTIME_HASH_TABLE_H_
#define RECSHIP_RUNTIME_HASH_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "recship/runtime/kernel.h"
#include "recship/runtime/memory_budget.h"

namespace recship::runtime {

class HashTable : public Resource {
 public:
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

  std::string DebugName() const override;
  DataType key_dtype() const { return options_.key_dtype; }
  DataType value_dtype() const { return options_.value_dtype; }

  // Rows for `keys` (any shape), `default_value` (one row) for missing ids.
  // The output has shape keys.shape + value_shape and is charged to
  // `memory` when given.
  absl::StatusOr<Tensor> Find(const Tensor& keys, const Tensor& default_value,
                              const Eigen::ThreadPoolDevice* device,
                              MemoryBudget* memory = nullptr) const;
  // Inserts or overwrites rows: values has shape keys.shape + value_shape.
  absl::Status Insert(const Tensor& keys, const Tensor& values);
  // Replaces the whole contents.
  absl::Status Import(const Tensor& keys, const Tensor& values);

  int64_t size() const;
  // Bytes held by slots and rows.
  size_t MemoryBytes() const;

 private:
  struct Slot {
    int64_t key;
    int64_t row;  // -1 when the slot is empty.
  };

  explicit HashTable(Options options, size_t row_bytes)
      : options_(std::move(options)), row_bytes_(row_bytes) {}
  absl::Status CheckKeysAndValues(const Tensor& keys, const Tensor& values) const;
  void Reserve(int64_t rows) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InsertRows(const Tensor& keys, const Tensor& values) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The row of `key`, or -1.
  int64_t FindRow(int64_t key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Options options_;
  const size_t row_bytes_;
  mutable absl::Mutex mu_;
  // Rows one after another. It grows with realloc, which moves a large
  // block by remapping its pages (mremap) rather than copying and touching
  // them again, so restoring a table shard by shard costs no copies.
  class RowBuffer {
   public:
    RowBuffer() = default;
    RowBuffer(const RowBuffer&) = delete;
    RowBuffer& operator=(const RowBuffer&) = delete;
    ~RowBuffer() { std::free(data_); }
    std::byte* data() { return data_; }
    const std::byte* data() const { return data_; }
    size_t capacity() const { return capacity_; }
    // Capacity for `bytes` in all; throws std::bad_alloc when out of memory.
    void Reserve(size_t bytes);
    void Append(const std::byte* src, size_t bytes);
    // Frees the memory.
    void Clear();

   private:
    std::byte* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
  };

  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);  // Size 0 or a power of two.
  RowBuffer rows_ ABSL_GUARDED_BY(mu_);
  int64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace recship::runtime

#endif  // RECSHIP_RUNTIME_HASH_TABLE_H_
