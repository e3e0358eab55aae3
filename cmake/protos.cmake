# Compiles proto/ with Debian's protoc into the recship_protos library. The
# .proto files mirror TensorFlow's package names and field numbers.
set(RECSHIP_PROTO_DIR ${PROJECT_SOURCE_DIR}/proto)
set(RECSHIP_PROTO_OUT ${PROJECT_BINARY_DIR}/gen)
file(GLOB_RECURSE RECSHIP_PROTO_FILES CONFIGURE_DEPENDS ${RECSHIP_PROTO_DIR}/*.proto)
file(MAKE_DIRECTORY ${RECSHIP_PROTO_OUT})

set(RECSHIP_PROTO_SRCS)
foreach(proto ${RECSHIP_PROTO_FILES})
  file(RELATIVE_PATH rel ${RECSHIP_PROTO_DIR} ${proto})
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  set(cc ${RECSHIP_PROTO_OUT}/${stem}.pb.cc)
  set(h ${RECSHIP_PROTO_OUT}/${stem}.pb.h)
  add_custom_command(
    OUTPUT ${cc} ${h}
    COMMAND protobuf::protoc --proto_path=${RECSHIP_PROTO_DIR} --cpp_out=${RECSHIP_PROTO_OUT} ${rel}
    DEPENDS ${proto} protobuf::protoc
    WORKING_DIRECTORY ${RECSHIP_PROTO_DIR}
    COMMENT "protoc ${rel}")
  list(APPEND RECSHIP_PROTO_SRCS ${cc})
endforeach()

add_library(recship_protos ${RECSHIP_PROTO_SRCS})
target_include_directories(recship_protos PUBLIC $<BUILD_INTERFACE:${RECSHIP_PROTO_OUT}>)
target_link_libraries(recship_protos PUBLIC protobuf::libprotobuf)
# Generated code is not ours to warn about.
target_compile_options(recship_protos PRIVATE -w)

# gRPC stubs for the services recship serves and calls, in their own library
# so that only the runtime (TfServingRemotePredict's client) and the serving
# layer link gRPC.
find_package(gRPC CONFIG REQUIRED)
set(RECSHIP_GRPC_PROTOS recship/tensorflow_serving/apis/prediction_service.proto
                        recship/tensorflow_serving/apis/model_service.proto)
set(RECSHIP_GRPC_SRCS)
foreach(rel ${RECSHIP_GRPC_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  set(cc ${RECSHIP_PROTO_OUT}/${stem}.grpc.pb.cc)
  add_custom_command(
    OUTPUT ${cc} ${RECSHIP_PROTO_OUT}/${stem}.grpc.pb.h
    COMMAND protobuf::protoc --proto_path=${RECSHIP_PROTO_DIR} --grpc_out=${RECSHIP_PROTO_OUT}
      --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin> ${rel}
    DEPENDS ${RECSHIP_PROTO_DIR}/${rel} protobuf::protoc gRPC::grpc_cpp_plugin
    WORKING_DIRECTORY ${RECSHIP_PROTO_DIR}
    COMMENT "grpc_cpp_plugin ${rel}")
  list(APPEND RECSHIP_GRPC_SRCS ${cc})
endforeach()
add_library(recship_grpc_protos ${RECSHIP_GRPC_SRCS})
target_link_libraries(recship_grpc_protos PUBLIC recship_protos gRPC::grpc++)
target_compile_options(recship_grpc_protos PRIVATE -w)
