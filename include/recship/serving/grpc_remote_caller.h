// The RemoteCaller of a model server: sends an entry model's calls over
// TensorFlow Serving's gRPC PredictionService, to the replicas the
// RemoteAddressResolver gives for each target ("h1:8500|h2:8500", or a name
// that resolves to several addresses).
//
// A lookup is idempotent, so a call is sent again to another replica when
// its replica fails (UNAVAILABLE) or when it has not answered within the
// hedging delay; the first answer wins and the others are cancelled. Each
// call gets at most RemoteCallOptions::timeout, and never more than the
// request that makes it has left. A replica that fails is ejected for a
// backoff and probed back in (src/serving/replica_set.h). When every replica
// of a shard fails, the call fails naming it, or, with
// zeros_on_failure, answers zero rows (what an unseen id gets), counted and
// logged once per 10 s. Thread-safe.
#ifndef RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_
#define RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recship/runtime/remote_call.h"
#include "recship/serving/remote_address_resolver.h"

namespace recship {

class RemoteModel;

struct RemoteCallOptions {
  // The most a call may take, hedges and retries included (the graph's
  // max_rpc_deadline_millis and the request's deadline may make it less).
  absl::Duration timeout = absl::Milliseconds(500);
  // After this long without an answer, the call is also sent to another
  // replica; unset: the 95th percentile of the target's recent calls (5 ms
  // until 20 calls are known). Zero turns hedging off.
  std::optional<absl::Duration> hedge;
  // When every replica fails: answer zero rows instead of failing.
  bool zeros_on_failure = false;
};

class GrpcRemoteCaller : public RemoteCaller {
 public:
  explicit GrpcRemoteCaller(RemoteAddressResolver resolver, RemoteCallOptions options = {});
  ~GrpcRemoteCaller() override;
  GrpcRemoteCaller(const GrpcRemoteCaller&) = delete;
  GrpcRemoteCaller& operator=(const GrpcRemoteCaller&) = delete;

  absl::StatusOr<std::unique_ptr<PendingPredict>> StartPredict(
      const RemoteTarget& target, tensorflow::serving::PredictRequest request,
      absl::Duration deadline) const override;

  absl::Status Probe(const std::vector<RemoteTarget>& targets,
                     absl::Duration timeout) const override;

  // Calls answered with zero rows (zeros_on_failure) since the start.
  int64_t zero_answers() const;

 private:
  absl::StatusOr<RemoteModel*> Model(const RemoteTarget& target) const;

  RemoteAddressResolver resolver_;
  RemoteCallOptions options_;
  mutable absl::Mutex mu_;
  // By address as resolved ("h1:8500|h2:8500").
  mutable std::map<std::string, std::unique_ptr<RemoteModel>> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_
