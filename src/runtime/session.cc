#include "recship/runtime/session.h"

#include <algorithm>
#include <limits>
#include <memory>

#define EIGEN_USE_THREADS
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "recship/core/status_macros.h"
#include "recship/graph/op_table.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace recship {
namespace {

// Plans are cached per feed/fetch/target set; a session sees a handful
// (one per signature, restore, init). Past this many, plans are rebuilt.
constexpr size_t kMaxCachedPlans = 256;

struct TensorId {
  std::string node;
  int index = 0;
};

absl::StatusOr<TensorId> ParseTensorName(absl::string_view name) {
  TensorId id;
  size_t colon = name.rfind(':');
  int index = 0;
  if (colon != absl::string_view::npos && absl::SimpleAtoi(name.substr(colon + 1), &index)) {
    if (index < 0) return absl::InvalidArgumentError(absl::StrCat("bad tensor name '", name, "'"));
    id.node = std::string(name.substr(0, colon));
    id.index = index;
  } else {
    id.node = std::string(name);
  }
  if (id.node.empty() || id.node[0] == '^') {
    return absl::InvalidArgumentError(absl::StrCat("bad tensor name '", name, "'"));
  }
  return id;
}

// Adds the node's name and op to an error from its kernel.
absl::Status NodeError(const tensorflow::NodeDef& node, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("node '", node.name(), "' (", node.op(),
                                                  "): ", status.message()));
}

}  // namespace

struct Session::Node {
  const tensorflow::NodeDef* def = nullptr;
  std::unique_ptr<OpKernel> kernel;
  std::vector<std::pair<int, int>> inputs;  // (node id, output index)
  std::vector<int> control_inputs;
};

// The steps of one Run: which nodes, in which order, reading what.
struct Session::Plan {
  struct Source {
    int step = -1;  // -1: a feed.
    int index = 0;  // Output of that step, or feed number.
  };
  struct Step {
    int node = 0;
    std::vector<Source> inputs;
    std::vector<int> release;  // Steps whose outputs die after this one.
    std::vector<int> waits;    // Earlier steps it reads or has as control inputs.
  };
  std::vector<Step> steps;
  std::vector<Source> fetches;
};

Session::Session(tensorflow::GraphDef graph, SessionOptions options)
    : graph_(std::move(graph)),
      options_(options),
      resources_(std::make_unique<ResourceManager>()) {}

Session::~Session() = default;

absl::StatusOr<std::unique_ptr<Session>> Session::Create(tensorflow::GraphDef graph,
                                                         SessionOptions options) {
  std::unique_ptr<Session> session(new Session(std::move(graph), options));
  RECSHIP_RETURN_IF_ERROR(session->BuildNodes());
  return session;
}

absl::Status Session::BuildNodes() {
  nodes_.resize(graph_.node_size());
  for (int i = 0; i < graph_.node_size(); ++i) {
    const tensorflow::NodeDef& def = graph_.node(i);
    if (!node_ids_.emplace(def.name(), i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the graph has two nodes named '", def.name(), "'"));
    }
    nodes_[i].def = &def;
  }
  for (Node& node : nodes_) {
    for (const std::string& input : node.def->input()) {
      bool control = !input.empty() && input[0] == '^';
      absl::string_view name = control ? absl::string_view(input).substr(1) : input;
      absl::StatusOr<TensorId> id = ParseTensorName(name);
      if (!id.ok()) return NodeError(*node.def, id.status());
      auto it = node_ids_.find(id->node);
      if (it == node_ids_.end()) {
        return NodeError(*node.def, absl::InvalidArgumentError(absl::StrCat(
                                        "input '", input, "' names no node of the graph")));
      }
      if (control) {
        node.control_inputs.push_back(it->second);
      } else {
        node.inputs.emplace_back(it->second, id->index);
      }
    }
  }
  // Kernels for the roots and everything they depend on.
  std::vector<char> wanted(nodes_.size(), options_.roots.empty() ? 1 : 0);
  std::vector<int> stack;
  for (const std::string& root : options_.roots) {
    absl::StatusOr<TensorId> id = ParseTensorName(absl::StripPrefix(root, "^"));
    auto it = id.ok() ? node_ids_.find(id->node) : node_ids_.end();
    if (it == node_ids_.end()) {
      return absl::NotFoundError(absl::StrCat("'", root, "' names no node of the graph"));
    }
    stack.push_back(it->second);
  }
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    if (wanted[n]) continue;
    wanted[n] = 1;
    for (const auto& input : nodes_[n].inputs) stack.push_back(input.first);
    for (int c : nodes_[n].control_inputs) stack.push_back(c);
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (!wanted[n]) continue;
    // ValidateNode's errors name the node themselves.
    RECSHIP_RETURN_IF_ERROR(ValidateNode(*nodes_[n].def));
    absl::StatusOr<std::unique_ptr<OpKernel>> kernel = CreateKernel(*nodes_[n].def);
    if (!kernel.ok()) return NodeError(*nodes_[n].def, kernel.status());
    nodes_[n].kernel = *std::move(kernel);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Session::Plan>> Session::GetPlan(
    const std::vector<NamedTensor>& feeds, const std::vector<std::string>& fetches,
    const std::vector<std::string>& targets) const {
  std::string key;
  for (const auto& feed : feeds) absl::StrAppend(&key, feed.first, ",");
  absl::StrAppend(&key, ";", absl::StrJoin(fetches, ","), ";", absl::StrJoin(targets, ","));
  {
    absl::MutexLock lock(&plans_mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, MakePlan(feeds, fetches, targets));
  absl::MutexLock lock(&plans_mu_);
  if (plans_.size() < kMaxCachedPlans) plans_.emplace(std::move(key), plan);
  return plan;
}

absl::StatusOr<Session::FedTensors> Session::IndexFeeds(
    const std::vector<NamedTensor>& feeds) const {
  FedTensors fed;
  for (size_t f = 0; f < feeds.size(); ++f) {
    RECSHIP_ASSIGN_OR_RETURN(TensorId id, ParseTensorName(feeds[f].first));
    auto it = node_ids_.find(id.node);
    if (it == node_ids_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("feed '", feeds[f].first, "' names no node of the graph"));
    }
    if (!fed.emplace(std::make_pair(it->second, id.index), static_cast<int>(f)).second) {
      return absl::InvalidArgumentError(absl::StrCat("'", feeds[f].first, "' is fed twice"));
    }
  }
  return fed;
}

absl::StatusOr<std::pair<int, int>> Session::FindOutput(const std::string& name) const {
  RECSHIP_ASSIGN_OR_RETURN(TensorId id, ParseTensorName(name));
  auto it = node_ids_.find(id.node);
  if (it == node_ids_.end()) {
    return absl::NotFoundError(absl::StrCat("'", name, "' names no node of the graph"));
  }
  return std::make_pair(it->second, id.index);
}

absl::StatusOr<std::vector<char>> Session::NeededNodes(
    const FedTensors& fed, const std::vector<std::pair<int, int>>& fetch_ids,
    const std::vector<std::string>& targets) const {
  // Everything the fetches and targets reach, except through fed tensors.
  std::vector<char> needed(nodes_.size(), 0);
  std::vector<int> stack;
  for (const auto& id : fetch_ids) {
    if (!fed.contains(id)) stack.push_back(id.first);
  }
  for (const std::string& target : targets) {
    auto it = node_ids_.find(target);
    if (it == node_ids_.end()) {
      return absl::NotFoundError(absl::StrCat("target '", target, "' names no node of the graph"));
    }
    stack.push_back(it->second);
  }
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    if (needed[n]) continue;
    if (nodes_[n].kernel == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("node '", nodes_[n].def->name(), "' (", nodes_[n].def->op(),
                       ") is outside what this session was loaded to run"));
    }
    needed[n] = 1;
    for (const auto& input : nodes_[n].inputs) {
      if (!fed.contains(input)) stack.push_back(input.first);
    }
    for (int c : nodes_[n].control_inputs) stack.push_back(c);
  }
  return needed;
}

absl::StatusOr<std::vector<int>> Session::RunOrder(const std::vector<char>& needed,
                                                   const FedTensors& fed) const {
  // Kahn's algorithm over the needed nodes.
  std::vector<int> pending(nodes_.size(), 0);
  std::vector<std::vector<int>> consumers(nodes_.size());
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (!needed[n]) continue;
    for (const auto& input : nodes_[n].inputs) {
      if (fed.contains(input)) continue;
      ++pending[n];
      consumers[input.first].push_back(static_cast<int>(n));
    }
    for (int c : nodes_[n].control_inputs) {
      ++pending[n];
      consumers[c].push_back(static_cast<int>(n));
    }
  }
  std::vector<int> order;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (needed[n] && pending[n] == 0) order.push_back(static_cast<int>(n));
  }
  for (size_t i = 0; i < order.size(); ++i) {
    for (int c : consumers[order[i]]) {
      if (--pending[c] == 0) order.push_back(c);
    }
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (needed[n] && pending[n] > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the graph has a cycle through node '", nodes_[n].def->name(), "'"));
    }
  }
  return order;
}

std::shared_ptr<const Session::Plan> Session::BuildPlan(
    const std::vector<int>& order, const FedTensors& fed,
    const std::vector<std::pair<int, int>>& fetch_ids) const {
  auto plan = std::make_shared<Plan>();
  std::vector<int> step_of(nodes_.size(), -1);
  std::vector<int> last_use(order.size(), -1);
  auto source = [&](std::pair<int, int> id) {
    auto f = fed.find(id);
    if (f != fed.end()) return Plan::Source{-1, f->second};
    return Plan::Source{step_of[id.first], id.second};
  };
  for (size_t s = 0; s < order.size(); ++s) {
    step_of[order[s]] = static_cast<int>(s);
    Plan::Step step;
    step.node = order[s];
    for (const auto& input : nodes_[order[s]].inputs) {
      step.inputs.push_back(source(input));
      if (step.inputs.back().step >= 0) {
        last_use[step.inputs.back().step] = static_cast<int>(s);
        step.waits.push_back(step.inputs.back().step);
      }
    }
    for (int c : nodes_[order[s]].control_inputs) step.waits.push_back(step_of[c]);
    std::sort(step.waits.begin(), step.waits.end());
    step.waits.erase(std::unique(step.waits.begin(), step.waits.end()), step.waits.end());
    plan->steps.push_back(std::move(step));
  }
  for (const auto& id : fetch_ids) {
    plan->fetches.push_back(source(id));
    // Fetched outputs live to the end.
    if (plan->fetches.back().step >= 0) last_use[plan->fetches.back().step] = -1;
  }
  for (size_t s = 0; s < order.size(); ++s) {
    if (last_use[s] >= 0) plan->steps[last_use[s]].release.push_back(static_cast<int>(s));
  }
  return plan;
}

absl::StatusOr<std::shared_ptr<const Session::Plan>> Session::MakePlan(
    const std::vector<NamedTensor>& feeds, const std::vector<std::string>& fetches,
    const std::vector<std::string>& targets) const {
  RECSHIP_ASSIGN_OR_RETURN(FedTensors fed, IndexFeeds(feeds));
  std::vector<std::pair<int, int>> fetch_ids;
  for (const std::string& fetch : fetches) {
    RECSHIP_ASSIGN_OR_RETURN(auto id, FindOutput(fetch));
    fetch_ids.push_back(id);
  }
  RECSHIP_ASSIGN_OR_RETURN(std::vector<char> needed, NeededNodes(fed, fetch_ids, targets));
  RECSHIP_ASSIGN_OR_RETURN(std::vector<int> order, RunOrder(needed, fed));
  return BuildPlan(order, fed, fetch_ids);
}

absl::StatusOr<std::vector<Tensor>> Session::Run(const std::vector<NamedTensor>& feeds,
                                                 const std::vector<std::string>& fetches,
                                                 const std::vector<std::string>& targets,
                                                 const RunOptions& run_options) const {
  RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, GetPlan(feeds, fetches, targets));
  static const ThreadPool* const kInline = new ThreadPool(1);
  const ThreadPool* pool = options_.thread_pool != nullptr ? options_.thread_pool : kInline;

  std::vector<Value> fed(feeds.size());
  for (size_t f = 0; f < feeds.size(); ++f) fed[f].tensor = feeds[f].second;
  std::vector<std::vector<Value>> values(plan->steps.size());
  auto value_of = [&](const Plan::Source& source) -> const Value* {
    if (source.step < 0) return &fed[source.index];
    const std::vector<Value>& outputs = values[source.step];
    return source.index < static_cast<int>(outputs.size()) ? &outputs[source.index] : nullptr;
  };

  // Async steps started and not yet waited for, with the contexts their
  // waits write the outputs through. An early return drops the waits
  // uncalled, which abandons (cancels) their work.
  std::vector<std::unique_ptr<OpKernelContext>> async_contexts(plan->steps.size());
  std::vector<AsyncWait> pending(plan->steps.size());
  auto wait_for = [&](int s) -> absl::Status {
    if (!pending[s]) return absl::OkStatus();
    AsyncWait wait = std::move(pending[s]);
    pending[s] = nullptr;
    absl::Status status = wait();
    if (!status.ok()) return NodeError(*nodes_[plan->steps[s].node].def, status);
    return absl::OkStatus();
  };

  for (size_t s = 0; s < plan->steps.size(); ++s) {
    const Plan::Step& step = plan->steps[s];
    const Node& node = nodes_[step.node];
    for (int w : step.waits) RECSHIP_RETURN_IF_ERROR(wait_for(w));
    std::vector<const Value*> inputs;
    inputs.reserve(step.inputs.size());
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const Value* value = value_of(step.inputs[i]);
      if (value == nullptr) {
        return NodeError(*node.def, absl::InternalError(
                                        absl::StrCat("input ", i, " ('", node.def->input(i),
                                                     "') names an output its node does not have")));
      }
      inputs.push_back(value);
    }
    if (node.kernel->IsAsync()) {
      async_contexts[s] = std::make_unique<OpKernelContext>(
          *node.def, std::move(inputs), &values[s], resources_.get(), &pool->device(),
          options_.remote_caller);
      async_contexts[s]->set_run_options(&run_options);
      absl::StatusOr<AsyncWait> wait = node.kernel->StartAsync(*async_contexts[s]);
      if (!wait.ok()) return NodeError(*node.def, wait.status());
      pending[s] = *std::move(wait);
    } else {
      OpKernelContext ctx(*node.def, std::move(inputs), &values[s], resources_.get(),
                          &pool->device(), options_.remote_caller);
      ctx.set_run_options(&run_options);
      absl::Status status = node.kernel->Compute(ctx);
      if (!status.ok()) return NodeError(*node.def, status);
    }
    // A released step was read by this one, so it is no longer pending.
    for (int dead : step.release) values[dead].clear();
  }
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    RECSHIP_RETURN_IF_ERROR(wait_for(static_cast<int>(s)));
  }

  std::vector<Tensor> outputs;
  outputs.reserve(fetches.size());
  for (size_t f = 0; f < plan->fetches.size(); ++f) {
    const Value* value = value_of(plan->fetches[f]);
    if (value == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("fetch '", fetches[f], "' names an output its node does not have"));
    }
    outputs.push_back(value->tensor);
  }
  return outputs;
}

}  // namespace recship
