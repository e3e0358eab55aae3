// format/tensor.h and format/dtype.h: shapes (element counts, overflow,
// negative and unknown dimensions, proto conversion), Tensor creation and
// equality, and the dtype table against TensorFlow's sizes and names.
#include "recship/format/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "recship/format/dtype.h"
#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

TEST(NumElementsTest, Products) {
  ASSERT_OK_AND_ASSIGN(int64_t scalar, NumElements({}));
  EXPECT_EQ(scalar, 1);
  ASSERT_OK_AND_ASSIGN(int64_t six, NumElements({2, 3}));
  EXPECT_EQ(six, 6);
  ASSERT_OK_AND_ASSIGN(int64_t zero, NumElements({0, 5}));
  EXPECT_EQ(zero, 0);
  ASSERT_OK_AND_ASSIGN(int64_t zero2, NumElements({5, 0, 7}));
  EXPECT_EQ(zero2, 0);
  ASSERT_OK_AND_ASSIGN(int64_t max, NumElements({kInt64Max}));
  EXPECT_EQ(max, kInt64Max);
  ASSERT_OK_AND_ASSIGN(int64_t big, NumElements({int64_t{1} << 31, int64_t{1} << 31}));
  EXPECT_EQ(big, int64_t{1} << 62);
}

TEST(NumElementsTest, NegativeAndOverflow) {
  EXPECT_TRUE(IsError(NumElements({-1}).status(), absl::StatusCode::kInvalidArgument, {"[-1]"}));
  EXPECT_TRUE(IsError(NumElements({3, -2}).status(), absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(NumElements({int64_t{1} << 32, int64_t{1} << 32}).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(NumElements({kInt64Max, 2}).status(), absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(NumElements({int64_t{1} << 21, int64_t{1} << 21, int64_t{1} << 21}).status(),
                      absl::StatusCode::kInvalidArgument));
}

TEST(NumElementsTest, AZeroDimensionMeansNoElementsWhateverItsPlace) {
  EXPECT_EQ(NumElements({0, kInt64Max, kInt64Max}).value(), 0);
  EXPECT_EQ(NumElements({kInt64Max, kInt64Max, 0}).value(), 0);
  EXPECT_TRUE(
      IsError(NumElements({kInt64Max, 0, -1}).status(), absl::StatusCode::kInvalidArgument));
}

TEST(ShapeTest, ToString) {
  EXPECT_EQ(ShapeToString({}), "[]");
  EXPECT_EQ(ShapeToString({7}), "[7]");
  EXPECT_EQ(ShapeToString({2, 0, 3}), "[2, 0, 3]");
}

TEST(ShapeTest, ProtoRoundTripAndBadProtos) {
  for (const TensorShape& shape : {TensorShape{}, TensorShape{0}, TensorShape{4, 1, 9}}) {
    tensorflow::TensorShapeProto proto = ShapeToProto(shape);
    ASSERT_EQ(proto.dim_size(), static_cast<int>(shape.size()));
    for (size_t i = 0; i < shape.size(); ++i)
      EXPECT_EQ(proto.dim(static_cast<int>(i)).size(), shape[i]);
    EXPECT_FALSE(proto.unknown_rank());
    ASSERT_OK_AND_ASSIGN(TensorShape back, ShapeFromProto(proto));
    EXPECT_EQ(back, shape);
  }
  tensorflow::TensorShapeProto unknown_rank;
  unknown_rank.set_unknown_rank(true);
  EXPECT_TRUE(IsError(ShapeFromProto(unknown_rank).status(), absl::StatusCode::kInvalidArgument));
  tensorflow::TensorShapeProto unknown_dim;
  unknown_dim.add_dim()->set_size(3);
  unknown_dim.add_dim()->set_size(-1);
  EXPECT_TRUE(IsError(ShapeFromProto(unknown_dim).status(), absl::StatusCode::kInvalidArgument));
  tensorflow::TensorShapeProto huge;
  huge.add_dim()->set_size(int64_t{1} << 40);
  huge.add_dim()->set_size(int64_t{1} << 40);
  EXPECT_TRUE(IsError(ShapeFromProto(huge).status(), absl::StatusCode::kInvalidArgument));
}

TEST(TensorTest, DefaultIsInvalid) {
  Tensor t;
  EXPECT_EQ(t.dtype(), tensorflow::DT_INVALID);
  EXPECT_EQ(t.num_elements(), 0);
  EXPECT_EQ(t.byte_size(), 0u);
}

TEST(TensorTest, CreateAllocatesZeroedAlignedBuffer) {
  ASSERT_OK_AND_ASSIGN(Tensor t, Tensor::Create(tensorflow::DT_DOUBLE, {3, 5}));
  EXPECT_EQ(t.dtype(), tensorflow::DT_DOUBLE);
  EXPECT_EQ(t.shape(), (TensorShape{3, 5}));
  EXPECT_EQ(t.num_elements(), 15);
  EXPECT_EQ(t.byte_size(), 15u * 8u);
  ASSERT_NE(t.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (size_t i = 0; i < t.byte_size(); ++i) ASSERT_EQ(t.data()[i], std::byte{0});
  EXPECT_EQ(t.flat<double>().size(), 15u);
  EXPECT_TRUE(t.strings().empty());

  ASSERT_OK_AND_ASSIGN(Tensor scalar, Tensor::Create(tensorflow::DT_HALF, {}));
  EXPECT_EQ(scalar.num_elements(), 1);
  EXPECT_EQ(scalar.byte_size(), 2u);

  ASSERT_OK_AND_ASSIGN(Tensor empty, Tensor::Create(tensorflow::DT_FLOAT, {4, 0}));
  EXPECT_EQ(empty.num_elements(), 0);
  EXPECT_EQ(empty.byte_size(), 0u);

  ASSERT_OK_AND_ASSIGN(Tensor strings, Tensor::Create(tensorflow::DT_STRING, {2, 2}));
  EXPECT_EQ(strings.num_elements(), 4);
  EXPECT_EQ(strings.byte_size(), 0u);
  EXPECT_EQ(strings.strings(), std::vector<std::string>(4));
}

TEST(TensorTest, CreateRejectsBadShapesAndTypes) {
  EXPECT_TRUE(IsError(Tensor::Create(tensorflow::DT_FLOAT, {-1}).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      IsError(Tensor::Create(tensorflow::DT_FLOAT, {int64_t{1} << 32, int64_t{1} << 32}).status(),
              absl::StatusCode::kInvalidArgument));
  // 2^61 int64 elements fit int64 but their 2^64 bytes do not fit size_t.
  EXPECT_TRUE(IsError(Tensor::Create(tensorflow::DT_INT64, {int64_t{1} << 61}).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Tensor::Create(tensorflow::DT_INVALID, {1}).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Tensor::Create(tensorflow::DT_RESOURCE, {1}).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Tensor::Create(tensorflow::DT_VARIANT, {1}).status(),
                      absl::StatusCode::kInvalidArgument));
}

TEST(TensorTest, FromVectorAndFromStrings) {
  Tensor t = Tensor::FromVector<int32_t>({2, 2}, {1, -2, 3, 2147483647});
  EXPECT_EQ(t.dtype(), tensorflow::DT_INT32);
  const int32_t expected[] = {1, -2, 3, 2147483647};
  ASSERT_EQ(t.byte_size(), sizeof(expected));
  EXPECT_EQ(std::memcmp(t.data(), expected, sizeof(expected)), 0);

  Tensor s = Tensor::FromStrings({3}, {"a", "", std::string("\0b", 2)});
  EXPECT_EQ(s.dtype(), tensorflow::DT_STRING);
  EXPECT_EQ(s.num_elements(), 3);
  EXPECT_EQ(s.strings()[2], std::string("\0b", 2));
}

TEST(TensorTest, Equals) {
  Tensor a = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor same = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(a.Equals(same));
  EXPECT_TRUE(a.Equals(a));
  Tensor copy = a;  // Copies share the buffer.
  EXPECT_EQ(copy.data(), a.data());
  EXPECT_TRUE(copy.Equals(a));

  EXPECT_FALSE(a.Equals(Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 7})));
  EXPECT_FALSE(a.Equals(Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6})));
  EXPECT_FALSE(a.Equals(Tensor::FromVector<float>({6}, {1, 2, 3, 4, 5, 6})));
  // Same bytes, different dtype.
  Tensor as_int = Tensor::Create(tensorflow::DT_INT32, {2, 3}).value();
  std::memcpy(as_int.data(), a.data(), a.byte_size());
  EXPECT_FALSE(a.Equals(as_int));

  ASSERT_OK_AND_ASSIGN(Tensor e1, Tensor::Create(tensorflow::DT_FLOAT, {0, 3}));
  ASSERT_OK_AND_ASSIGN(Tensor e2, Tensor::Create(tensorflow::DT_FLOAT, {0, 3}));
  ASSERT_OK_AND_ASSIGN(Tensor e3, Tensor::Create(tensorflow::DT_FLOAT, {3, 0}));
  EXPECT_TRUE(e1.Equals(e2));
  EXPECT_FALSE(e1.Equals(e3));

  Tensor s1 = Tensor::FromStrings({2}, {"x", "y"});
  EXPECT_TRUE(s1.Equals(Tensor::FromStrings({2}, {"x", "y"})));
  EXPECT_FALSE(s1.Equals(Tensor::FromStrings({2}, {"x", "z"})));
  EXPECT_FALSE(s1.Equals(Tensor::FromStrings({1, 2}, {"x", "y"})));
  EXPECT_FALSE(s1.Equals(Tensor()));
  EXPECT_TRUE(Tensor().Equals(Tensor()));
}

TEST(DataTypeTest, SizesMatchTensorFlow) {
  // TensorFlow's DataTypeSize (types.cc) for the storable types.
  EXPECT_EQ(DataTypeSize(tensorflow::DT_FLOAT), 4u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_DOUBLE), 8u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_INT32), 4u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_UINT8), 1u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_INT16), 2u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_INT8), 1u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_INT64), 8u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_BOOL), 1u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_BFLOAT16), 2u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_UINT16), 2u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_HALF), 2u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_UINT32), 4u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_UINT64), 8u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_COMPLEX64), 8u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_STRING), 0u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_RESOURCE), 0u);
  EXPECT_EQ(DataTypeSize(tensorflow::DT_VARIANT), 0u);
  EXPECT_TRUE(IsStorableDataType(tensorflow::DT_STRING));
  EXPECT_TRUE(IsStorableDataType(tensorflow::DT_HALF));
  EXPECT_FALSE(IsStorableDataType(tensorflow::DT_INVALID));
  EXPECT_FALSE(IsStorableDataType(tensorflow::DT_RESOURCE));
  EXPECT_FALSE(IsStorableDataType(tensorflow::DT_FLOAT_REF));
  // The enum values are TensorFlow's, so serialized protos interoperate.
  EXPECT_EQ(static_cast<int>(tensorflow::DT_HALF), 19);
  EXPECT_EQ(static_cast<int>(tensorflow::DT_INT64), 9);
  EXPECT_EQ(static_cast<int>(tensorflow::DT_UINT64), 23);
}

TEST(DataTypeTest, NamesAndParsing) {
  EXPECT_EQ(DataTypeName(tensorflow::DT_FLOAT), "float32");
  EXPECT_EQ(DataTypeName(tensorflow::DT_HALF), "float16");
  EXPECT_EQ(DataTypeName(tensorflow::DT_STRING), "string");
  EXPECT_EQ(DataTypeEnumName(tensorflow::DT_INT64), "DT_INT64");
  EXPECT_EQ(DataTypeEnumName(tensorflow::DT_RESOURCE), "DT_RESOURCE");
  for (absl::string_view name : {"float32", "DT_FLOAT"}) {
    ASSERT_OK_AND_ASSIGN(DataType t, ParseDataType(name));
    EXPECT_EQ(t, tensorflow::DT_FLOAT) << name;
  }
  for (absl::string_view name : {"float16", "half", "DT_HALF"}) {
    ASSERT_OK_AND_ASSIGN(DataType t, ParseDataType(name));
    EXPECT_EQ(t, tensorflow::DT_HALF) << name;
  }
  EXPECT_TRUE(
      IsError(ParseDataType("float33").status(), absl::StatusCode::kInvalidArgument, {"float33"}));
  EXPECT_TRUE(IsError(ParseDataType("DT_INVALID").status(), absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsError(ParseDataType("").status(), absl::StatusCode::kInvalidArgument));
  static_assert(DataTypeOf<float>() == tensorflow::DT_FLOAT);
  static_assert(DataTypeOf<int64_t>() == tensorflow::DT_INT64);
  static_assert(DataTypeOf<bool>() == tensorflow::DT_BOOL);
}

}  // namespace
}  // namespace recship
