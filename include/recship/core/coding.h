// Little-endian fixed-width integers and LEB128 varints, as LevelDB and
// TensorFlow's formats encode them.
#ifndef RECSHIP_CORE_CODING_H_
#define RECSHIP_CORE_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace recship {

// recship only builds on little-endian CPUs, so memcpy is the decoding.
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads a varint of at most `max_bits` (32-bit varints: 35, 64-bit: 64) from
// the front of `in` and consumes it. False when `in` ends first or the varint
// is longer than allowed.
inline bool GetVarint(absl::string_view* in, int max_bits, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < max_bits && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

}  // namespace recship

#endif  // RECSHIP_CORE_CODING_H_
