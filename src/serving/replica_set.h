// The replicas of one remote sub-model (private to serving/), and which to
// call next.
//
// An address given to --remote_addresses or made by the template may list
// replicas, "h1:8500|h2:8500"; each gets its own gRPC channel, so a call can
// be sent to a replica other than the one that failed or is slow. A name
// that resolves to several addresses (a Kubernetes headless Service,
// "dns:///ps-0.svc:8500") is one channel that gRPC's round_robin policy
// spreads over them, with gRPC's client-side health checking (the servers'
// grpc.health.v1 service) taking unhealthy ones out.
//
// A replica whose call fails (UNAVAILABLE, or DEADLINE_EXCEEDED), or that
// loses three races to a hedge in a row, is ejected for a backoff, 100 ms
// doubling up to 2 s; after it, the next call it gets
// is its probe: success re-admits it, failure ejects it again. Replicas are
// picked round robin among those not ejected. Thread-safe.
#ifndef RECSHIP_SRC_SERVING_REPLICA_SET_H_
#define RECSHIP_SRC_SERVING_REPLICA_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace recship {

// The latencies of recent successful calls, for the hedging delay: their
// 95th percentile.
class LatencyWindow {
 public:
  void Record(absl::Duration latency);
  // The 95th percentile of the last 1,000 calls, or `otherwise` before 20.
  absl::Duration P95(absl::Duration otherwise) const;

 private:
  static constexpr size_t kSize = 1000;
  mutable absl::Mutex mu_;
  std::vector<int64_t> micros_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t p95_at_ ABSL_GUARDED_BY(mu_) = -1;  // recorded_ when cached.
  mutable int64_t p95_ ABSL_GUARDED_BY(mu_) = 0;
};

class ReplicaSet {
 public:
  // `addresses` as given ("h1:8500|h2:8500", or one address).
  explicit ReplicaSet(const std::string& addresses);

  int size() const { return static_cast<int>(replicas_.size()); }
  const std::string& address(int replica) const { return replicas_[replica].address; }
  const std::shared_ptr<grpc::Channel>& channel(int replica) const {
    return replicas_[replica].channel;
  }

  // The replica to call next among those not in `avoid`: the next one round
  // robin that is not ejected, else the one re-admitted soonest; -1 when
  // every replica is in `avoid`.
  int Pick(const std::vector<int>& avoid);
  // How a call to `replica` ended: a failure that says the replica is down
  // or stuck ejects it; success re-admits it.
  void Report(int replica, const absl::Status& status);
  // `replica` lost a race to a hedge (it had not answered when another
  // replica did): three in a row eject it as a failure would, so a stuck
  // replica (a stopped host, whose connection stays up) stops getting calls.
  void ReportSlow(int replica);
  bool ejected(int replica) const;

  LatencyWindow& latencies() { return latencies_; }

 private:
  struct Replica {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
  };
  struct Health {
    absl::Time ejected_until = absl::InfinitePast();
    absl::Duration backoff = absl::ZeroDuration();
    int hedges_lost = 0;  // In a row.
  };
  void Eject(Health& h) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<Replica> replicas_;  // Immutable after construction.
  mutable absl::Mutex mu_;
  std::vector<Health> health_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  LatencyWindow latencies_;
};

// The channel to one address: large messages, a short reconnect backoff,
// round_robin with client-side health checking.
std::shared_ptr<grpc::Channel> MakeReplicaChannel(const std::string& address);

}  // namespace recship

#endif  // RECSHIP_SRC_SERVING_REPLICA_SET_H_
