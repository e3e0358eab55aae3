#include "src/export/shard_routing.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/format/sub_model.h"
#include "recship/graph/ops.h"
#include "recship/model/hash_table_rows.h"

namespace recship {
namespace {

using Lookup = DistributedLookups::Lookup;

// One table's ids in the entry graph, from request order to shards and back.
struct TableRoute {
  HashTableSpec table;
  std::vector<Lookup*> lookups;
  std::vector<Output> flat_ids;    // Per lookup, as a vector.
  Output unique_index;             // Position of each id among the unique ids.
  std::vector<Output> shard_ids;   // Per shard: the unique ids it holds.
  std::vector<Output> positions;   // Per shard: where those sit among the unique ids.
  std::vector<Output> shard_rows;  // Per shard: the rows its call returned.
};

// The lookups grouped by table, in order of first use.
std::vector<TableRoute> GroupByTable(std::vector<Lookup>& lookups) {
  std::vector<TableRoute> routes;
  for (Lookup& l : lookups) {
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const TableRoute& r) { return r.table.name == l.table.name; });
    if (it == routes.end()) it = routes.insert(routes.end(), TableRoute{.table = l.table});
    it->lookups.push_back(&l);
  }
  return routes;
}

// The table's ids, made unique and partitioned by shard.
void RouteIds(const Scope& root, TableRoute& route) {
  Scope s = root.NewSubScope(route.table.name);
  Output minus_one = ops::Const(s, Tensor::FromVector<int32_t>({1}, {-1}), "flat_shape");
  for (Lookup* l : route.lookups) {
    route.flat_ids.push_back(l->ids.shape.rank() == 1 ? l->ids
                                                      : ops::Reshape(s, l->ids, minus_one));
  }
  Output all = route.flat_ids.size() == 1
                   ? route.flat_ids[0]
                   : ops::ConcatV2(s, route.flat_ids, ops::ScalarConst(s, int32_t{0}, "axis"));
  std::vector<Output> unique = ops::Unique(s, all);
  if (unique.size() != 2) return;  // The graph holds the error.
  route.unique_index = unique[1];
  int shards = route.table.num_shards;
  Output shard_of =
      ops::Cast(s, ops::FloorMod(s, unique[0], ops::ScalarConst(s, int64_t{shards}, "num_shards")),
                tensorflow::DT_INT32);
  Output zero = ops::ScalarConst(s, int32_t{0}, "zero");
  Output count = ops::GatherV2(s, ops::Shape(s, unique[0]), zero, zero);
  Output positions = ops::Range(s, zero, count, ops::ScalarConst(s, int32_t{1}, "one"));
  route.shard_ids = ops::DynamicPartition(s, unique[0], shard_of, shards);
  route.positions = ops::DynamicPartition(s, positions, shard_of, shards);
  route.shard_rows.resize(static_cast<size_t>(shards));
}

// One call to shard `shard`, carrying every table's ids for it.
void CallShard(const Scope& root, int shard, const std::string& model_name, int64_t shard_version,
               std::vector<TableRoute>& routes) {
  SubModel ps = SubModel::Ps(shard);
  ops::RemotePredictCall call;
  call.model_name = ps.ServedName(model_name);
  call.model_version = shard_version;
  call.signature_name = kLookupSignature;
  std::vector<TableRoute*> callers;
  for (TableRoute& route : routes) {
    if (shard >= route.table.num_shards) continue;
    call.input_aliases.push_back(route.table.name);
    call.inputs.push_back(route.shard_ids[static_cast<size_t>(shard)]);
    call.output_aliases.push_back(route.table.name);
    call.outputs.push_back(
        Output{"", 0, tensorflow::DT_FLOAT, PartialShape::Of({-1, route.table.dim})});
    callers.push_back(&route);
  }
  std::vector<Output> results = ops::TfServingRemotePredict(root, call, ps.name());
  if (results.size() != callers.size() + 2) return;  // The graph holds the error.
  for (size_t k = 0; k < callers.size(); ++k) {
    callers[k]->shard_rows[static_cast<size_t>(shard)] = results[2 + k];
  }
}

// The table's rows back in request order, then split per lookup into the
// lookups' result nodes.
void PutRowsBack(const Scope& root, TableRoute& route) {
  Scope s = root.NewSubScope(absl::StrCat(route.table.name, "_rows"));
  Output zero = ops::ScalarConst(s, int32_t{0}, "zero");
  Output unique_rows = ops::DynamicStitch(s, route.positions, route.shard_rows);
  Output rows = ops::GatherV2(s, unique_rows, route.unique_index, zero);
  std::vector<Output> per_lookup = {rows};
  if (route.lookups.size() > 1) {
    std::vector<Output> owner;
    for (size_t k = 0; k < route.lookups.size(); ++k) {
      owner.push_back(ops::Fill(s, ops::Shape(s, route.flat_ids[k]),
                                ops::ScalarConst(s, static_cast<int32_t>(k), "lookup")));
    }
    per_lookup = ops::DynamicPartition(s, rows, ops::ConcatV2(s, owner, zero),
                                       static_cast<int>(route.lookups.size()));
  }
  for (size_t k = 0; k < route.lookups.size() && k < per_lookup.size(); ++k) {
    Lookup* l = route.lookups[k];
    Output r = per_lookup[k];
    if (l->ids.shape.rank() != 1) {
      Output dim = ops::Const(
          s, Tensor::FromVector<int32_t>({1}, {static_cast<int32_t>(route.table.dim)}), "dim");
      std::vector<Output> parts = {ops::Shape(s, l->ids), dim};
      r = ops::Reshape(s, r, ops::ConcatV2(s, parts, zero));
    }
    l->result.Input(r).Attr("T", tensorflow::DT_FLOAT).Finalize();
  }
}

// One table's shard in sub-graph ps_<shard>: its `lookup` input and output
// and its `hashtable_assign` inputs (rows as the table stores them) and
// output.
void AddTableShard(const Scope& root, const HashTableSpec& table, EmbeddingDtype dtype,
                   SignatureSpec& lookup, SignatureSpec& assign) {
  Scope find = root.NewSubScope(kLookupSignature);
  Scope update = root.NewSubScope(kAssignSignature);
  Output handle = HashTableHandle(root, table, dtype);
  Output ids = ops::Placeholder(find, tensorflow::DT_INT64, PartialShape::Of({-1}), table.name);
  Output rows = FindEmbeddingRows(find.NewSubScope(absl::StrCat(table.name, "_find")), handle,
                                  table, dtype, ids);
  rows.shape = PartialShape::Of({-1, table.dim});
  lookup.inputs[table.name] = ids;
  lookup.outputs[table.name] = rows;

  Output keys = ops::Placeholder(update, tensorflow::DT_INT64, PartialShape::Of({-1}),
                                 absl::StrCat(table.name, "_ids"));
  Output values = ops::Placeholder(update, StoredRowType(dtype), StoredRowsShape(table, dtype),
                                   absl::StrCat(table.name, "_values"));
  std::string insert = ops::LookupTableInsert(
      update.NewSubScope(absl::StrCat(table.name, "_insert")), handle, keys, values);
  std::vector<std::string> after = {insert};
  Output size = ops::LookupTableSize(
      update.NewSubScope(absl::StrCat(table.name, "_size")).WithControlDependencies(after), handle);
  assign.inputs[absl::StrCat(table.name, "_ids")] = keys;
  assign.inputs[absl::StrCat(table.name, "_values")] = values;
  assign.outputs[absl::StrCat(table.name, "_size")] = size;
}

absl::Status BuildShardGraph(int shard, const std::vector<TableRoute>& routes, ExportContext& ctx) {
  std::string name = SubModel::Ps(shard).name();
  Graph& g = ctx.sub_graph(name);
  Scope root(&g);
  SignatureSpec lookup{kLookupSignature, {}, {}};
  SignatureSpec assign{kAssignSignature, {}, {}};
  for (const TableRoute& route : routes) {
    if (shard < route.table.num_shards) {
      AddTableShard(root, route.table, ctx.embedding_dtype(), lookup, assign);
    }
  }
  ctx.add_signature(name, std::move(lookup));
  ctx.add_signature(name, std::move(assign));
  return g.status();
}

}  // namespace

absl::Status BuildShardRouting(Graph& entry, const std::string& model_name, ExportContext& ctx,
                               int64_t shard_version) {
  DistributedLookups& lookups = ctx.lookups();
  if (absl::Status s = lookups.CheckTables(); !s.ok()) return s;
  std::vector<TableRoute> routes = GroupByTable(lookups.recorded());
  Scope root = Scope(&entry).NewSubScope("distributed_lookup");
  for (TableRoute& route : routes) {
    RouteIds(root, route);
    if (!entry.ok()) return entry.status();
  }
  for (int shard = 0; shard < lookups.num_ps(); ++shard) {
    CallShard(root, shard, model_name, shard_version, routes);
    if (!entry.ok()) return entry.status();
  }
  for (TableRoute& route : routes) PutRowsBack(root, route);
  if (!entry.ok()) return entry.status();
  for (int shard = 0; shard < lookups.num_ps(); ++shard) {
    if (absl::Status s = BuildShardGraph(shard, routes, ctx); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace recship
