// Export mode and ExportContext (model_export's export_context module).
//
// While a model is exported, layers ask which mode they build for: standalone
// (one graph) or distributed (entry plus parameter-server sub-graphs held by
// the ExportContext). The mode is thread-local, so two exports on two threads
// never see each other. It lives in model/ rather than export/ because the
// layers read it and layers sit below the exporters.
#ifndef RECSHIP_MODEL_EXPORT_CONTEXT_H_
#define RECSHIP_MODEL_EXPORT_CONTEXT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/embedding_dtype.h"
#include "recship/graph/graph.h"
#include "recship/model/distributed_lookup.h"

namespace recship {

enum class ExportMode { kNone, kStandalone, kDistributed };

// A named signature of one sub-graph.
struct SignatureSpec {
  std::string name;
  std::map<std::string, Output> inputs;
  std::map<std::string, Output> outputs;
};

// The state of one export: the sub-graphs beside the main graph (ps_0, ...,
// dense_0) and their signatures. Not thread-safe: one export uses it.
class ExportContext {
 public:
  explicit ExportContext(bool with_remote_gpu = false) : with_remote_gpu_(with_remote_gpu) {}
  ExportContext(const ExportContext&) = delete;
  ExportContext& operator=(const ExportContext&) = delete;

  bool with_remote_gpu() const { return with_remote_gpu_; }

  // How the tables built for this export store their rows (float32 unless
  // the export compresses them; model/hash_table_rows.h).
  EmbeddingDtype embedding_dtype() const { return embedding_dtype_; }
  void set_embedding_dtype(EmbeddingDtype dtype) { embedding_dtype_ = dtype; }

  // The sub-graph called `name`, created empty on first use.
  Graph& sub_graph(const std::string& name);
  bool has_sub_graph(const std::string& name) const { return graphs_.contains(name); }
  std::vector<std::string> sub_graph_names() const;

  void add_signature(const std::string& graph_name, SignatureSpec signature);
  const std::vector<SignatureSpec>& signatures(const std::string& graph_name) const;

  // The hash embedding lookups of a distributed export, built by Finalize.
  DistributedLookups& lookups() { return lookups_; }

 private:
  bool with_remote_gpu_;
  EmbeddingDtype embedding_dtype_ = EmbeddingDtype::kFloat32;
  DistributedLookups lookups_;
  std::map<std::string, std::unique_ptr<Graph>> graphs_;
  std::map<std::string, std::vector<SignatureSpec>> signatures_;
};

bool IsExporting();
bool IsExportingStandalone();
bool IsExportingDistributed();
ExportMode CurrentExportMode();
// The context of the current export on this thread, or nullptr.
ExportContext* GetCurrentExportContext();

// Holds export mode on this thread until destroyed (exceptions included).
class ExportModeScope {
 public:
  ExportModeScope(ExportModeScope&& other) noexcept;
  ExportModeScope(const ExportModeScope&) = delete;
  ExportModeScope& operator=(const ExportModeScope&) = delete;
  ExportModeScope& operator=(ExportModeScope&&) = delete;
  ~ExportModeScope();

 private:
  friend absl::StatusOr<ExportModeScope> EnterExportMode(ExportMode, ExportContext*);
  ExportModeScope() = default;
  bool active_ = true;
};

// Enters `mode` on this thread with an optional context. Entering export mode
// while already in it, or entering kNone, is a FailedPrecondition error.
absl::StatusOr<ExportModeScope> EnterExportMode(ExportMode mode, ExportContext* ctx = nullptr);

}  // namespace recship

#endif  // RECSHIP_MODEL_EXPORT_CONTEXT_H_
