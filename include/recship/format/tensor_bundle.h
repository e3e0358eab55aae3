// TensorFlow's tensor bundle (checkpoint V2): <prefix>.index, a LevelDB-format
// table of BundleEntryProto by tensor name, and the tensor bytes in
// <prefix>.data-NNNNN-of-NNNNN shards. The reader and writer are byte-for-byte
// compatible with tf.train.Saver, tf.train.Checkpoint and tf.train.load_checkpoint.
#ifndef RECSHIP_FORMAT_TENSOR_BUNDLE_H_
#define RECSHIP_FORMAT_TENSOR_BUNDLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "recship/core/file.h"
#include "recship/core/mapped_file.h"
#include "recship/format/tensor.h"

namespace recship {

// "<prefix>.index" and "<prefix>.data-00001-of-00004".
std::string BundleIndexPath(absl::string_view prefix);
std::string BundleDataPath(absl::string_view prefix, int shard, int num_shards);

// Where one tensor lives. `masked_crc32c` is as stored: crc32c::Mask of the
// crc32c of the tensor's bytes in its data shard.
struct BundleEntry {
  std::string name;
  DataType dtype = tensorflow::DT_INVALID;
  TensorShape shape;
  int shard_id = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t masked_crc32c = 0;
};

// Writes <prefix>.index listing `entries` (any order; names unique and not
// empty) over data shards that already exist, for bundles whose data files
// come from elsewhere (an export sharing a checkpoint's data by hard links).
absl::Status WriteBundleIndex(absl::string_view prefix, int num_shards,
                              const std::vector<BundleEntry>& entries);

// Writes a bundle. Tensors are added whole (Add) or streamed in pieces
// (BeginTensor, Append..., EndTensor), so memory does not grow with tensor
// size. Each tensor goes to the data shard the caller names. Finish() writes
// the index last, after the data shards are fsynced, so a bundle whose
// .index exists is complete. A writer destroyed before Finish removes the data
// files it created. After an I/O error or a wrong amount of appended data,
// every later call returns that error; a call rejected for its arguments
// (duplicate or empty name, bad shard, dtype, shape or string count) changes
// nothing.
class BundleWriter {
 public:
  struct Options {
    int num_shards = 1;
    // Each numeric tensor starts at a multiple of this many bytes (zeros
    // between), as TensorFlow's option of the same name: 1 packs densely,
    // as TensorFlow does by default; 8 lets a reader map any numeric tensor
    // and use it in place (BundleReader::Map).
    int data_alignment = 1;
  };

  static absl::StatusOr<std::unique_ptr<BundleWriter>> Create(std::string prefix, Options options);
  static absl::StatusOr<std::unique_ptr<BundleWriter>> Create(std::string prefix) {
    return Create(std::move(prefix), Options{});
  }
  ~BundleWriter();
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  // Adds a whole tensor (numeric, bool, half or string).
  absl::Status Add(absl::string_view name, const Tensor& tensor, int shard = 0);

  // Streams a numeric tensor: exactly num_elements * DataTypeSize bytes must
  // be appended before EndTensor. One tensor may be open per data shard at a
  // time, so a writer can stream into several shards at once; Append and
  // EndTensor without a shard act on the only open tensor.
  absl::Status BeginTensor(absl::string_view name, DataType dtype, TensorShape shape,
                           int shard = 0);
  absl::Status Append(absl::string_view bytes);
  absl::Status Append(int shard, absl::string_view bytes);
  absl::Status EndTensor();
  absl::Status EndTensor(int shard);

  // Writes the index. The writer cannot be used afterwards.
  absl::Status Finish();

  const std::string& prefix() const { return prefix_; }

 private:
  // A tensor being written into its shard.
  struct OpenTensor {
    BundleEntry entry;
    uint64_t expected = 0;  // Bytes it takes.
    uint32_t crc = 0;
  };

  BundleWriter(std::string prefix, Options options);
  absl::Status StartEntry(absl::string_view name, DataType dtype, TensorShape shape, int shard);
  absl::Status AppendToShard(OpenTensor& open, absl::string_view bytes);
  absl::Status AddStrings(OpenTensor& open, const Tensor& tensor);
  absl::StatusOr<OpenTensor*> OnlyOpenTensor();
  absl::Status Fail(absl::Status status);

  std::string prefix_;
  Options options_;
  std::vector<std::unique_ptr<WritableFile>> shards_;
  std::map<std::string, BundleEntry, std::less<>> entries_;
  std::map<int, OpenTensor> open_;  // By shard.
  bool finished_ = false;
  absl::Status status_;
};

class BundleReader;

// Reads one numeric tensor front to back in pieces of any size, so a table of
// any size can be streamed in bounded memory. The crc32c of the whole tensor
// is checked when its last byte is read: that Read returns DataLoss on a
// mismatch.
class TensorStream {
 public:
  const BundleEntry& entry() const { return entry_; }
  // Bytes of one row (one slice of the first dimension; the whole tensor for
  // a scalar).
  uint64_t row_bytes() const { return row_bytes_; }
  uint64_t remaining_bytes() const { return entry_.size - position_; }

  absl::Status Read(uint64_t n, char* out);
  absl::Status ReadRows(int64_t rows, void* out);

 private:
  friend class BundleReader;
  TensorStream(BundleEntry entry, const RandomAccessFile* file);

  BundleEntry entry_;
  const RandomAccessFile* file_;
  uint64_t row_bytes_;
  uint64_t position_ = 0;
  uint32_t crc_ = 0;
};

// Reads a bundle. The index is read and validated when the bundle is opened;
// data shards are opened on first use. Every whole-tensor read checks the
// entry's crc32c. Errors name the bundle file and the tensor. Safe to use from
// several threads at once.
class BundleReader {
 public:
  static absl::StatusOr<std::unique_ptr<BundleReader>> Open(std::string prefix);
  // Reads the index from `index` (used by tests and fuzzers); data shards are
  // still looked for next to `prefix`.
  static absl::StatusOr<std::unique_ptr<BundleReader>> OpenWithIndex(std::string prefix,
                                                                     const RandomAccessFile& index);

  const std::string& prefix() const { return prefix_; }
  int num_shards() const { return num_shards_; }
  // All entries, sorted by name.
  const std::vector<BundleEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const BundleEntry* Find(absl::string_view name) const;
  // NotFound naming the tensor and the bundle when absent.
  absl::StatusOr<const BundleEntry*> Lookup(absl::string_view name) const;

  absl::StatusOr<Tensor> Read(absl::string_view name) const;
  // A numeric tensor over its data file's bytes, mapped rather than copied
  // into the heap (see MappedFile), for tensors too large to hold twice. Its
  // crc32c is checked in one pass over the mapping, which also brings the
  // pages into the page cache; afterwards the range is marked for random
  // access. A tensor whose offset is not aligned for its dtype is Read.
  absl::StatusOr<Tensor> Map(absl::string_view name) const;
  // Reads every byte of a tensor in bounded memory and checks its crc32c.
  absl::Status Verify(absl::string_view name) const;
  absl::StatusOr<TensorStream> OpenStream(absl::string_view name) const;
  // Reads rows [first_row, first_row + num_rows) of a numeric tensor into
  // `out`. Random access cannot check the whole-tensor crc32c: use a
  // TensorStream or Verify when integrity matters more than access pattern.
  absl::Status ReadRows(absl::string_view name, int64_t first_row, int64_t num_rows,
                        void* out) const;

 private:
  explicit BundleReader(std::string prefix) : prefix_(std::move(prefix)) {}
  absl::Status LoadIndex(const RandomAccessFile& index);
  absl::StatusOr<const RandomAccessFile*> DataFile(const BundleEntry& entry) const;
  absl::StatusOr<std::shared_ptr<const MappedFile>> MappedDataFile(const BundleEntry& entry) const;
  absl::StatusOr<const BundleEntry*> LookupNumeric(absl::string_view name) const;

  std::string prefix_;
  int num_shards_ = 0;
  std::vector<BundleEntry> entries_;
  mutable absl::Mutex mu_;
  mutable std::vector<std::unique_ptr<RandomAccessFile>> shards_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<std::shared_ptr<const MappedFile>> mapped_shards_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_FORMAT_TENSOR_BUNDLE_H_
