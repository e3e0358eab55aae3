#include "recship/runtime/remote_predict.h"

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "tensorflow_serving/apis/prediction_service.grpc.pb.h"

namespace recship::runtime {
namespace {

// The digits ending `key` ("ps_12" -> "12"); empty when it ends in none.
absl::string_view TrailingNumber(absl::string_view key) {
  size_t start = key.size();
  while (start > 0 && absl::ascii_isdigit(static_cast<unsigned char>(key[start - 1]))) --start;
  return key.substr(start);
}

}  // namespace

absl::StatusOr<RemoteAddressResolver> RemoteAddressResolver::Create(
    absl::string_view addresses, absl::string_view address_template) {
  RemoteAddressResolver resolver;
  for (absl::string_view entry : absl::StrSplit(addresses, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t eq = entry.find('=');
    absl::string_view key = eq == absl::string_view::npos ? "" : entry.substr(0, eq);
    absl::string_view address = eq == absl::string_view::npos ? "" : entry.substr(eq + 1);
    if (key.empty() || address.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--remote_addresses: '", entry, "' is not key=HOST:PORT (e.g. ps_0=10.0.0.1:8500)"));
    }
    if (!resolver.addresses_.emplace(std::string(key), std::string(address)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--remote_addresses: '", key, "' is given twice"));
    }
  }
  for (size_t open = address_template.find('{'); open != absl::string_view::npos;
       open = address_template.find('{', open + 1)) {
    size_t close = address_template.find('}', open);
    absl::string_view name = close == absl::string_view::npos
                                 ? address_template.substr(open)
                                 : address_template.substr(open + 1, close - open - 1);
    if (name != "i" && name != "name") {
      return absl::InvalidArgumentError(
          absl::StrCat("--remote_address_template '", address_template,
                       "': only {i} (the number ending the sub-model key) and {name} (the key) "
                       "may be used"));
    }
  }
  resolver.template_ = std::string(address_template);
  return resolver;
}

std::string RemoteAddressResolver::SubModelKey(absl::string_view model_name) {
  size_t colon = model_name.rfind(':');
  return std::string(colon == absl::string_view::npos ? model_name : model_name.substr(colon + 1));
}

absl::StatusOr<std::string> RemoteAddressResolver::Resolve(absl::string_view model_name,
                                                           absl::string_view target_address) const {
  if (!target_address.empty()) return std::string(target_address);
  std::string key = SubModelKey(model_name);
  for (const std::string& name : {std::string(model_name), key}) {
    auto it = addresses_.find(name);
    if (it != addresses_.end()) return it->second;
  }
  if (!template_.empty()) {
    absl::string_view number = TrailingNumber(key);
    if (number.empty() && absl::StrContains(template_, "{i}")) {
      return absl::FailedPreconditionError(
          absl::StrCat("no address for remote model '", model_name, "': its key '", key,
                       "' ends in no number for the {i} of --remote_address_template '", template_,
                       "'; give --remote_addresses=", key, "=HOST:PORT"));
    }
    return absl::StrReplaceAll(template_, {{"{i}", number}, {"{name}", key}});
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no address for remote model '", model_name, "' (key '", key,
                   "'): give recship serve --remote_addresses=", key,
                   "=HOST:PORT,... or --remote_address_template (e.g. 'ps-{i}.svc:8500')"));
}

RemoteChannelCache::RemoteChannelCache() = default;
RemoteChannelCache::~RemoteChannelCache() = default;

std::shared_ptr<grpc::Channel> RemoteChannelCache::Get(const std::string& address) const {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    // Shard responses carry embedding rows for a whole batch.
    args.SetMaxReceiveMessageSize(INT_MAX);
    args.SetMaxSendMessageSize(INT_MAX);
    // gRPC's default backoff grows to two minutes; a shard that restarts
    // should serve again within about a second.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return channel;
}

std::vector<RemoteTarget> RemoteTargets(const tensorflow::GraphDef& graph) {
  std::vector<RemoteTarget> targets;
  for (const tensorflow::NodeDef& node : graph.node()) {
    if (node.op() != "TfServingRemotePredict") continue;
    RemoteTarget target;
    auto attr = [&](const char* name) -> const tensorflow::AttrValue* {
      auto it = node.attr().find(name);
      return it == node.attr().end() ? nullptr : &it->second;
    };
    if (const auto* a = attr("model_name")) target.model_name = a->s();
    if (const auto* a = attr("target_address")) target.target_address = a->s();
    if (const auto* a = attr("model_version")) target.model_version = a->i();
    if (std::find(targets.begin(), targets.end(), target) == targets.end()) {
      targets.push_back(std::move(target));
    }
  }
  return targets;
}

namespace {

// One GetModelMetadata call in flight.
struct Probe {
  std::string what;  // "model 'ctr:ps_0' at HOST:PORT"
  grpc::ClientContext context;
  tensorflow::serving::GetModelMetadataRequest request;
  tensorflow::serving::GetModelMetadataResponse response;
  std::unique_ptr<tensorflow::serving::PredictionService::Stub> stub;
  grpc::Status status;
};

}  // namespace

absl::Status ProbeRemoteTargets(const RemotePredictOptions& remote,
                                const std::vector<RemoteTarget>& targets, absl::Duration timeout) {
  std::vector<std::string> failures;
  std::vector<std::unique_ptr<Probe>> probes;
  absl::Mutex mu;
  size_t pending = 0;
  for (const RemoteTarget& target : targets) {
    absl::StatusOr<std::string> address =
        remote.resolver.Resolve(target.model_name, target.target_address);
    if (!address.ok()) {
      failures.push_back(std::string(address.status().message()));
      continue;
    }
    auto probe = std::make_unique<Probe>();
    probe->what = absl::StrCat("model '", target.model_name, "' at ", *address);
    probe->request.mutable_model_spec()->set_name(target.model_name);
    if (target.model_version >= 0) {
      probe->request.mutable_model_spec()->mutable_version()->set_value(target.model_version);
    }
    probe->request.add_metadata_field("signature_def");
    probe->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    probe->stub = tensorflow::serving::PredictionService::NewStub(remote.channels.Get(*address));
    probes.push_back(std::move(probe));
  }
  pending = probes.size();
  for (auto& probe : probes) {
    Probe* p = probe.get();
    p->stub->async()->GetModelMetadata(&p->context, &p->request, &p->response,
                                       [p, &mu, &pending](grpc::Status status) {
                                         absl::MutexLock lock(&mu);
                                         p->status = std::move(status);
                                         --pending;
                                       });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](size_t* n) { return *n == 0; }, &pending));
  }
  for (const auto& probe : probes) {
    if (!probe->status.ok()) {
      failures.push_back(absl::StrCat(probe->what, ": ", probe->status.error_message()));
    }
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(failures, "; "));
}

}  // namespace recship::runtime
