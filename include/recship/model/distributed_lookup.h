// Hash embedding lookups in a distributed export (contract 2 of DESIGN.md).
//
// While model_fn runs in distributed export mode, each HashEmbeddingLookup is
// recorded here and returns an output whose node is built later, when the
// distributed exporter splits the graph (export/shard_routing.h): it routes
// the recorded ids to the parameter-server sub-models and completes each
// lookup's result node. This class only records; it builds no graph.
#ifndef RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_
#define RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "recship/graph/graph.h"
#include "recship/model/layers.h"

namespace recship {

class DistributedLookups {
 public:
  // One recorded lookup: the table, the ids, and the result node, whose name
  // is reserved until the exporter builds it (NodeBuilder::Finalize).
  struct Lookup {
    HashTableSpec table;
    Output ids;
    NodeBuilder result;
  };

  // Records a lookup of `ids` (int64, any shape S) in `table`; returns the
  // float [S..., dim] output that the exporter builds.
  Output Add(const Scope& s, const HashTableSpec& table, const Output& ids);

  bool empty() const { return lookups_.empty(); }
  // The number of ps sub-models: the most shards of any table looked up.
  int num_ps() const;
  // Serves every table on `n` shards, whatever its spec says.
  void SetNumShards(int n) {
    for (Lookup& l : lookups_) l.table.num_shards = n;
  }
  // The table of that name among the lookups, or nullptr.
  const HashTableSpec* FindTable(const std::string& name) const;
  // InvalidArgument when a table has no dim or shard, or is looked up with
  // two different dims or shard counts.
  absl::Status CheckTables() const;

  // The lookups in the order model_fn made them.
  std::vector<Lookup>& recorded() { return lookups_; }

 private:
  std::vector<Lookup> lookups_;
};

}  // namespace recship

#endif  // RECSHIP_MODEL_DISTRIBUTED_LOOKUP_H_
