#include "src/serving/rest_api.h"

#include <optional>
#include <regex>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "recship/core/status_macros.h"
#include "recship/format/proto_any.h"
#include "recship/format/saved_model.h"
#include "recship/serving/metrics.h"
#include "recship/serving/prediction_service.h"
#include "recship/serving/serving_metrics.h"
#include "src/serving/json_outputs.h"
#include "src/serving/json_tensor.h"

namespace recship {
namespace {

// A parsed JSON body takes up to this many bytes per byte of text (a
// document node is 16 bytes; "1," is two); charged to the server's memory
// budget while the request runs.
constexpr uint64_t kJsonBytesPerByte = 16;

// TensorFlow Serving's paths (http_rest_api_util.cc), case-insensitive.
const std::regex& PostPath() {
  static const auto* re = new std::regex(
      R"(/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict))",
      std::regex::icase | std::regex::ECMAScript);
  return *re;
}
const std::regex& GetPath() {
  static const auto* re = new std::regex(
      R"(/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?)",
      std::regex::icase | std::regex::ECMAScript);
  return *re;
}

// `text` with its %XX escapes decoded; nullopt for a broken one.
std::optional<std::string> PercentDecoded(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int byte = 0;
    if (i + 2 >= text.size() ||
        !absl::SimpleHexAtoi(absl::string_view(text).substr(i + 1, 2), &byte)) {
      return std::nullopt;
    }
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

// The model spec of a path's name, version and label groups (the name and
// label percent-decoded: a sub-model "ctr:ps_0" is "ctr%3Aps_0" in a path).
absl::StatusOr<tensorflow::serving::ModelSpec> SpecOf(const std::smatch& m) {
  tensorflow::serving::ModelSpec spec;
  if (!m[1].matched) return absl::InvalidArgumentError("Missing model name in request.");
  std::optional<std::string> name = PercentDecoded(m[1].str());
  if (!name) return absl::InvalidArgumentError("Failed to decode model name:" + m[1].str());
  spec.set_name(*name);
  if (m[2].matched) {
    int64_t version;
    if (!absl::SimpleAtoi(m[2].str(), &version)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Failed to convert version: ", m[2].str(), " to numeric."));
    }
    spec.mutable_version()->set_value(version);
  }
  if (m[3].matched) {
    std::optional<std::string> label = PercentDecoded(m[3].str());
    if (!label) {
      return absl::InvalidArgumentError("Failed to decode model version label:" + m[3].str());
    }
    spec.set_version_label(*label);
  }
  return spec;
}

std::string ToJson(const google::protobuf::Message& message, bool proto_names) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = proto_names;
  std::string json;
  // Our own messages always print.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

HttpReply Reply(const absl::StatusOr<std::string>& body) {
  if (body.ok()) return {200, *body};
  return {HttpCode(body.status().code()), ErrorJson(body.status().message())};
}

}  // namespace

int HttpCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpReply RestApi::Handle(absl::string_view method, absl::string_view path,
                          absl::string_view body) const {
  const std::string target(path);
  if (!prometheus_path_.empty() && method == "GET" && target == prometheus_path_) {
    return {200, Metrics::Global().RenderPrometheus(), "text/plain; version=0.0.4"};
  }
  std::smatch m;
  if (method == "POST" && std::regex_match(target, m, PostPath())) {
    absl::StatusOr<tensorflow::serving::ModelSpec> spec = SpecOf(m);
    if (!spec.ok()) return Reply(spec.status());
    if (m[4].str() != "predict" && m[4].str() != "PREDICT") {
      return Reply(absl::UnimplementedError(
          absl::StrCat(m[4].str(), " is not supported by recship serve; use :predict")));
    }
    const absl::Time start = absl::Now();
    const std::string model = spec->name();
    absl::StatusOr<std::string> answer = Predict(*std::move(spec), body);
    RecordRequest(model, "predict", "REST", answer.status(), absl::Now() - start);
    return Reply(answer);
  }
  if (method == "GET" && std::regex_match(target, m, GetPath())) {
    absl::StatusOr<tensorflow::serving::ModelSpec> spec = SpecOf(m);
    if (!spec.ok()) return Reply(spec.status());
    return Reply(m[4].matched ? Metadata(*spec) : Status(*spec));
  }
  if (!absl::StartsWith(target, "/v1/")) {
    return {404, ErrorJson(absl::StrCat("no such path: ", target, " (the API is under /v1/)"))};
  }
  return Reply(absl::InvalidArgumentError(absl::StrCat("Malformed request: ", method, " ", path)));
}

absl::StatusOr<std::string> RestApi::Status(const tensorflow::serving::ModelSpec& spec) const {
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::serving::GetModelStatusResponse status,
                           manager_->GetStatus(spec));
  return ToJson(status, false);
}

absl::StatusOr<std::string> RestApi::Metadata(const tensorflow::serving::ModelSpec& spec) const {
  RECSHIP_ASSIGN_OR_RETURN(ServableHandle servable, manager_->Get(spec));
  tensorflow::serving::ModelSpec resolved;
  resolved.set_name(servable.name);
  resolved.mutable_version()->set_value(servable.version);
  tensorflow::serving::SignatureDefMap signatures;
  signatures.mutable_signature_def()->insert(servable.model->meta_graph().signature_def().begin(),
                                             servable.model->meta_graph().signature_def().end());
  return absl::StrCat("{\n\"model_spec\":", ToJson(resolved, true), ",\n\"metadata\": {",
                      "\"signature_def\": ", ToJson(signatures, true), "}\n}\n");
}

absl::StatusOr<std::string> RestApi::Predict(tensorflow::serving::ModelSpec spec,
                                             absl::string_view body) const {
  // The parsed document is bounded by the server's memory budget.
  const uint64_t charge = body.size() * kJsonBytesPerByte;
  if (limits_.memory != nullptr) RECSHIP_RETURN_IF_ERROR(limits_.memory->Reserve(charge));
  absl::Cleanup release = [&] {
    if (limits_.memory != nullptr) limits_.memory->Release(charge);
  };
  RECSHIP_ASSIGN_OR_RETURN(ServableHandle servable, manager_->Get(spec));
  RECSHIP_ASSIGN_OR_RETURN(JsonPredictBody parsed, ParseJsonPredictBody(body));
  const std::string signature_name =
      parsed.signature_name.empty() ? kDefaultServingSignatureKey : parsed.signature_name;
  const auto& signatures = servable.model->meta_graph().signature_def();
  auto signature = signatures.find(signature_name);
  if (signature == signatures.end()) {
    return absl::InvalidArgumentError(absl::StrCat("Serving signature name: \"", signature_name,
                                                   "\" not found in signature def"));
  }
  tensorflow::serving::PredictRequest request;
  *request.mutable_model_spec() = std::move(spec);
  request.mutable_model_spec()->set_signature_name(signature_name);
  RECSHIP_RETURN_IF_ERROR(FillPredictInputs(parsed, signature->second, &request));
  parsed.json = nlohmann::json();  // The tensors hold the values now.
  tensorflow::serving::PredictResponse response;
  RECSHIP_RETURN_IF_ERROR(ServePredict(servable, request, limits_, writer_, batcher_,
                                       absl::Now() + timeout_, &response));
  return PredictResponseJson(response, parsed.row_format);
}

}  // namespace recship
