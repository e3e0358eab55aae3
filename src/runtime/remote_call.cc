#include "recship/runtime/remote_call.h"

#include <algorithm>

namespace recship {

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

}  // namespace recship
