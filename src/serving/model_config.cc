#include "recship/serving/model_config.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

using tensorflow::serving::ModelServerConfig;
using VersionPolicy = tensorflow::serving::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// Collects the text-format parser's complaints instead of logging them.
class ParseErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat("line ", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::Status ReadTextProtoFile(const std::string& path, google::protobuf::Message& message) {
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  google::protobuf::TextFormat::Parser parser;
  ParseErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &message)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a ", message.GetDescriptor()->name(), " in text format: ", errors.first()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPrometheusPath(const std::string& path) {
  tensorflow::serving::MonitoringConfig config;
  RECSHIP_RETURN_IF_ERROR(ReadTextProtoFile(path, config));
  if (!config.prometheus_config().enable()) return std::string();
  const std::string& where = config.prometheus_config().path();
  if (where.empty()) return std::string(kDefaultPrometheusPath);
  if (where[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": prometheus_config.path must start with '/', got '", where, "'"));
  }
  return where;
}

absl::StatusOr<ModelServerConfig> ReadModelServerConfig(const std::string& path) {
  ModelServerConfig config;
  RECSHIP_RETURN_IF_ERROR(ReadTextProtoFile(path, config));
  absl::Status valid = ValidateModelServerConfig(config);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", valid.message()));
  return config;
}

ModelServerConfig SingleModelConfig(const std::string& name, const std::string& base_path) {
  ModelServerConfig config;
  auto* model = config.mutable_model_config_list()->add_config();
  model->set_name(name);
  model->set_base_path(base_path);
  return config;
}

absl::Status ValidateModelServerConfig(const ModelServerConfig& config) {
  std::set<std::string> names;
  for (const auto& model : config.model_config_list().config()) {
    if (model.name().empty()) return absl::InvalidArgumentError("a model has no name");
    if (!names.insert(model.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("model '", model.name(), "' appears twice"));
    }
    if (model.base_path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", model.name(), "' has no base_path"));
    }
    if (!model.model_platform().empty() && model.model_platform() != "tensorflow") {
      return absl::InvalidArgumentError(absl::StrCat("model '", model.name(), "': platform '",
                                                     model.model_platform(),
                                                     "' is not supported (only tensorflow)"));
    }
  }
  if (names.empty()) return absl::InvalidArgumentError("no model is configured");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& base_path) {
  std::error_code ec;
  std::filesystem::directory_iterator it(base_path, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list model base path ", base_path, ": ", ec.message()));
  }
  std::vector<int64_t> versions;
  // Advanced with an error code: a folder changing while it is listed must
  // not throw.
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& entry = *it;
    int64_t version = 0;
    std::string name = entry.path().filename().string();
    bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit);
    std::error_code dir_ec;
    if (numeric && absl::SimpleAtoi(name, &version) && entry.is_directory(dir_ec)) {
      versions.push_back(version);
    }
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot list model base path ", base_path, ": ", ec.message()));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

std::vector<int64_t> AspiredVersions(const VersionPolicy& policy,
                                     const std::vector<int64_t>& on_disk) {
  if (policy.has_all()) return on_disk;
  if (policy.has_specific()) {
    std::vector<int64_t> wanted;
    for (int64_t v : on_disk) {
      if (std::find(policy.specific().versions().begin(), policy.specific().versions().end(), v) !=
          policy.specific().versions().end()) {
        wanted.push_back(v);
      }
    }
    return wanted;
  }
  // As in TensorFlow Serving, num_versions 0 means the default, 1.
  size_t n = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
  n = std::min(n, on_disk.size());
  return std::vector<int64_t>(on_disk.end() - static_cast<std::ptrdiff_t>(n), on_disk.end());
}

}  // namespace recship
