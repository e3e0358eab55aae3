#include "recship/core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace recship::crc32c {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // Reflected Castagnoli.

// Slicing-by-8 tables: kTables[k][b] is the crc of byte b followed by k zero
// bytes, which lets the portable loop fold 8 input bytes per step.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k) {
      uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr auto kTables = MakeTables();

uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));  // recship only builds on little-endian CPUs.
  return v;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendHardwareSerial(uint32_t crc, const uint8_t* p,
                                                                size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, LoadLittleEndian64(p));
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

// The crc32 instruction has a latency of about three cycles but issues every
// cycle, so one dependent chain uses a third of it. Large inputs are taken in
// rounds of three adjacent stripes, each with its own chain, and the chains
// are joined with ShiftOverStripe: the crc register after kStripe zero bytes,
// a linear map of the register, tabulated per byte.
constexpr size_t kStripe = 4096;

struct StripeShift {
  std::array<std::array<uint32_t, 256>, 4> table;

  uint32_t operator()(uint32_t crc) const {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
           table[3][crc >> 24];
  }
};

const StripeShift& ShiftOverStripe() {
  static const StripeShift* const shift = [] {
    static constexpr uint8_t kZeros[kStripe] = {};
    uint32_t basis[32];
    for (int bit = 0; bit < 32; ++bit) {
      basis[bit] = ExtendHardwareSerial(uint32_t{1} << bit, kZeros, kStripe);
    }
    auto* s = new StripeShift;
    for (int byte = 0; byte < 4; ++byte) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t x = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (v & (1u << bit)) x ^= basis[8 * byte + bit];
        }
        s->table[static_cast<size_t>(byte)][v] = x;
      }
    }
    return s;
  }();
  return *shift;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  if (n >= 3 * kStripe) {
    const StripeShift& shift = ShiftOverStripe();
    uint64_t c0 = crc;
    for (; n >= 3 * kStripe; n -= 3 * kStripe, p += 3 * kStripe) {
      uint64_t c1 = 0;
      uint64_t c2 = 0;
      for (size_t i = 0; i < kStripe; i += 8) {
        c0 = _mm_crc32_u64(c0, LoadLittleEndian64(p + i));
        c1 = _mm_crc32_u64(c1, LoadLittleEndian64(p + kStripe + i));
        c2 = _mm_crc32_u64(c2, LoadLittleEndian64(p + 2 * kStripe + i));
      }
      // crc(A B C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C), all in the raw
      // (uninverted) register.
      c0 = shift(shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^
           static_cast<uint32_t>(c2);
    }
    crc = static_cast<uint32_t>(c0);
  }
  return ExtendHardwareSerial(crc, p, n);
}

bool CpuHasCrcInstruction() { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__)
__attribute__((target("+crc"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) crc = __crc32cd(crc, LoadLittleEndian64(p));
  for (; n > 0; --n, ++p) crc = __crc32cb(crc, *p);
  return crc;
}

bool CpuHasCrcInstruction() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#else
uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) {
  return ExtendPortable(crc, p, n);
}

bool CpuHasCrcInstruction() { return false; }
#endif

const bool kUseHardware = CpuHasCrcInstruction();

}  // namespace

uint32_t ExtendPortable(uint32_t init_crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = ~init_crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word = LoadLittleEndian64(p) ^ crc;
    crc = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^
          kTables[5][(word >> 16) & 0xff] ^ kTables[4][(word >> 24) & 0xff] ^
          kTables[3][(word >> 32) & 0xff] ^ kTables[2][(word >> 40) & 0xff] ^
          kTables[1][(word >> 48) & 0xff] ^ kTables[0][word >> 56];
  }
  for (; n > 0; --n, ++p) crc = (crc >> 8) ^ kTables[0][(crc ^ *p) & 0xff];
  return ~crc;
}

uint32_t Extend(uint32_t init_crc, const void* data, size_t n) {
  if (!kUseHardware) return ExtendPortable(init_crc, data, n);
  return ~ExtendHardware(~init_crc, static_cast<const uint8_t*>(data), n);
}

bool IsHardwareAccelerated() { return kUseHardware; }

}  // namespace recship::crc32c
