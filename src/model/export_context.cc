#include "recship/model/export_context.h"

#include <utility>

namespace recship {
namespace {

struct ThreadExportState {
  ExportMode mode = ExportMode::kNone;
  ExportContext* ctx = nullptr;
};

thread_local ThreadExportState current;

}  // namespace

Graph& ExportContext::sub_graph(const std::string& name) {
  auto& slot = graphs_[name];
  if (slot == nullptr) slot = std::make_unique<Graph>();
  return *slot;
}

std::vector<std::string> ExportContext::sub_graph_names() const {
  std::vector<std::string> names;
  for (const auto& [name, g] : graphs_) names.push_back(name);
  return names;
}

void ExportContext::add_signature(const std::string& graph_name, SignatureSpec signature) {
  signatures_[graph_name].push_back(std::move(signature));
}

const std::vector<SignatureSpec>& ExportContext::signatures(const std::string& graph_name) const {
  static const std::vector<SignatureSpec> kNone;
  auto it = signatures_.find(graph_name);
  return it == signatures_.end() ? kNone : it->second;
}

bool IsExporting() { return current.mode != ExportMode::kNone; }
bool IsExportingStandalone() { return current.mode == ExportMode::kStandalone; }
bool IsExportingDistributed() { return current.mode == ExportMode::kDistributed; }
ExportMode CurrentExportMode() { return current.mode; }
ExportContext* GetCurrentExportContext() { return current.ctx; }

ExportModeScope::ExportModeScope(ExportModeScope&& other) noexcept
    : active_(std::exchange(other.active_, false)) {}

ExportModeScope::~ExportModeScope() {
  if (active_) current = ThreadExportState{};
}

absl::StatusOr<ExportModeScope> EnterExportMode(ExportMode mode, ExportContext* ctx) {
  if (mode == ExportMode::kNone) {
    return absl::FailedPreconditionError("EnterExportMode needs STANDALONE or DISTRIBUTED");
  }
  if (IsExporting()) {
    return absl::FailedPreconditionError(
        "already in export mode on this thread: export modes do not nest");
  }
  current = ThreadExportState{mode, ctx};
  return ExportModeScope();
}

}  // namespace recship
