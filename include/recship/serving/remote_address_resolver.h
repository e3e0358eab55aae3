// Where each sub-model of a distributed export is served, for the calls an
// entry model makes (serving/grpc_remote_caller.h).
//
// An entry model calls its shards as "<model>:ps_<i>" (and its dense part as
// "<model>:dense_0"). The address key is the part of the model name after
// the last ':'; `recship serve --remote_addresses=ps_0=HOST:PORT,...` maps keys
// to addresses, and `--remote_address_template='ps-{i}.svc:8500'` builds the
// address of any key from its trailing number ({i}) or the key itself
// ({name}). An address may list replicas of one sub-model, "h1:8500|h2:8500"
// (serving/grpc_remote_caller.h calls them; recship sync pushes to each).
#ifndef RECSHIP_SERVING_REMOTE_ADDRESS_RESOLVER_H_
#define RECSHIP_SERVING_REMOTE_ADDRESS_RESOLVER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recship {

// Maps a remote model name to HOST:PORT (or replicas, "H1:P|H2:P"). Immutable after Create(), so
// safe to share between threads.
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

  // The address to call `model_name` at: `target_address` when non-empty
  // (the node's attr wins), else the address list, else the template.
  // FailedPrecondition naming the model and the flag to give when none
  // applies.
  absl::StatusOr<std::string> Resolve(absl::string_view model_name,
                                      absl::string_view target_address) const;

  // The key an address is looked up by: the part of `model_name` after its
  // last ':' ("ctr:ps_3" -> "ps_3"); a name without ':' is its own key.
  static std::string AddressKey(absl::string_view model_name);

  // True when neither an address list nor a template was given.
  bool empty() const { return addresses_.empty() && template_.empty(); }

 private:
  std::map<std::string, std::string> addresses_;
  std::string template_;
};

}  // namespace recship

#endif  // RECSHIP_SERVING_REMOTE_ADDRESS_RESOLVER_H_
