// format/tensor_proto.h: Tensor <-> TensorProto. tensor_content layout,
// typed *_val fields (with TensorFlow's repeat-the-last-value rule), strings,
// half bits in half_val, and refusals: bad shapes, sizes that do not match,
// unsupported dtypes and tensors over the byte limit (before allocating).
#include "recship/format/tensor_proto.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;

tensorflow::TensorProto Proto(DataType dtype, const TensorShape& shape) {
  tensorflow::TensorProto proto;
  proto.set_dtype(dtype);
  for (int64_t d : shape) proto.mutable_tensor_shape()->add_dim()->set_size(d);
  return proto;
}

TEST(TensorProtoTest, NumericGoesToTensorContent) {
  const Tensor t = Tensor::FromVector<int32_t>({2, 2}, {1, -1, 256, 0x7fffffff});
  const tensorflow::TensorProto proto = TensorToProto(t);
  EXPECT_EQ(proto.dtype(), tensorflow::DT_INT32);
  ASSERT_EQ(proto.tensor_shape().dim_size(), 2);
  EXPECT_EQ(proto.tensor_shape().dim(0).size(), 2);
  EXPECT_EQ(proto.tensor_shape().dim(1).size(), 2);
  EXPECT_EQ(proto.tensor_content(),
            std::string("\x01\x00\x00\x00\xff\xff\xff\xff\x00\x01\x00\x00\xff\xff\xff\x7f", 16));
  EXPECT_EQ(proto.int_val_size(), 0);
  ASSERT_OK_AND_ASSIGN(Tensor back, TensorFromProto(proto));
  EXPECT_TRUE(back.Equals(t));
}

TEST(TensorProtoTest, RoundTripsEveryType) {
  std::vector<Tensor> tensors = {
      Tensor::FromVector<float>({3}, {1.5f, -0.0f, 3e38f}),
      Tensor::FromVector<double>({}, {2.25}),
      Tensor::FromVector<int64_t>({2}, {std::numeric_limits<int64_t>::min(), 5}),
      Tensor::FromVector<uint8_t>({2}, {0, 255}),
      Tensor::FromVector<int8_t>({1}, {-128}),
      Tensor::FromVector<int16_t>({1}, {-30000}),
      Tensor::FromVector<uint16_t>({1}, {65535}),
      Tensor::FromVector<uint32_t>({1}, {4000000000u}),
      Tensor::FromVector<uint64_t>({1}, {~uint64_t{0}}),
      Tensor::FromVector<bool>({3}, {true, false, true}),
      Tensor::Create(tensorflow::DT_FLOAT, {0, 4}).value(),
      Tensor::FromStrings({2, 1}, {std::string("\0bin", 4), ""}),
      Tensor::FromStrings({0}, {}),
  };
  Tensor half = Tensor::Create(tensorflow::DT_HALF, {2}).value();
  half.flat<uint16_t>()[0] = 0x3c00;
  half.flat<uint16_t>()[1] = 0xfbff;
  tensors.push_back(half);
  for (const Tensor& t : tensors) {
    ASSERT_OK_AND_ASSIGN(Tensor back, TensorFromProto(TensorToProto(t)));
    EXPECT_TRUE(back.Equals(t)) << DataTypeName(t.dtype()) << " " << ShapeToString(t.shape());
  }
  const tensorflow::TensorProto strings = TensorToProto(tensors[11]);
  ASSERT_EQ(strings.string_val_size(), 2);
  EXPECT_EQ(strings.string_val(0), std::string("\0bin", 4));
  EXPECT_TRUE(strings.tensor_content().empty());
}

TEST(TensorProtoTest, TypedFieldsAsTensorFlowReadsThem) {
  tensorflow::TensorProto floats = Proto(tensorflow::DT_FLOAT, {2, 2});
  floats.add_float_val(1.0f);
  floats.add_float_val(2.0f);
  ASSERT_OK_AND_ASSIGN(Tensor f, TensorFromProto(floats));
  // Fewer values than elements: the last one repeats.
  EXPECT_TRUE(f.Equals(Tensor::FromVector<float>({2, 2}, {1.0f, 2.0f, 2.0f, 2.0f})));

  tensorflow::TensorProto fill = Proto(tensorflow::DT_INT64, {3});
  fill.add_int64_val(-9);
  ASSERT_OK_AND_ASSIGN(Tensor filled, TensorFromProto(fill));
  EXPECT_TRUE(filled.Equals(Tensor::FromVector<int64_t>({3}, {-9, -9, -9})));

  // No values at all: zeros.
  ASSERT_OK_AND_ASSIGN(Tensor zeros, TensorFromProto(Proto(tensorflow::DT_DOUBLE, {2})));
  EXPECT_TRUE(zeros.Equals(Tensor::FromVector<double>({2}, {0.0, 0.0})));

  tensorflow::TensorProto bytes = Proto(tensorflow::DT_UINT8, {2});
  bytes.add_int_val(7);
  bytes.add_int_val(200);
  ASSERT_OK_AND_ASSIGN(Tensor u8, TensorFromProto(bytes));
  EXPECT_TRUE(u8.Equals(Tensor::FromVector<uint8_t>({2}, {7, 200})));

  tensorflow::TensorProto bools = Proto(tensorflow::DT_BOOL, {2});
  bools.add_bool_val(true);
  bools.add_bool_val(false);
  ASSERT_OK_AND_ASSIGN(Tensor b, TensorFromProto(bools));
  EXPECT_TRUE(b.Equals(Tensor::FromVector<bool>({2}, {true, false})));

  tensorflow::TensorProto halves = Proto(tensorflow::DT_HALF, {2});
  halves.add_half_val(0x3c00);  // TensorFlow keeps half bits in half_val.
  halves.add_half_val(0xc100);
  ASSERT_OK_AND_ASSIGN(Tensor h, TensorFromProto(halves));
  EXPECT_EQ(h.flat<uint16_t>()[0], 0x3c00);
  EXPECT_EQ(h.flat<uint16_t>()[1], 0xc100);

  tensorflow::TensorProto strings = Proto(tensorflow::DT_STRING, {});
  strings.add_string_val("scalar");
  ASSERT_OK_AND_ASSIGN(Tensor s, TensorFromProto(strings));
  EXPECT_TRUE(s.Equals(Tensor::FromStrings({}, {"scalar"})));
}

TEST(TensorProtoTest, ExtraTypedValuesAreIgnoredAsInTensorFlow) {
  tensorflow::TensorProto proto = Proto(tensorflow::DT_FLOAT, {2});
  for (float v : {1.5f, 2.5f, 3.5f}) proto.add_float_val(v);
  ASSERT_OK_AND_ASSIGN(Tensor t, TensorFromProto(proto));
  EXPECT_EQ(std::vector<float>(t.flat<float>().begin(), t.flat<float>().end()),
            (std::vector<float>{1.5f, 2.5f}));
}

TEST(TensorProtoTest, Refusals) {
  tensorflow::TensorProto short_content = Proto(tensorflow::DT_INT32, {3});
  short_content.set_tensor_content(std::string(11, '\0'));
  EXPECT_TRUE(IsError(TensorFromProto(short_content).status(), absl::StatusCode::kInvalidArgument,
                      {"11", "12"}));

  tensorflow::TensorProto strings = Proto(tensorflow::DT_STRING, {3});
  strings.add_string_val("a");
  EXPECT_TRUE(
      IsError(TensorFromProto(strings).status(), absl::StatusCode::kInvalidArgument, {"[3]"}));

  tensorflow::TensorProto unknown = Proto(tensorflow::DT_FLOAT, {-1, 2});
  EXPECT_FALSE(TensorFromProto(unknown).ok());
  tensorflow::TensorProto overflow =
      Proto(tensorflow::DT_FLOAT, {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_FALSE(TensorFromProto(overflow).ok());

  EXPECT_TRUE(IsError(TensorFromProto(Proto(tensorflow::DT_RESOURCE, {})).status(),
                      absl::StatusCode::kUnimplemented));
  EXPECT_TRUE(IsError(TensorFromProto(Proto(tensorflow::DT_COMPLEX64, {1})).status(),
                      absl::StatusCode::kUnimplemented));

  // Over the byte limit: refused by the shape alone.
  EXPECT_TRUE(IsError(TensorFromProto(Proto(tensorflow::DT_FLOAT, {1000}), 3999).status(),
                      absl::StatusCode::kResourceExhausted, {"3999"}));
  EXPECT_OK(TensorFromProto(Proto(tensorflow::DT_FLOAT, {1000}), 4000));
  EXPECT_TRUE(IsError(TensorFromProto(Proto(tensorflow::DT_INT64, {int64_t{1} << 40})).status(),
                      absl::StatusCode::kResourceExhausted));
}

TEST(TensorProtoDeathTest, LimitIsCheckedBeforeAllocating) {
  // 2^31 floats (8 GiB) under the default 4 GiB limit, and a 1 GiB tensor
  // under a 1 MiB limit: neither may be allocated. The child may grow by 64
  // MiB at most.
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_TRUE_WITHIN_MEMORY(!TensorFromProto(Proto(tensorflow::DT_FLOAT, {int64_t{1} << 31})).ok(),
                            64 << 20);
  EXPECT_TRUE_WITHIN_MEMORY(
      !TensorFromProto(Proto(tensorflow::DT_FLOAT, {int64_t{1} << 28}), 1 << 20).ok(), 64 << 20);
}

}  // namespace
}  // namespace recship
