// gRPC answers a request whose bytes do not parse as the method's protobuf
// message with INTERNAL and an empty message, as TensorFlow Serving does.
// This interceptor turns that answer into INVALID_ARGUMENT naming the method
// and the message type expected: the fault is the client's. It changes no
// other call, and costs one small object per call (no parsing of its own).
#ifndef RECSHIP_SERVING_PARSE_ERROR_INTERCEPTOR_H_
#define RECSHIP_SERVING_PARSE_ERROR_INTERCEPTOR_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace recship {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeParseErrorInterceptorFactory();

}  // namespace recship

#endif  // RECSHIP_SERVING_PARSE_ERROR_INTERCEPTOR_H_
