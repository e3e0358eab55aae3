// Splits a distributed export's graph at its hash embedding lookups
// (contract 2 of DESIGN.md), from what DistributedLookups recorded while
// model_fn ran:
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
#ifndef RECSHIP_SRC_EXPORT_SHARD_ROUTING_H_
#define RECSHIP_SRC_EXPORT_SHARD_ROUTING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "recship/graph/graph.h"
#include "recship/model/export_context.h"

namespace recship {

// Builds the lookups recorded in `ctx` into `entry` and the ps sub-graphs of
// `ctx`. `model_name` is the name the entry calls the shards by
// ("<model>:ps_<i>"); the calls ask for `shard_version`, or whatever the
// shard serves when -1.
absl::Status BuildShardRouting(Graph& entry, const std::string& model_name, ExportContext& ctx,
                               int64_t shard_version = -1);

}  // namespace recship

#endif  // RECSHIP_SRC_EXPORT_SHARD_ROUTING_H_
