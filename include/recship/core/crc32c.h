// CRC-32C (Castagnoli), the checksum of TensorFlow's tensor bundles, TFRecord
// files and LevelDB tables. Uses the CPU's CRC instruction (SSE4.2 on x86-64,
// the ARMv8 CRC extension on AArch64) when present, chosen once at run time,
// and a table-driven portable version otherwise. All paths give equal results.
#ifndef RECSHIP_CORE_CRC32C_H_
#define RECSHIP_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace recship::crc32c {

// Returns the crc32c of concat(A, data[0,n-1]) where init_crc is the crc32c
// of some string A.
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);

// Returns the crc32c of data[0,n-1].
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(absl::string_view s) { return Value(s.data(), s.size()); }

// The portable implementation, exposed so tests can compare it with the
// accelerated one.
uint32_t ExtendPortable(uint32_t init_crc, const void* data, size_t n);

// True when Extend uses a hardware CRC instruction on this CPU.
bool IsHardwareAccelerated();

// Storing the crc of a string that itself holds crcs is weak, so TensorFlow
// and LevelDB store a rotated, offset "masked" crc instead.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

inline uint32_t Unmask(uint32_t masked_crc) {
  uint32_t rot = masked_crc - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace recship::crc32c

#endif  // RECSHIP_CORE_CRC32C_H_
