// crc32c: the published iSCSI test vectors (RFC 3720 appendix B.4), Extend
// over pieces, the hardware path against the portable one and against a
// bit-at-a-time reference, and Mask/Unmask.
#include "recship/core/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace recship::crc32c {
namespace {

// Bit-at-a-time CRC-32C straight from the definition (reflected polynomial
// 0x82f63b78, initial and final xor 0xffffffff). Slow but obviously right.
uint32_t ReferenceCrc(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82f63b78u : 0u);
  }
  return ~crc;
}

TEST(Crc32cTest, EmptyIsZero) {
  EXPECT_EQ(Value("", 0), 0u);
  EXPECT_EQ(Value(absl::string_view()), 0u);
  EXPECT_EQ(ExtendPortable(0, nullptr, 0), 0u);
  EXPECT_EQ(Extend(0x12345678u, "", 0), 0x12345678u);
}

TEST(Crc32cTest, Rfc3720Vectors) {
  char buf[32];

  std::memset(buf, 0, sizeof(buf));
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x8a9136aau);

  std::memset(buf, 0xff, sizeof(buf));
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x62a8ab43u);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x46dd794eu);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x113fdb5cu);

  // An iSCSI read command PDU (RFC 3720 B.4, also in LevelDB's crc32c test).
  const uint8_t pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_EQ(Value(pdu, sizeof(pdu)), 0xd9963a56u);
}

TEST(Crc32cTest, CheckString) {
  // The standard "check" value of CRC-32C.
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
  EXPECT_EQ(Value("a"), 0xc1d04330u);
  EXPECT_EQ(Value("The quick brown fox jumps over the lazy dog"), 0x22620404u);
}

TEST(Crc32cTest, PortableMatchesVectors) {
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xe3069283u);
  char zeros[32] = {};
  EXPECT_EQ(ExtendPortable(0, zeros, sizeof(zeros)), 0x8a9136aau);
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  const std::string data = testing::RandomBytes(1000, 1);
  const uint32_t whole = Value(data);
  EXPECT_EQ(whole, ReferenceCrc(data.data(), data.size()));
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{500},
                       size_t{999}, size_t{1000}}) {
    uint32_t crc = Value(data.data(), split);
    EXPECT_EQ(Extend(crc, data.data() + split, data.size() - split), whole) << "split " << split;
    uint32_t portable = ExtendPortable(0, data.data(), split);
    EXPECT_EQ(ExtendPortable(portable, data.data() + split, data.size() - split), whole)
        << "split " << split;
  }
  // Three pieces.
  EXPECT_EQ(Extend(Extend(Value("hello "), "big ", 4), "world", 5), Value("hello big world"));
  EXPECT_NE(Value("hello"), Value("world"));
}

TEST(Crc32cTest, HardwareEqualsPortableOnManyLengthsAndAlignments) {
  // Alignment matters to the word-at-a-time loops: start at every offset
  // within a 16-byte window and cover lengths around every multiple of 8.
  const std::string data = testing::RandomBytes(4096 + 64, 2);
  std::mt19937 rng(3);
  for (size_t align = 0; align < 16; ++align) {
    for (size_t len = 0; len <= 130; ++len) {
      const char* p = data.data() + align;
      uint32_t seed = (len % 3 == 0) ? 0u : static_cast<uint32_t>(rng());
      uint32_t portable = ExtendPortable(seed, p, len);
      ASSERT_EQ(Extend(seed, p, len), portable) << "align " << align << " len " << len;
      if (seed == 0) {
        ASSERT_EQ(portable, ReferenceCrc(p, len)) << "align " << align << " len " << len;
      }
    }
  }
  for (size_t len : {size_t{1000}, size_t{4095}, size_t{4096}}) {
    for (size_t align = 0; align < 8; ++align) {
      const char* p = data.data() + align;
      EXPECT_EQ(Extend(0, p, len), ExtendPortable(0, p, len));
      EXPECT_EQ(Extend(0, p, len), ReferenceCrc(p, len));
    }
  }
}

TEST(Crc32cTest, ReportsHardwareWhereTheCpuHasIt) {
#if defined(__x86_64__)
  EXPECT_EQ(IsHardwareAccelerated(), static_cast<bool>(__builtin_cpu_supports("sse4.2")));
#else
  GTEST_SKIP() << "only checked on x86-64";
#endif
}

TEST(Crc32cTest, MaskKnownValues) {
  // Values that TensorFlow itself writes: the masked crc of an empty record
  // (crc 0) and of an 8-byte zero length, as in every TFRecord file that
  // starts with an empty record.
  EXPECT_EQ(Mask(0), 0xa282ead8u);
  char zeros[8] = {};
  EXPECT_EQ(Mask(Value(zeros, sizeof(zeros))), 0x07980329u);
}

TEST(Crc32cTest, MaskRoundTripAndIsNotIdentity) {
  std::mt19937 rng(4);
  std::vector<uint32_t> crcs = {0u, 1u, 0xffffffffu, 0x80000000u, Value("foo")};
  for (int i = 0; i < 1000; ++i) crcs.push_back(static_cast<uint32_t>(rng()));
  for (uint32_t crc : crcs) {
    EXPECT_EQ(Unmask(Mask(crc)), crc);
    EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
    EXPECT_NE(Mask(crc), crc);
    EXPECT_NE(Mask(Mask(crc)), crc);
  }
}

}  // namespace
}  // namespace recship::crc32c
