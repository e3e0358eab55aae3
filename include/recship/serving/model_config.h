// Which models a server serves: TensorFlow Serving's ModelServerConfig (the
// subset in proto/tensorflow_serving/config/), read from its text format or
// made from --model_name/--model_base_path, and the version policy that
// picks the versions on disk to serve.
#ifndef RECSHIP_SERVING_MODEL_CONFIG_H_
#define RECSHIP_SERVING_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"
#include "recship/tensorflow_serving/config/monitoring_config.pb.h"

namespace recship {

// Parses a --model_config_file. Errors name the file, and the line for a
// syntax error; every model must have a unique name and a base_path.
absl::StatusOr<tensorflow::serving::ModelServerConfig> ReadModelServerConfig(
    const std::string& path);

// Reads `path` as `message` in text format; errors name the file, the
// message type and the line.
absl::Status ReadTextProtoFile(const std::string& path, google::protobuf::Message& message);

// TensorFlow Serving's default prometheus_config path.
inline constexpr char kDefaultPrometheusPath[] = "/monitoring/prometheus/metrics";

// Reads a --monitoring_config_file (MonitoringConfig in text format): the
// path to answer Prometheus' scrapes on, empty when it is not enabled.
absl::StatusOr<std::string> ReadPrometheusPath(const std::string& path);

// One model with the default policy (the latest version).
tensorflow::serving::ModelServerConfig SingleModelConfig(const std::string& name,
                                                         const std::string& base_path);

// Checks names and base paths.
absl::Status ValidateModelServerConfig(const tensorflow::serving::ModelServerConfig& config);

// The numeric version folders under `base_path`, ascending. Other entries
// (temp-<v>, files) are ignored, as TensorFlow Serving ignores them.
absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& base_path);

// The versions `policy` asks for among `on_disk` (ascending), ascending.
// A specific version that is not on disk is simply absent.
std::vector<int64_t> AspiredVersions(
    const tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy& policy,
    const std::vector<int64_t>& on_disk);

}  // namespace recship

#endif  // RECSHIP_SERVING_MODEL_CONFIG_H_
