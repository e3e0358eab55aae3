// A SavedModel loaded for serving: its `serve` meta graph, a session over
// it, and its signatures.
//
// Load() does what TensorFlow's loader does: it picks the meta graph by tag
// set, feeds the asset paths, runs the saver's restore op on
// <export_dir>/variables/variables and then the init op. Only the nodes the
// signatures, restore and init need get kernels; an op outside recship's set
// among them fails the load with the node's name. RunSignature() checks a
// request's inputs against the signature before anything runs. Thread-safe.
#ifndef RECSHIP_RUNTIME_SAVED_MODEL_BUNDLE_H_
#define RECSHIP_RUNTIME_SAVED_MODEL_BUNDLE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/runtime/session.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"

namespace recship {

struct LoadOptions {
  // Not owned; null runs kernels on the calling thread.
  const ThreadPool* thread_pool = nullptr;
  std::vector<std::string> tags = {"serve"};
  // Not owned; must outlive the bundle. Where the model's
  // TfServingRemotePredict nodes call; null makes them fail.
  const RemoteCaller* remote_caller = nullptr;
  // Large tensors of variables/ (the rows of embedding tables) are mapped
  // from their files and served in place rather than read into the heap: a
  // load costs one checksum pass over them, and their pages live in the page
  // cache, shared with every other process and version using the same files.
  bool map_variables = true;
};

// One hash table of a loaded model: its name, rows, and the bytes of its
// index and rows in the heap and of its rows mapped from files.
struct TableStats {
  std::string name;
  int64_t rows = 0;
  size_t heap_bytes = 0;
  size_t mapped_bytes = 0;
};

class SavedModelBundle {
 public:
  static absl::StatusOr<std::unique_ptr<SavedModelBundle>> Load(const std::string& export_dir,
                                                                const LoadOptions& options = {});

  const std::string& export_dir() const { return export_dir_; }
  const tensorflow::MetaGraphDef& meta_graph() const { return meta_graph_; }
  const Session& session() const { return *session_; }

  // FailedPrecondition (as TensorFlow Serving answers) naming the signature
  // and listing those present.
  absl::StatusOr<const tensorflow::SignatureDef*> FindSignature(const std::string& name) const;

  // Runs signature `name` on `inputs` (by input key) and returns the outputs
  // named in `output_filter` (by output key; all when empty). Every input of
  // the signature must be given, with its dtype and a shape compatible with
  // the signature's; an error names the input. Errors are InvalidArgument for
  // a bad request, FailedPrecondition for an unknown signature.
  absl::StatusOr<std::map<std::string, Tensor>> RunSignature(
      const std::string& name, const std::map<std::string, Tensor>& inputs,
      const std::vector<std::string>& output_filter = {}, const RunOptions& run_options = {}) const;

  // Each hash table, sorted by name.
  std::vector<TableStats> Tables() const;

  // Heap bytes held by the model's tables and variables.
  size_t ResourceBytes() const;
  // Bytes of tables and variables served from mapped files.
  size_t MappedBytes() const;
  // Tables whose index was mapped from the export's index file
  // (table_index_file.h) rather than built.
  int mapped_table_indexes() const { return mapped_table_indexes_; }
  // Lookups of compressed tables whose decoding the lookup kernel does
  // (the graph's decode ops left unused).
  int fused_embedding_decodes() const { return fused_embedding_decodes_; }
  // What the load worked around and an operator should hear about, e.g. an
  // index file that was damaged or stale (its table was indexed instead).
  const std::vector<std::string>& load_notes() const { return load_notes_; }

 private:
  SavedModelBundle() = default;
  absl::Status Restore(bool map_variables);
  // Indexes every table now, so that no request pays for it: from its index
  // file when `use_index_files` and the export has a usable one.
  void IndexTables(bool use_index_files);
  absl::Status RunInitOp();
  std::vector<NamedTensor> AssetFeeds() const;

  std::string export_dir_;
  tensorflow::MetaGraphDef meta_graph_;
  std::unique_ptr<Session> session_;
  int mapped_table_indexes_ = 0;
  int fused_embedding_decodes_ = 0;
  std::vector<std::string> load_notes_;
};

}  // namespace recship

#endif  // RECSHIP_RUNTIME_SAVED_MODEL_BUNDLE_H_
