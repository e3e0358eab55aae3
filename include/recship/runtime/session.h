// Runs a GraphDef: the runtime's counterpart of tensorflow::Session.
//
// Create() builds a kernel up front for every node the session may run, so
// an op outside the supported set or a bad attr fails the load, naming the
// node and the op. Run() executes
// the nodes needed for the fetches and targets, in dependency order, with
// intra-op parallelism on the shared thread pool. An async kernel (a remote
// call) is started when its turn comes and waited for only when a later node
// consumes one of its outputs (or has it as a control input), or at the end
// of the run, so independent remote calls are in flight together. Run() is
// const and safe to call from many threads at once; execution plans are
// cached per distinct feed/fetch/target set.
#ifndef RECSHIP_RUNTIME_SESSION_H_
#define RECSHIP_RUNTIME_SESSION_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recship/core/thread_pool.h"
#include "recship/runtime/kernel.h"
#include "recship/runtime/memory_budget.h"
#include "recship/runtime/resource_manager.h"
#include "recship/tensorflow/core/framework/graph.pb.h"

namespace recship {

struct SessionOptions {
  // Not owned; must outlive the session. Null runs every kernel on the
  // calling thread.
  const ThreadPool* thread_pool = nullptr;
  // Tensor or node names the session may run. Only they and the nodes they
  // depend on get kernels (a SavedModel's save path, say, is never run and
  // may use other ops); running anything else is an error. Empty means every
  // node of the graph.
  std::vector<std::string> roots;
  // Not owned; must outlive the session. Where TfServingRemotePredict nodes
  // send their calls; null makes such a node fail with FailedPrecondition.
  const RemoteCaller* remote_caller = nullptr;
};

using NamedTensor = std::pair<std::string, Tensor>;

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(tensorflow::GraphDef graph,
                                                         SessionOptions options = {});
  ~Session();

  // Feeds and fetches are tensor names ("node:1", or "node" for output 0);
  // targets are node names that must run but whose outputs are not wanted.
  // Returns the fetched tensors in order. Errors name the node at fault.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<NamedTensor>& feeds,
                                          const std::vector<std::string>& fetches,
                                          const std::vector<std::string>& targets,
                                          const RunOptions& run_options = {}) const;

  ResourceManager& resources() const { return *resources_; }
  const tensorflow::GraphDef& graph() const { return graph_; }

 private:
  struct Node;
  struct Plan;
  Session(tensorflow::GraphDef graph, SessionOptions options);
  absl::Status BuildNodes();
  absl::StatusOr<std::shared_ptr<const Plan>> GetPlan(
      const std::vector<NamedTensor>& feeds, const std::vector<std::string>& fetches,
      const std::vector<std::string>& targets) const;
  absl::StatusOr<std::shared_ptr<const Plan>> MakePlan(
      const std::vector<NamedTensor>& feeds, const std::vector<std::string>& fetches,
      const std::vector<std::string>& targets) const;
  // The steps of MakePlan. Fed tensors map (node, output) to the feed's index.
  using FedTensors = absl::flat_hash_map<std::pair<int, int>, int>;
  absl::StatusOr<FedTensors> IndexFeeds(const std::vector<NamedTensor>& feeds) const;
  absl::StatusOr<std::pair<int, int>> FindOutput(const std::string& name) const;
  absl::StatusOr<std::vector<char>> NeededNodes(const FedTensors& fed,
                                                const std::vector<std::pair<int, int>>& fetch_ids,
                                                const std::vector<std::string>& targets) const;
  absl::StatusOr<std::vector<int>> RunOrder(const std::vector<char>& needed,
                                            const FedTensors& fed) const;
  std::shared_ptr<const Plan> BuildPlan(const std::vector<int>& order, const FedTensors& fed,
                                        const std::vector<std::pair<int, int>>& fetch_ids) const;

  tensorflow::GraphDef graph_;
  SessionOptions options_;
  std::vector<Node> nodes_;
  absl::flat_hash_map<std::string, int> node_ids_;
  std::unique_ptr<ResourceManager> resources_;
  mutable absl::Mutex plans_mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const Plan>> plans_
      ABSL_GUARDED_BY(plans_mu_);
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_SESSION_H_
