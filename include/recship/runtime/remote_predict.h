// What the TfServingRemotePredict kernel needs from its process: where each
// sub-model of a distributed export is served, and the gRPC channels that
// reach those addresses.
//
// An entry model calls its shards as "<model>:ps_<i>" (and its dense part as
// "<model>:dense_0"). The sub-model key is the part of the model name after
// the last ':'; `recship serve --remote_addresses=ps_0=HOST:PORT,...` maps keys
// to addresses, and `--remote_address_template='ps-{i}.svc:8500'` builds the
// address of any key from its trailing number ({i}) or the key itself
// ({name}).
#ifndef RECSHIP_RUNTIME_REMOTE_PREDICT_H_
#define RECSHIP_RUNTIME_REMOTE_PREDICT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tensorflow/core/framework/graph.pb.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace recship::runtime {

// Maps a remote model name to HOST:PORT. Immutable after Create(), so safe to
// share between threads.
class RemoteAddressResolver {
 public:
  // Resolves nothing: every Resolve() without a target address fails.
  RemoteAddressResolver() = default;

  // `addresses` is "key=HOST:PORT,key=HOST:PORT,..." (empty for none); a key
  // is a sub-model key ("ps_0") or a whole model name ("ctr:ps_0"), the
  // latter winning. `address_template` may use {i} (the number ending the
  // key) and {name} (the key). InvalidArgument for a malformed entry, a key
  // given twice, or a template with an unknown {placeholder}.
  static absl::StatusOr<RemoteAddressResolver> Create(absl::string_view addresses,
                                                      absl::string_view address_template);

  // "ctr:ps_3" -> "ps_3"; a name without ':' is its own key.
  static std::string SubModelKey(absl::string_view model_name);

  // The address to call `model_name` at: `target_address` when non-empty
  // (the node's attr wins), else the address list, else the template.
  // FailedPrecondition naming the model and the flag to give when none
  // applies.
  absl::StatusOr<std::string> Resolve(absl::string_view model_name,
                                      absl::string_view target_address) const;

  // True when neither an address list nor a template was given.
  bool empty() const { return addresses_.empty() && template_.empty(); }

 private:
  std::map<std::string, std::string> addresses_;
  std::string template_;
};

// One gRPC channel per address, created on first use and reused by every
// request and session afterwards. gRPC channels reconnect by themselves; the
// cache keeps their reconnect backoff short (at most a second) so that a
// shard that comes back is used again promptly. Thread-safe.
class RemoteChannelCache {
 public:
  RemoteChannelCache();
  ~RemoteChannelCache();
  RemoteChannelCache(const RemoteChannelCache&) = delete;
  RemoteChannelCache& operator=(const RemoteChannelCache&) = delete;

  std::shared_ptr<grpc::Channel> Get(const std::string& address) const;

 private:
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
};

// Everything the remote-predict kernel uses, shared by all the sessions of a
// process (SessionOptions::remote_predict). Thread-safe.
struct RemotePredictOptions {
  RemoteAddressResolver resolver;
  RemoteChannelCache channels;
};

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

// Asks every target for its metadata (GetModelMetadata), all at once, each
// within `timeout`: OK when all answer, else Unavailable naming each target
// that did not, with its address and what went wrong.
absl::Status ProbeRemoteTargets(const RemotePredictOptions& remote,
                                const std::vector<RemoteTarget>& targets, absl::Duration timeout);

}  // namespace recship::runtime

#endif  // RECSHIP_RUNTIME_REMOTE_PREDICT_H_
