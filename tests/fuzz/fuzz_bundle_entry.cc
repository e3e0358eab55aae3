// libFuzzer target: one tensor entry and the data shard it lives in. The first
// bytes pick the entry's dtype, shape, size and offset (layout in
// fuzz_util.h); the rest is the shard. The harness writes the .index itself
// and can store the right checksums, so the fuzzer reaches the string-tensor
// decoder and the crc-checked paths instead of stopping at a crc mismatch.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz_util.h"
#include "recship/core/coding.h"
#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "recship/format/tensor_bundle.h"
#include "recship/tensorflow/core/protobuf/tensor_bundle.pb.h"

namespace {

using recship::fuzz::EntryFlags;

uint64_t TakeVarint(absl::string_view* in) {
  uint64_t v = 0;
  return recship::GetVarint(in, 64, &v) ? v : 0;
}

// TensorFlow's crc of a string tensor: each length as a 4-byte integer (8 if
// larger), then the 4 stored crc bytes, then the string bytes. With
// `fix_length_crc`, first stores the right masked crc of the lengths.
uint32_t StringEntryCrc(std::string* bytes, uint64_t elements, bool fix_length_crc) {
  absl::string_view in(*bytes);
  uint32_t crc = 0;
  for (uint64_t i = 0; i < elements; ++i) {
    uint64_t length;
    if (!recship::GetVarint(&in, 64, &length)) return recship::crc32c::Value(*bytes);
    if (length <= std::numeric_limits<uint32_t>::max()) {
      uint32_t length32 = static_cast<uint32_t>(length);
      crc = recship::crc32c::Extend(crc, &length32, sizeof(length32));
    } else {
      crc = recship::crc32c::Extend(crc, &length, sizeof(length));
    }
  }
  if (in.size() < 4) return recship::crc32c::Value(*bytes);
  size_t crc_at = bytes->size() - in.size();
  if (fix_length_crc) {
    uint32_t masked = recship::crc32c::Mask(crc);
    std::memcpy(bytes->data() + crc_at, &masked, sizeof(masked));
  }
  return recship::crc32c::Extend(crc, bytes->data() + crc_at, bytes->size() - crc_at);
}

const std::string& Prefix() {
  static const std::string* prefix = new std::string(recship::fuzz::TempDir() + "/entry");
  return *prefix;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Prefix();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() < 3) return 0;
  constexpr size_t kNumDtypes = std::size(recship::fuzz::kEntryDtypes);
  const recship::DataType dtype =
      recship::fuzz::kEntryDtypes[static_cast<uint8_t>(in[0]) % kNumDtypes];
  const uint8_t flags = static_cast<uint8_t>(in[1]);
  const int rank = static_cast<uint8_t>(in[2]) % 5;
  in.remove_prefix(3);
  recship::TensorShape shape;
  for (int i = 0; i < rank; ++i) shape.push_back(static_cast<int64_t>(TakeVarint(&in)));
  uint64_t entry_size = (flags & EntryFlags::kSizeFromData) ? 0 : TakeVarint(&in);
  uint64_t offset = (flags & EntryFlags::kOffset) ? TakeVarint(&in) : 0;
  std::string shard(in);
  if (flags & EntryFlags::kSizeFromData)
    entry_size = offset <= shard.size() ? shard.size() - offset : 0;

  const size_t element_size = recship::DataTypeSize(dtype);
  if ((flags & EntryFlags::kFitFirstDim) && element_size != 0 && !shape.empty()) {
    uint64_t row = element_size;  // Bytes per row, when that does not overflow.
    bool fits = true;
    for (int i = 1; i < rank && fits; ++i) {
      uint64_t dim = static_cast<uint64_t>(shape[static_cast<size_t>(i)]);
      fits = dim != 0 && dim <= std::numeric_limits<int64_t>::max() / row;
      if (fits) row *= dim;
    }
    if (fits) {
      shape[0] = static_cast<int64_t>(entry_size / row);
      entry_size = entry_size / row * row;
    }
  }

  // The entry's bytes as far as the shard holds them, with the checksums the
  // flags ask for.
  uint32_t crc = 0;
  if (offset <= shard.size()) {
    std::string bytes = shard.substr(offset, entry_size);
    uint64_t elements = 1;
    for (int64_t dim : shape) elements *= static_cast<uint64_t>(dim);
    crc = dtype == recship::tensorflow::DT_STRING
              ? StringEntryCrc(&bytes, elements, flags & EntryFlags::kFixLengthCrc)
              : recship::crc32c::Value(bytes);
    shard.replace(offset, bytes.size(), bytes);
  }
  if (!(flags & EntryFlags::kFixEntryCrc)) crc ^= 1;

  recship::tensorflow::BundleHeaderProto header;
  header.set_num_shards(1);
  recship::tensorflow::BundleEntryProto entry;
  entry.set_dtype(dtype);
  *entry.mutable_shape() = recship::ShapeToProto(shape);
  entry.set_offset(static_cast<int64_t>(offset));
  entry.set_size(static_cast<int64_t>(entry_size));
  entry.set_crc32c(recship::crc32c::Mask(crc));
  std::string index = recship::fuzz::BuildTable(
      {{"", header.SerializeAsString()}, {"t", entry.SerializeAsString()}},
      flags & EntryFlags::kSnappyIndex);

  recship::fuzz::WriteScratchFile(recship::BundleDataPath(Prefix(), 0, 1), shard);
  auto reader =
      recship::BundleReader::OpenWithIndex(Prefix(), *recship::NewStringFile("fuzz.index", index));
  if (!reader.ok()) return 0;
  recship::fuzz::ExerciseBundle(**reader, 1 + static_cast<uint64_t>(rank) * 3);
  return 0;
}
