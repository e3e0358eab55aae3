#include "src/serving/replica_set.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpcpp/grpcpp.h"

namespace recship {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kLastBackoff = absl::Seconds(2);
constexpr int64_t kMinSamples = 20;
constexpr int kHedgesLostToEject = 3;

// What says a replica is down or stuck, rather than that the request is bad.
bool EjectsReplica(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace

void LatencyWindow::Record(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  const int64_t micros = absl::ToInt64Microseconds(latency);
  if (micros_.size() < kSize) {
    micros_.push_back(micros);
  } else {
    micros_[next_] = micros;
  }
  next_ = (next_ + 1) % kSize;
  ++recorded_;
}

absl::Duration LatencyWindow::P95(absl::Duration otherwise) const {
  absl::MutexLock lock(&mu_);
  if (recorded_ < kMinSamples) return otherwise;
  // Sorting 1,000 numbers costs microseconds: redo it every 64 calls.
  if (p95_at_ < 0 || recorded_ - p95_at_ >= 64) {
    std::vector<int64_t> sorted = micros_;
    const size_t at = sorted.size() * 95 / 100;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(at), sorted.end());
    p95_ = sorted[at];
    p95_at_ = recorded_;
  }
  return absl::Microseconds(p95_);
}

std::shared_ptr<grpc::Channel> MakeReplicaChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // Shard responses carry embedding rows for a whole batch.
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  // gRPC's default backoff grows to two minutes; a shard that restarts
  // should serve again within about a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A name with several addresses is spread over them, each health checked
  // through the server's grpc.health.v1 service (recship serve has one).
  args.SetServiceConfigJSON(
      R"({"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}})");
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

ReplicaSet::ReplicaSet(const std::string& addresses) {
  for (absl::string_view address : absl::StrSplit(addresses, '|', absl::SkipWhitespace())) {
    address = absl::StripAsciiWhitespace(address);
    replicas_.push_back({std::string(address), MakeReplicaChannel(std::string(address))});
  }
  if (replicas_.empty()) replicas_.push_back({addresses, MakeReplicaChannel(addresses)});
  absl::MutexLock lock(&mu_);
  health_.resize(replicas_.size());
}

int ReplicaSet::Pick(const std::vector<int>& avoid) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  const int n = size();
  int fallback = -1;  // The ejected replica re-admitted soonest.
  for (int k = 0; k < n; ++k) {
    const int i = static_cast<int>((next_ + static_cast<uint64_t>(k)) % static_cast<uint64_t>(n));
    if (std::find(avoid.begin(), avoid.end(), i) != avoid.end()) continue;
    if (health_[i].ejected_until <= now) {
      next_ = static_cast<uint64_t>(i) + 1;
      return i;
    }
    if (fallback < 0 || health_[i].ejected_until < health_[fallback].ejected_until) fallback = i;
  }
  return fallback;
}

void ReplicaSet::Eject(Health& h) {
  h.backoff =
      h.backoff == absl::ZeroDuration() ? kFirstBackoff : std::min(h.backoff * 2, kLastBackoff);
  h.ejected_until = absl::Now() + h.backoff;
  h.hedges_lost = 0;
}

void ReplicaSet::Report(int replica, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  Health& h = health_[replica];
  if (status.ok()) {
    h = Health{};
  } else if (EjectsReplica(status)) {
    Eject(h);
  }
}

void ReplicaSet::ReportSlow(int replica) {
  absl::MutexLock lock(&mu_);
  Health& h = health_[replica];
  if (++h.hedges_lost >= kHedgesLostToEject) Eject(h);
}

bool ReplicaSet::ejected(int replica) const {
  absl::MutexLock lock(&mu_);
  return health_[replica].ejected_until > absl::Now();
}

}  // namespace recship
