// What the TfServingRemotePredict kernel asks of its process: to send a
// Predict to a model served elsewhere (an entry model calls its shards as
// "<model>:ps_<i>"). RemoteCaller is the seam: the serving layer implements
// it over gRPC (serving/grpc_remote_caller.h), tests with a fake, so the
// runtime neither links gRPC nor needs a socket to be tested.
#ifndef RECSHIP_RUNTIME_REMOTE_CALL_H_
#define RECSHIP_RUNTIME_REMOTE_CALL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recship/tensorflow/core/framework/graph.pb.h"
#include "recship/tensorflow_serving/apis/predict.pb.h"

namespace recship {

// A model that a graph's TfServingRemotePredict nodes call.
struct RemoteTarget {
  std::string model_name;
  std::string target_address;  // The node's attr; empty to resolve.
  int64_t model_version = -1;  // -1: the latest.
  bool operator==(const RemoteTarget&) const = default;
};

// The distinct targets of `graph`'s TfServingRemotePredict nodes, in node
// order.
std::vector<RemoteTarget> RemoteTargets(const tensorflow::GraphDef& graph);

// One Predict in flight. Destroying it before it ends cancels the call.
class PendingPredict {
 public:
  virtual ~PendingPredict() = default;
  // Blocks until the call ends and returns how it ended: OK, or the remote
  // error with its code (gRPC's and absl's codes share their numbers).
  virtual absl::Status Wait() = 0;
  // The response; complete once Wait() returned OK.
  virtual const tensorflow::serving::PredictResponse& response() const = 0;
  // Where the call went ("HOST:PORT"), for messages.
  virtual const std::string& address() const = 0;
};

// Sends calls to other model servers. Thread-safe: one caller serves every
// session of a process.
class RemoteCaller {
 public:
  virtual ~RemoteCaller() = default;

  // Starts `request` to `target`, to end within `deadline`. An error means
  // nothing was sent (say, no address is known for the target: then
  // FailedPrecondition naming the model and the flag to give).
  virtual absl::StatusOr<std::unique_ptr<PendingPredict>> StartPredict(
      const RemoteTarget& target, tensorflow::serving::PredictRequest request,
      absl::Duration deadline) const = 0;

  // Asks every target for its metadata, all at once, each within `timeout`:
  // OK when all answer, else Unavailable naming each target that did not,
  // with its address and what went wrong.
  virtual absl::Status Probe(const std::vector<RemoteTarget>& targets,
                             absl::Duration timeout) const = 0;
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_REMOTE_CALL_H_
