# Install rules and the CMake package, so that another project can
#
#   find_package(recship REQUIRED)
#   target_link_libraries(app PRIVATE recship::recship_serving)
#
# Installed: the layer libraries (static), the recship command, the public
# headers include/recship/**, the generated proto headers the public headers
# include (recship/tensorflow/**.pb.h, recship/tensorflow_serving/**.pb.h:
# TensorFlow's protos under package recship.tensorflow), and
# lib/cmake/recship/ with recshipConfig.cmake, its version file and the
# exported targets recship::<target>. examples/cpp builds against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RECSHIP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/recship)
# Every library of recship, lowest layer first.
set(RECSHIP_LIBRARIES
  recship_core
  recship_protos
  recship_grpc_protos
  recship_format
  recship_graph
  recship_model
  recship_export
  recship_runtime
  recship_serving
  recship_verify)

# The installed names inside the build tree too, for a project that adds
# recship with add_subdirectory or FetchContent.
foreach(lib ${RECSHIP_LIBRARIES})
  add_library(recship::${lib} ALIAS ${lib})
endforeach()

set(RECSHIP_INSTALLED_TARGETS ${RECSHIP_LIBRARIES})
if(TARGET recship)
  list(APPEND RECSHIP_INSTALLED_TARGETS recship)
endif()
install(TARGETS ${RECSHIP_INSTALLED_TARGETS}
  EXPORT recshipTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/recship
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
# The headers protoc and grpc_cpp_plugin generate (cmake/protos.cmake), each
# under its proto's path. Named one by one: build/gen holds other files too.
foreach(proto ${RECSHIP_PROTO_FILES})
  file(RELATIVE_PATH rel ${RECSHIP_PROTO_DIR} ${proto})
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  get_filename_component(dir ${rel} DIRECTORY)
  set(headers ${RECSHIP_PROTO_OUT}/${stem}.pb.h)
  if(rel IN_LIST RECSHIP_GRPC_PROTOS)
    list(APPEND headers ${RECSHIP_PROTO_OUT}/${stem}.grpc.pb.h)
  endif()
  install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir})
endforeach()

install(EXPORT recshipTargets
  NAMESPACE recship::
  DESTINATION ${RECSHIP_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/recshipConfig.cmake.in
  ${PROJECT_BINARY_DIR}/recshipConfig.cmake
  INSTALL_DESTINATION ${RECSHIP_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/recshipConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/recshipConfig.cmake
  ${PROJECT_BINARY_DIR}/recshipConfigVersion.cmake
  DESTINATION ${RECSHIP_INSTALL_CMAKEDIR})
