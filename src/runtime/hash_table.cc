#include "recship/runtime/hash_table.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#define EIGEN_USE_THREADS
#include "recship/core/status_macros.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace recship {
namespace {

constexpr int64_t Ref(int64_t segment, int64_t row) { return TableRowRef(segment, row); }
constexpr int kSegmentShift = kTableRefSegmentShift;
constexpr int64_t kRowMask = kTableRefRowMask;

// Loops over many keys prefetch the slot of the key this many places ahead:
// a big table's slots are cache misses, and this keeps several in flight.
constexpr int64_t kPrefetchDistance = 16;

inline int64_t KeyAt(const Tensor& keys, int64_t i) {
  return keys.dtype() == tensorflow::DT_INT32 ? keys.flat<int32_t>()[i] : keys.flat<int64_t>()[i];
}

}  // namespace

HashTable::RowBuffer::~RowBuffer() { std::free(data_); }

void HashTable::RowBuffer::Append(const std::byte* src, size_t bytes) {
  if (size_ + bytes > capacity_) {
    size_t grown = std::max(size_ + bytes, capacity_ * 2);
    void* p = std::realloc(data_, grown);
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<std::byte*>(p);
    capacity_ = grown;
  }
  if (bytes > 0) std::memcpy(data_ + size_, src, bytes);
  size_ += bytes;
}

void HashTable::RowBuffer::Clear() {
  std::free(data_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

HashTable::HashTable(Options options, size_t row_bytes)
    : options_(std::move(options)), row_bytes_(row_bytes) {}

HashTable::~HashTable() = default;

absl::StatusOr<std::shared_ptr<HashTable>> HashTable::Create(Options options) {
  if (options.key_dtype != tensorflow::DT_INT64 && options.key_dtype != tensorflow::DT_INT32) {
    return absl::UnimplementedError(absl::StrCat("hash table '", options.name, "': key dtype ",
                                                 DataTypeName(options.key_dtype),
                                                 " is not supported (int32 or int64 only)"));
  }
  size_t element = DataTypeSize(options.value_dtype);
  if (element == 0) {
    return absl::UnimplementedError(absl::StrCat("hash table '", options.name, "': value dtype ",
                                                 DataTypeName(options.value_dtype),
                                                 " is not supported (fixed-size types only)"));
  }
  RECSHIP_ASSIGN_OR_RETURN(int64_t row_elements, NumElements(options.value_shape));
  size_t row_bytes = static_cast<size_t>(row_elements) * element;
  return std::shared_ptr<HashTable>(new HashTable(std::move(options), row_bytes));
}

std::string HashTable::DebugName() const {
  return absl::StrCat("hash table '", options_.name, "'");
}

void HashTable::BuildIndex() const {
  if (!has_pending_.load(std::memory_order_acquire)) return;
  absl::MutexLock lock(&mu_);
  IndexPending();
}

void HashTable::IndexPending() const {
  if (pending_.empty()) return;
  index_.PutAll(pending_);
  pending_.clear();
  has_pending_.store(false, std::memory_order_release);
}

absl::Status HashTable::UseIndexFile(TableIndexFile& file) {
  absl::MutexLock lock(&mu_);
  auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(file.path(), " is not the index of ", DebugName(), ": ", why));
  };
  if (index_.size() > 0 || own_rows_.size() > 0) return refuse("the table has other rows");
  std::vector<Tensor> view_keys;
  for (const RowIndex::KeyRun& run : pending_) view_keys.push_back(run.keys);
  if (absl::Status indexes = file.CheckIndexes(view_keys); !indexes.ok()) {
    return refuse(indexes.message());
  }
  // Mapped copy-on-write: live updates go to the overlay, not into its pages.
  index_.Reset(file.TakeIndex(), /*writable=*/false);
  pending_.clear();
  has_pending_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

const std::byte* HashTable::Row(int64_t ref) const {
  int64_t segment = ref >> kSegmentShift;
  const std::byte* base =
      segment == 0 ? own_rows_.data() : views_[static_cast<size_t>(segment - 1)].data();
  return base + (ref & kRowMask) * static_cast<int64_t>(row_bytes_);
}

int64_t HashTable::size() const {
  BuildIndex();
  absl::ReaderMutexLock lock(&mu_);
  return index_.size();
}

size_t HashTable::MemoryBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  return index_.MemoryBytes() + own_rows_.capacity();
}

size_t HashTable::ViewBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  size_t bytes = 0;
  for (const Tensor& view : views_) bytes += view.byte_size();
  return bytes;
}

absl::StatusOr<Tensor> HashTable::Find(const Tensor& keys, const Tensor& default_value,
                                       const Eigen::ThreadPoolDevice* device,
                                       MemoryBudget* memory) const {
  if (keys.dtype() != options_.key_dtype) {
    return absl::InvalidArgumentError(absl::StrCat(DebugName(), " has ",
                                                   DataTypeName(options_.key_dtype), " keys, not ",
                                                   DataTypeName(keys.dtype())));
  }
  if (default_value.dtype() != options_.value_dtype || default_value.byte_size() != row_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat(
        DebugName(), ": the default value must be one ", DataTypeName(options_.value_dtype),
        " row of shape ", ShapeToString(options_.value_shape), ", not ",
        DataTypeName(default_value.dtype()), " ", ShapeToString(default_value.shape())));
  }
  TensorShape shape = keys.shape();
  shape.insert(shape.end(), options_.value_shape.begin(), options_.value_shape.end());
  RECSHIP_ASSIGN_OR_RETURN(
      Tensor out, memory != nullptr ? memory->Allocate(options_.value_dtype, std::move(shape))
                                    : Tensor::Create(options_.value_dtype, std::move(shape)));
  BuildIndex();
  std::byte* dst = out.data();
  const std::byte* fallback = default_value.data();
  absl::ReaderMutexLock lock(&mu_);
  // Block by block: find the rows first, prefetching slots ahead and each
  // row once found, then copy them, so the cache misses of a block overlap.
  auto lookup = [&](int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 64;
    const std::byte* rows[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
      int64_t n = std::min(kBlock, end - b);
      for (int64_t j = 0; j < n; ++j) {
        if (b + j + kPrefetchDistance < end)
          index_.Prefetch(KeyAt(keys, b + j + kPrefetchDistance));
        int64_t ref = index_.Find(KeyAt(keys, b + j));
        rows[j] = ref == RowIndex::kNone ? fallback : Row(ref);
        if (row_bytes_ > 0) {
          __builtin_prefetch(rows[j]);
          __builtin_prefetch(rows[j] + row_bytes_ - 1);
        }
      }
      for (int64_t j = 0; j < n; ++j) std::memcpy(dst + (b + j) * row_bytes_, rows[j], row_bytes_);
    }
  };
  if (device == nullptr) {
    lookup(0, keys.num_elements());
  } else {
    // A lookup costs about one cache miss for the slot and one per row line.
    Eigen::TensorOpCost cost(static_cast<double>(row_bytes_ + 16), static_cast<double>(row_bytes_),
                             100);
    device->parallelFor(keys.num_elements(), cost, lookup);
  }
  return out;
}

absl::Status HashTable::CheckKeysAndValues(const Tensor& keys, const Tensor& values) const {
  if (keys.dtype() != options_.key_dtype || values.dtype() != options_.value_dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat(DebugName(), " maps ", DataTypeName(options_.key_dtype), " to ",
                     DataTypeName(options_.value_dtype), ", not ", DataTypeName(keys.dtype()),
                     " to ", DataTypeName(values.dtype())));
  }
  TensorShape expected = keys.shape();
  expected.insert(expected.end(), options_.value_shape.begin(), options_.value_shape.end());
  if (values.shape() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        DebugName(), ": values for keys of shape ", ShapeToString(keys.shape()),
        " must have shape ", ShapeToString(expected), ", not ", ShapeToString(values.shape())));
  }
  if (!options_.empty_key && !options_.deleted_key) return absl::OkStatus();
  for (int64_t i = 0; i < keys.num_elements(); ++i) {
    int64_t key = KeyAt(keys, i);
    if (key == options_.empty_key || key == options_.deleted_key) {
      return absl::InvalidArgumentError(
          absl::StrCat(DebugName(), ": key ", key, " is reserved as the empty or deleted key"));
    }
  }
  return absl::OkStatus();
}

void HashTable::AddView(const Tensor& keys, const Tensor& values) {
  views_.push_back(values);
  pending_.push_back(RowIndex::KeyRun{keys, Ref(static_cast<int64_t>(views_.size()), 0)});
  has_pending_.store(true, std::memory_order_release);
}

void HashTable::CopyRows(const Tensor& keys, const Tensor& values, int64_t begin, int64_t end) {
  const std::byte* src = values.data();
  for (int64_t k = begin; k < end; ++k) {
    if (k + kPrefetchDistance < end) index_.Prefetch(KeyAt(keys, k + kPrefetchDistance));
    int64_t key = KeyAt(keys, k);
    int64_t ref = index_.Find(key);
    if (ref != RowIndex::kNone && (ref >> kSegmentShift) == 0) {
      std::memcpy(own_rows_.data() + ref * static_cast<int64_t>(row_bytes_), src + k * row_bytes_,
                  row_bytes_);
      continue;
    }
    int64_t row = row_bytes_ == 0 ? 0 : static_cast<int64_t>(own_rows_.size() / row_bytes_);
    own_rows_.Append(src + k * row_bytes_, row_bytes_);
    index_.Put(key, Ref(0, row));
  }
}

void HashTable::AddRows(const Tensor& keys, const Tensor& values) {
  if (values.is_view() && keys.num_elements() > 0) {
    AddView(keys, values);
  } else {
    IndexPending();  // Later rows overwrite earlier ones, so order matters.
    index_.ReserveFor(keys, 0, keys.num_elements());
    CopyRows(keys, values, 0, keys.num_elements());
  }
}

absl::Status HashTable::Insert(const Tensor& keys, const Tensor& values) {
  RECSHIP_RETURN_IF_ERROR(CheckKeysAndValues(keys, values));
  if (values.is_view()) {
    absl::MutexLock lock(&mu_);
    AddRows(keys, values);
    return absl::OkStatus();
  }
  absl::MutexLock writer(&writer_mu_);
  BuildIndex();
  InBatches(keys, keys.num_elements(),
            [&](int64_t begin, int64_t end) { CopyRows(keys, values, begin, end); });
  return absl::OkStatus();
}

absl::StatusOr<int64_t> HashTable::Erase(const Tensor& keys) {
  RECSHIP_RETURN_IF_ERROR(CheckKeys(keys));
  absl::MutexLock writer(&writer_mu_);
  BuildIndex();
  return EraseInBatches(keys, keys.num_elements());
}

absl::StatusOr<int64_t> HashTable::ApplyUpdate(const Tensor& keys, const Tensor& values,
                                               const Tensor* deleted) {
  RECSHIP_RETURN_IF_ERROR(CheckKeysAndValues(keys, values));
  if (deleted != nullptr) RECSHIP_RETURN_IF_ERROR(CheckKeys(*deleted));
  absl::MutexLock writer(&writer_mu_);
  BuildIndex();
  InBatches(keys, kRowsPerLock,
            [&](int64_t begin, int64_t end) { CopyRows(keys, values, begin, end); });
  return deleted == nullptr ? 0 : EraseInBatches(*deleted, kRowsPerLock);
}

absl::Status HashTable::CheckKeys(const Tensor& keys) const {
  if (keys.dtype() == options_.key_dtype) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(DebugName(), " has ",
                                                 DataTypeName(options_.key_dtype), " keys, not ",
                                                 DataTypeName(keys.dtype())));
}

int64_t HashTable::EraseInBatches(const Tensor& keys, int64_t rows_per_lock) {
  int64_t erased = 0;
  InBatches(keys, rows_per_lock, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) erased += index_.Erase(KeyAt(keys, i)) != RowIndex::kNone;
  });
  return erased;
}

template <typename F>
void HashTable::InBatches(const Tensor& keys, int64_t rows_per_lock, F&& change) {
  const int64_t n = keys.num_elements();
  for (int64_t begin = 0; begin < n; begin += rows_per_lock) {
    const int64_t end = std::min(n, begin + rows_per_lock);
    std::unique_ptr<RowIndex> grown;
    {
      absl::ReaderMutexLock lock(&mu_);
      grown = index_.GrownFor(keys, begin, end);
    }
    // Only writers change the index, and this one holds writer_mu_, so what
    // was grown is still current. `replaced`, declared before the lock, is
    // freed after the lock is released.
    std::unique_ptr<RowIndex> replaced;
    absl::MutexLock lock(&mu_);
    replaced = index_.Install(std::move(grown));
    change(begin, end);
  }
}

absl::Status HashTable::Import(const Tensor& keys, const Tensor& values) {
  RECSHIP_RETURN_IF_ERROR(CheckKeysAndValues(keys, values));
  absl::MutexLock writer(&writer_mu_);
  absl::MutexLock lock(&mu_);
  index_.Clear();
  pending_.clear();
  has_pending_.store(false, std::memory_order_release);
  own_rows_.Clear();
  views_.clear();
  AddRows(keys, values);
  return absl::OkStatus();
}

absl::StatusOr<std::pair<Tensor, Tensor>> HashTable::Export() const {
  BuildIndex();
  absl::ReaderMutexLock lock(&mu_);
  const int64_t n = index_.size();
  RECSHIP_ASSIGN_OR_RETURN(Tensor keys, Tensor::Create(options_.key_dtype, {n}));
  TensorShape shape = {n};
  shape.insert(shape.end(), options_.value_shape.begin(), options_.value_shape.end());
  RECSHIP_ASSIGN_OR_RETURN(Tensor values, Tensor::Create(options_.value_dtype, std::move(shape)));
  int64_t i = 0;
  index_.ForEach([&](int64_t key, int64_t ref) {
    if (options_.key_dtype == tensorflow::DT_INT32) {
      keys.flat<int32_t>()[i] = static_cast<int32_t>(key);
    } else {
      keys.flat<int64_t>()[i] = key;
    }
    std::memcpy(values.data() + i * static_cast<int64_t>(row_bytes_), Row(ref), row_bytes_);
    ++i;
  });
  return std::make_pair(std::move(keys), std::move(values));
}

}  // namespace recship
