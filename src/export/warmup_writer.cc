#include "recship/export/warmup_writer.h"

#include <filesystem>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/proto_any.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_bundle.h"
#include "recship/format/tensor_json.h"
#include "recship/format/tensor_proto.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow_serving/apis/prediction_log.pb.h"

namespace recship {
namespace {

using json = nlohmann::json;
using Request = tensorflow::serving::PredictRequest;

constexpr int64_t kMaxKnownIds = 4096;

// Up to kMaxKnownIds ids found in the tables of the SavedModel's variables.
absl::StatusOr<std::vector<int64_t>> KnownIds(const std::string& dir) {
  std::vector<int64_t> ids;
  std::string prefix = VariablesPrefix(dir);
  if (!std::filesystem::exists(BundleIndexPath(prefix))) return ids;
  RECSHIP_ASSIGN_OR_RETURN(auto bundle, BundleReader::Open(prefix));
  for (const BundleEntry& entry : bundle->entries()) {
    if (!absl::EndsWith(entry.name, "-keys") || entry.dtype != tensorflow::DT_INT64 ||
        entry.shape.size() != 1) {
      continue;
    }
    int64_t n = std::min<int64_t>(entry.shape[0], kMaxKnownIds / 4);
    std::vector<int64_t> keys(static_cast<size_t>(n));
    RECSHIP_RETURN_IF_ERROR(bundle->ReadRows(entry.name, 0, n, keys.data()));
    ids.insert(ids.end(), keys.begin(), keys.end());
  }
  return ids;
}

class RequestGenerator {
 public:
  RequestGenerator(const tensorflow::SignatureDef& signature, std::vector<int64_t> known_ids,
                   int batch, uint64_t seed)
      : signature_(signature), known_(std::move(known_ids)), batch_(batch), rng_(seed) {}

  absl::StatusOr<Request> Next() {
    Request request;
    // In name order: a protobuf map's order differs from run to run.
    std::map<std::string, tensorflow::TensorInfo> inputs(signature_.inputs().begin(),
                                                         signature_.inputs().end());
    for (const auto& [name, info] : inputs) {
      if (request.inputs().contains(name)) continue;
      if (absl::EndsWith(name, "_values") && IsBag(name.substr(0, name.size() - 7))) {
        AddBag(name.substr(0, name.size() - 7), request);
      } else if (absl::EndsWith(name, "_indices") && IsBag(name.substr(0, name.size() - 8))) {
        AddBag(name.substr(0, name.size() - 8), request);
      } else if (absl::EndsWith(name, "_dense_shape") && IsBag(name.substr(0, name.size() - 12))) {
        AddBag(name.substr(0, name.size() - 12), request);
      } else {
        RECSHIP_ASSIGN_OR_RETURN(Tensor t, Dense(name, info));
        (*request.mutable_inputs())[name] = TensorToProto(t);
      }
    }
    return request;
  }

 private:
  bool IsBag(const std::string& base) const {
    for (const char* part : {"_indices", "_values", "_dense_shape"}) {
      if (!signature_.inputs().contains(base + part)) return false;
    }
    return true;
  }

  int64_t Id() {
    if (!known_.empty() && std::bernoulli_distribution(0.8)(rng_)) {
      return known_[std::uniform_int_distribution<size_t>(0, known_.size() - 1)(rng_)];
    }
    return std::uniform_int_distribution<int64_t>(-(int64_t{1} << 40), int64_t{1} << 40)(rng_);
  }

  void AddBag(const std::string& base, Request& request) {
    std::vector<int64_t> indices, values;
    int64_t longest = 0;
    for (int row = 0; row < batch_; ++row) {
      int64_t size = std::uniform_int_distribution<int64_t>(0, 4)(rng_);
      longest = std::max(longest, size);
      for (int64_t j = 0; j < size; ++j) {
        indices.insert(indices.end(), {row, j});
        values.push_back(Id());
      }
    }
    int64_t n = static_cast<int64_t>(values.size());
    auto& inputs = *request.mutable_inputs();
    inputs[base + "_indices"] = TensorToProto(Tensor::FromVector<int64_t>({n, 2}, indices));
    inputs[base + "_values"] = TensorToProto(Tensor::FromVector<int64_t>({n}, values));
    inputs[base + "_dense_shape"] =
        TensorToProto(Tensor::FromVector<int64_t>({2}, {int64_t{batch_}, longest}));
  }

  absl::StatusOr<Tensor> Dense(const std::string& name, const tensorflow::TensorInfo& info) {
    TensorShape shape;
    for (const auto& dim : info.tensor_shape().dim())
      shape.push_back(dim.size() < 0 ? batch_ : dim.size());
    RECSHIP_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(info.dtype(), shape));
    switch (info.dtype()) {
      case tensorflow::DT_FLOAT:
        for (float& v : t.flat<float>()) v = std::normal_distribution<float>()(rng_);
        break;
      case tensorflow::DT_INT64:
        for (int64_t& v : t.flat<int64_t>()) v = Id();
        break;
      case tensorflow::DT_INT32:
        for (int32_t& v : t.flat<int32_t>()) v = static_cast<int32_t>(rng_() % 100);
        break;
      default:
        return absl::UnimplementedError(absl::StrCat("input '", name, "' has dtype ",
                                                     DataTypeName(info.dtype()),
                                                     ": give warmup inputs as JSON instead"));
    }
    return t;
  }

  const tensorflow::SignatureDef& signature_;
  std::vector<int64_t> known_;
  int batch_;
  std::mt19937_64 rng_;
};

absl::StatusOr<std::vector<Request>> RequestsFromJson(const std::string& path,
                                                      const tensorflow::SignatureDef& signature) {
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 256 << 20));
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON list of requests"));
  }
  std::vector<Request> requests;
  for (size_t r = 0; r < root.size(); ++r) {
    if (!root[r].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": request ", r, " is not an object"));
    }
    Request request;
    for (const auto& [name, info] : signature.inputs()) {
      if (!root[r].contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": request ", r, " lacks input '", name, "'"));
      }
      auto t = TensorFromJson(root[r][name], info.dtype());
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": request ", r, ", input '", name, "': ", t.status().message()));
      }
      (*request.mutable_inputs())[name] = TensorToProto(*t);
    }
    for (const auto& [name, value] : root[r].items()) {
      if (!signature.inputs().contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": request ", r, ": '", name, "' is not an input of the signature"));
      }
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

}  // namespace

absl::StatusOr<std::vector<Request>> GenerateRequests(const tensorflow::SignatureDef& signature,
                                                      std::vector<int64_t> known_ids, int count,
                                                      int batch, uint64_t seed) {
  RequestGenerator generator(signature, std::move(known_ids), batch, seed);
  std::vector<Request> requests;
  for (int i = 0; i < count; ++i) {
    RECSHIP_ASSIGN_OR_RETURN(requests.emplace_back(), generator.Next());
  }
  return requests;
}

absl::Status WriteWarmupFile(const std::string& saved_model_dir, const std::string& out,
                             const WarmupOptions& options) {
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::SavedModel saved_model, ReadSavedModel(saved_model_dir));
  RECSHIP_ASSIGN_OR_RETURN(const tensorflow::MetaGraphDef* meta_graph,
                           FindMetaGraph(saved_model, {kServeTag}));
  auto it = meta_graph->signature_def().find(options.signature);
  if (it == meta_graph->signature_def().end()) {
    return absl::NotFoundError(
        absl::StrCat(saved_model_dir, " has no signature '", options.signature, "'"));
  }
  std::vector<Request> requests;
  if (!options.inputs_json.empty()) {
    RECSHIP_ASSIGN_OR_RETURN(requests, RequestsFromJson(options.inputs_json, it->second));
  } else {
    if (options.count < 1 || options.batch < 1) {
      return absl::InvalidArgumentError("warmup: count and batch must be at least 1");
    }
    RECSHIP_ASSIGN_OR_RETURN(std::vector<int64_t> known, KnownIds(saved_model_dir));
    RECSHIP_ASSIGN_OR_RETURN(requests, GenerateRequests(it->second, std::move(known), options.count,
                                                        options.batch, options.seed));
  }
  if (requests.size() > static_cast<size_t>(kMaxWarmupRecords)) {
    return absl::InvalidArgumentError(absl::StrCat("warmup: ", requests.size(),
                                                   " requests; TensorFlow Serving reads at most ",
                                                   kMaxWarmupRecords));
  }
  RECSHIP_ASSIGN_OR_RETURN(auto writer, TFRecordWriter::Create(out));
  for (Request& request : requests) {
    tensorflow::serving::PredictionLog log;
    request.mutable_model_spec()->set_signature_name(options.signature);
    *log.mutable_predict_log()->mutable_request() = std::move(request);
    RECSHIP_RETURN_IF_ERROR(writer->Write(SerializeDeterministically(log)));
  }
  return writer->Close();
}

}  // namespace recship
