// The RemoteCaller of a model server: sends an entry model's calls over
// TensorFlow Serving's gRPC PredictionService, to the address the
// RemoteAddressResolver gives for each target.
//
// One gRPC channel per address, created on first use and reused by every
// request and session afterwards. gRPC channels reconnect by themselves; the
// caller keeps their reconnect backoff short (at most a second) so that a
// shard that comes back is used again promptly. Thread-safe.
#ifndef RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_
#define RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "recship/runtime/remote_call.h"
#include "recship/serving/remote_address_resolver.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace recship {

class GrpcRemoteCaller : public RemoteCaller {
 public:
  explicit GrpcRemoteCaller(RemoteAddressResolver resolver);
  ~GrpcRemoteCaller() override;
  GrpcRemoteCaller(const GrpcRemoteCaller&) = delete;
  GrpcRemoteCaller& operator=(const GrpcRemoteCaller&) = delete;

  absl::StatusOr<std::unique_ptr<PendingPredict>> StartPredict(
      const RemoteTarget& target, tensorflow::serving::PredictRequest request,
      absl::Duration deadline) const override;

  absl::Status Probe(const std::vector<RemoteTarget>& targets,
                     absl::Duration timeout) const override;

 private:
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) const;

  RemoteAddressResolver resolver_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace recship

#endif  // RECSHIP_SERVING_GRPC_REMOTE_CALLER_H_
