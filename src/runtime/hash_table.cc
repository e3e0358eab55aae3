#include "recship/runtime/hash_table.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#define EIGEN_USE_THREADS
#include "recship/core/status_macros.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace recship::runtime {
namespace {

// Slots are at most this full, so probe sequences stay short.
constexpr double kMaxLoadFactor = 0.7;

// Loops over many keys prefetch the slot of the key this many places ahead:
// a big table's slots are cache misses, and this keeps several in flight.
constexpr size_t kPrefetchDistance = 16;

// MurmurHash3's 64-bit finalizer: ids are often multiples of a shard count,
// which an identity hash would pile into a few slots.
inline uint64_t Mix(int64_t key) {
  uint64_t h = static_cast<uint64_t>(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline int64_t KeyAt(const Tensor& keys, int64_t i) {
  return keys.dtype() == tensorflow::DT_INT32 ? keys.flat<int32_t>()[i] : keys.flat<int64_t>()[i];
}

}  // namespace

void HashTable::RowBuffer::Reserve(size_t bytes) {
  if (bytes <= capacity_) return;
  void* grown = std::realloc(data_, bytes);
  if (grown == nullptr) throw std::bad_alloc();
  data_ = static_cast<std::byte*>(grown);
  capacity_ = bytes;
}

void HashTable::RowBuffer::Append(const std::byte* src, size_t bytes) {
  if (size_ + bytes > capacity_) Reserve(std::max(size_ + bytes, capacity_ * 2));
  if (bytes > 0) std::memcpy(data_ + size_, src, bytes);
  size_ += bytes;
}

void HashTable::RowBuffer::Clear() {
  std::free(data_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

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
  ASSIGN_OR_RETURN(int64_t row_elements, NumElements(options.value_shape));
  size_t row_bytes = static_cast<size_t>(row_elements) * element;
  return std::shared_ptr<HashTable>(new HashTable(std::move(options), row_bytes));
}

std::string HashTable::DebugName() const {
  return absl::StrCat("hash table '", options_.name, "'");
}

int64_t HashTable::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return size_;
}

size_t HashTable::MemoryBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  return slots_.capacity() * sizeof(Slot) + rows_.capacity();
}

int64_t HashTable::FindRow(int64_t key) const {
  if (slots_.empty()) return -1;
  size_t mask = slots_.size() - 1;
  for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.row < 0) return -1;
    if (slot.key == key) return slot.row;
  }
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
  ASSIGN_OR_RETURN(Tensor out, memory != nullptr
                                   ? memory->Allocate(options_.value_dtype, std::move(shape))
                                   : Tensor::Create(options_.value_dtype, std::move(shape)));
  std::byte* dst = out.data();
  const std::byte* fallback = default_value.data();
  absl::ReaderMutexLock lock(&mu_);
  const size_t mask = slots_.empty() ? 0 : slots_.size() - 1;
  // Block by block: find the rows first, prefetching slots ahead and each
  // row once found, then copy them, so the cache misses of a block overlap.
  auto lookup = [&](int64_t begin, int64_t end) {
    constexpr int64_t kBlock = 64;
    int64_t rows[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
      int64_t n = std::min(kBlock, end - b);
      for (int64_t j = 0; j < n; ++j) {
        int64_t ahead = b + j + static_cast<int64_t>(kPrefetchDistance);
        if (ahead < end && !slots_.empty()) {
          __builtin_prefetch(&slots_[Mix(KeyAt(keys, ahead)) & mask]);
        }
        rows[j] = FindRow(KeyAt(keys, b + j));
        if (rows[j] >= 0 && row_bytes_ > 0) {
          const std::byte* row = rows_.data() + rows[j] * row_bytes_;
          __builtin_prefetch(row);
          __builtin_prefetch(row + row_bytes_ - 1);
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        const std::byte* src = rows[j] < 0 ? fallback : rows_.data() + rows[j] * row_bytes_;
        std::memcpy(dst + (b + j) * row_bytes_, src, row_bytes_);
      }
    }
  };
  if (device == nullptr) {
    lookup(0, keys.num_elements());
  } else {
    // A lookup costs about one cache miss for the slot and one per row line.
    Eigen::TensorOpCost cost(static_cast<double>(row_bytes_ + sizeof(Slot)),
                             static_cast<double>(row_bytes_), 100);
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
  for (int64_t i = 0; i < keys.num_elements(); ++i) {
    int64_t key = KeyAt(keys, i);
    if (key == options_.empty_key || key == options_.deleted_key) {
      return absl::InvalidArgumentError(
          absl::StrCat(DebugName(), ": key ", key, " is reserved as the empty or deleted key"));
    }
  }
  return absl::OkStatus();
}

void HashTable::Reserve(int64_t rows) {
  rows_.Reserve(static_cast<size_t>(rows) * row_bytes_);
  size_t wanted =
      std::bit_ceil(static_cast<size_t>(static_cast<double>(rows) / kMaxLoadFactor) + 1);
  if (wanted <= slots_.size()) return;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(wanted, Slot{0, -1}));
  size_t mask = wanted - 1;
  for (size_t j = 0; j < old.size(); ++j) {
    size_t ahead = j + kPrefetchDistance;
    if (ahead < old.size() && old[ahead].row >= 0) {
      __builtin_prefetch(&slots_[Mix(old[ahead].key) & mask], 1);
    }
    const Slot& slot = old[j];
    if (slot.row < 0) continue;
    size_t i = Mix(slot.key) & mask;
    while (slots_[i].row >= 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void HashTable::InsertRows(const Tensor& keys, const Tensor& values) {
  int64_t n = keys.num_elements();
  Reserve(size_ + n);
  size_t mask = slots_.size() - 1;
  const std::byte* src = values.data();
  for (int64_t k = 0; k < n; ++k) {
    int64_t ahead = k + static_cast<int64_t>(kPrefetchDistance);
    if (ahead < n) __builtin_prefetch(&slots_[Mix(KeyAt(keys, ahead)) & mask], 1);
    int64_t key = KeyAt(keys, k);
    size_t i = Mix(key) & mask;
    while (slots_[i].row >= 0 && slots_[i].key != key) i = (i + 1) & mask;
    if (slots_[i].row < 0) {
      slots_[i] = Slot{key, size_++};
      rows_.Append(src + k * row_bytes_, row_bytes_);
    } else {
      std::memcpy(rows_.data() + slots_[i].row * row_bytes_, src + k * row_bytes_, row_bytes_);
    }
  }
}

absl::Status HashTable::Insert(const Tensor& keys, const Tensor& values) {
  RETURN_IF_ERROR(CheckKeysAndValues(keys, values));
  absl::MutexLock lock(&mu_);
  InsertRows(keys, values);
  return absl::OkStatus();
}

absl::Status HashTable::Import(const Tensor& keys, const Tensor& values) {
  RETURN_IF_ERROR(CheckKeysAndValues(keys, values));
  absl::MutexLock lock(&mu_);
  slots_.clear();
  slots_.shrink_to_fit();
  rows_.Clear();
  size_ = 0;
  InsertRows(keys, values);
  return absl::OkStatus();
}

}  // namespace recship::runtime
