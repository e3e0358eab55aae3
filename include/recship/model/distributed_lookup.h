// Hash embedding lookups in a distributed export (contract 2 of DESIGN.md).
//
// While model_fn runs in distributed export mode, each HashEmbeddingLookup is
// recorded here and returns an output whose node is built later. Finalize()
// then builds, for all lookups at once:
// - in the entry graph, per table: the ids of every lookup of that table,
//   made unique and routed to shard floor_mod(id, num_shards); per shard, ONE
//   TfServingRemotePredict call to "<model>:ps_<i>" (signature `lookup`)
//   carrying every table's ids for that shard; then the rows put back in
//   request order. A shard that gets no id in a request is still called, with
//   empty inputs: the graph has no control flow, and an empty call is cheap.
//   The entry graph holds no table.
// - in the context's sub-graph ps_<i>: shard i of each table, with the
//   signatures `lookup` (input and output keyed by table name: ids int64
//   [-1] -> rows float [-1, dim], zeros for unseen ids) and
//   `hashtable_assign` (inputs <t>_ids and <t>_values; it inserts or
//   overwrites rows and returns <t>_size, the table's new size).
#ifndef RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_
#define RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "recship/graph/graph.h"
#include "recship/model/layers.h"

namespace recship::model {

class ExportContext;

inline constexpr char kLookupSignature[] = "lookup";
inline constexpr char kAssignSignature[] = "hashtable_assign";

// "ps_<i>", the sub-model holding shard i.
std::string PsGraphName(int shard);

class DistributedLookups {
 public:
  // Records a lookup of `ids` (int64, any shape S) in `table`; returns the
  // float [S..., dim] output that Finalize() builds.
  graph::Output Add(const graph::Scope& s, const HashTableSpec& table, const graph::Output& ids);

  bool empty() const { return lookups_.empty(); }
  // The number of ps sub-models: the most shards of any table looked up.
  int num_ps() const;
  // The table of that name among the lookups, or nullptr.
  const HashTableSpec* FindTable(const std::string& name) const;

  // Builds the recorded lookups into `entry` and the ps sub-graphs of `ctx`.
  // `model_name` is the name the entry calls the shards by: "<model>:ps_<i>".
  // The calls ask for `shard_version`, or whatever the shard serves when -1.
  absl::Status Finalize(graph::Graph& entry, const std::string& model_name, ExportContext& ctx,
                        int64_t shard_version = -1);

 private:
  struct Lookup {
    HashTableSpec table;
    graph::Output ids;
    graph::NodeBuilder result;  // Reserves the result's name until Finalize.
  };
  struct TableRoute;

  absl::Status CheckTables() const;
  void BuildShardGraph(int shard, const std::vector<HashTableSpec>& tables, ExportContext& ctx);

  std::vector<Lookup> lookups_;
};

}  // namespace recship::model

#endif  // RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_
