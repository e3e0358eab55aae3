#include "recship/format/proto_any.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace recship {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

}  // namespace

std::string TensorFlowTypeName(const google::protobuf::Message& message) {
  return std::string(absl::StripPrefix(message.GetDescriptor()->full_name(), "recship."));
}

void PackAny(const google::protobuf::Message& message, google::protobuf::Any* any) {
  any->set_type_url(absl::StrCat(kTypeUrlPrefix, TensorFlowTypeName(message)));
  any->set_value(SerializeDeterministically(message));
}

bool UnpackAny(const google::protobuf::Any& any, google::protobuf::Message* message) {
  absl::string_view url = any.type_url();
  size_t slash = url.rfind('/');
  absl::string_view type = slash == absl::string_view::npos ? url : url.substr(slash + 1);
  if (type != TensorFlowTypeName(*message) && type != message->GetDescriptor()->full_name()) {
    return false;
  }
  return message->ParseFromString(any.value());
}

std::string SerializeDeterministically(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.ByteSizeLong();  // Caches the sizes SerializeWithCachedSizes writes.
    message.SerializeWithCachedSizes(&coded);
  }
  return bytes;
}

}  // namespace recship
