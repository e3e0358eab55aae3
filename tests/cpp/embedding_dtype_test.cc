// format/embedding_dtype.h: the packed row layouts against bit patterns
// worked out by hand from IEEE 754 half, bfloat16 and the int8 rule.
#include "recship/format/embedding_dtype.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;

std::vector<int32_t> Encode(EmbeddingDtype dtype, const std::vector<float>& row) {
  const int64_t dim = static_cast<int64_t>(row.size());
  std::vector<int32_t> out(static_cast<size_t>(StoredRowWidth(dtype, dim)), -1);
  EncodeRows(dtype, row.data(), 1, dim, out.data());
  return out;
}

std::vector<float> Decode(EmbeddingDtype dtype, const std::vector<int32_t>& words, int64_t dim) {
  std::vector<float> out(static_cast<size_t>(dim));
  DecodeRows(dtype, words.data(), 1, dim, out.data());
  return out;
}

int32_t Words(uint16_t low, uint16_t high) {
  return static_cast<int32_t>(static_cast<uint32_t>(high) << 16 | low);
}

TEST(EmbeddingDtypeTest, NamesParseBackAndOthersAreErrors) {
  for (EmbeddingDtype d : {EmbeddingDtype::kFloat32, EmbeddingDtype::kFloat16,
                           EmbeddingDtype::kBFloat16, EmbeddingDtype::kInt8}) {
    ASSERT_OK_AND_ASSIGN(EmbeddingDtype parsed, ParseEmbeddingDtype(EmbeddingDtypeName(d)));
    EXPECT_EQ(parsed, d);
  }
  EXPECT_TRUE(IsError(ParseEmbeddingDtype("int4").status(), absl::StatusCode::kInvalidArgument,
                      {"'int4'", "int8"}));
}

TEST(EmbeddingDtypeTest, RowWidthsInWords) {
  EXPECT_EQ(StoredRowWidth(EmbeddingDtype::kFloat32, 7), 7);
  EXPECT_EQ(StoredRowWidth(EmbeddingDtype::kFloat16, 7), 4);
  EXPECT_EQ(StoredRowWidth(EmbeddingDtype::kBFloat16, 8), 4);
  EXPECT_EQ(StoredRowWidth(EmbeddingDtype::kInt8, 8), 3);
  EXPECT_EQ(StoredRowWidth(EmbeddingDtype::kInt8, 9), 4);
}

TEST(EmbeddingDtypeTest, Float16PacksLittleEndianAndPadsAnOddDim) {
  // 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff; 1/3 rounds to 0x3555.
  EXPECT_EQ(Encode(EmbeddingDtype::kFloat16, {1.0f, -2.0f, 65504.0f}),
            (std::vector<int32_t>{Words(0x3c00, 0xc000), Words(0x7bff, 0)}));
  EXPECT_EQ(Encode(EmbeddingDtype::kFloat16, {1.0f / 3, 0.0f})[0], Words(0x3555, 0));
  EXPECT_EQ(Decode(EmbeddingDtype::kFloat16, {Words(0x3c00, 0xc000), Words(0x7bff, 0)}, 3),
            (std::vector<float>{1.0f, -2.0f, 65504.0f}));
}

TEST(EmbeddingDtypeTest, BFloat16RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: even wins; 1 + 3 * 2^-8
  // is halfway between 0x3f81 and 0x3f82.
  EXPECT_EQ(Encode(EmbeddingDtype::kBFloat16, {1.0f + 1.0f / 256, 1.0f + 3.0f / 256}),
            (std::vector<int32_t>{Words(0x3f80, 0x3f82)}));
  EXPECT_EQ(Decode(EmbeddingDtype::kBFloat16, {Words(0x3f80, 0xc000)}, 2),
            (std::vector<float>{1.0f, -2.0f}));
}

TEST(EmbeddingDtypeTest, Int8IsSymmetricPerRowWithTheScaleFirst) {
  // max |x| = 127: scale 1; -63.5 rounds to even (-64).
  std::vector<int32_t> words = Encode(EmbeddingDtype::kInt8, {127.0f, -63.5f, 0.4f});
  ASSERT_EQ(words.size(), 2u);
  float scale;
  std::memcpy(&scale, &words[0], sizeof(scale));
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(words[1], static_cast<int32_t>(0x00'00'c0'7fu));  // 127, -64, 0, pad 0.
  EXPECT_EQ(Decode(EmbeddingDtype::kInt8, words, 3), (std::vector<float>{127.0f, -64.0f, 0.0f}));
}

TEST(EmbeddingDtypeTest, ZeroRowsAreZeroWordsInEveryEncoding) {
  // What a table's zero default decodes to must be zeros.
  for (EmbeddingDtype d :
       {EmbeddingDtype::kFloat16, EmbeddingDtype::kBFloat16, EmbeddingDtype::kInt8}) {
    std::vector<int32_t> words = Encode(d, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
    EXPECT_EQ(words, std::vector<int32_t>(words.size(), 0)) << EmbeddingDtypeName(d);
    EXPECT_EQ(Decode(d, words, 5), std::vector<float>(5, 0.0f)) << EmbeddingDtypeName(d);
  }
}

}  // namespace
}  // namespace recship
