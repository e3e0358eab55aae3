// Protos as TensorFlow writes them: google.protobuf.Any with TensorFlow's
// type names, and deterministic bytes.
//
// recship compiles TensorFlow's protos under its own package
// (recship.tensorflow, wire-compatible), so protobuf's Any::PackFrom would
// write "type.googleapis.com/recship.tensorflow.serving.SignatureDefMap",
// which TensorFlow's clients do not unpack. These write and read the type URL
// TensorFlow uses ("type.googleapis.com/tensorflow.serving.SignatureDefMap").
#ifndef RECSHIP_FORMAT_PROTO_ANY_H_
#define RECSHIP_FORMAT_PROTO_ANY_H_

#include <string>

#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"

namespace recship {

// The message's full name as TensorFlow spells it: without "recship.".
std::string TensorFlowTypeName(const google::protobuf::Message& message);

void PackAny(const google::protobuf::Message& message, google::protobuf::Any* any);

// False when `any` holds another type or does not parse.
bool UnpackAny(const google::protobuf::Any& any, google::protobuf::Message* message);

// The message's bytes with map entries in key order, as TensorFlow writes
// saved_model.pb (SerializeToString(deterministic=True)): the same message
// gives the same bytes in every process, so exports are reproducible.
std::string SerializeDeterministically(const google::protobuf::Message& message);

}  // namespace recship

#endif  // RECSHIP_FORMAT_PROTO_ANY_H_
