#include "recship/model/distributed_lookup.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "recship/graph/ops.h"

namespace recship {

Output DistributedLookups::Add(const Scope& s, const HashTableSpec& table, const Output& ids) {
  Scope lookup = s.NewSubScope(absl::StrCat(table.name, "_lookup"));
  NodeBuilder result(lookup, "Identity", "rows");
  Output out{result.name(), 0, tensorflow::DT_FLOAT, PartialShape::Unknown()};
  if (ids.shape.rank() >= 0) {
    out.shape = ids.shape;
    out.shape.dims.push_back(table.dim);
  }
  if (ids.dtype != tensorflow::DT_INT64) {
    s.UpdateStatus(absl::InvalidArgumentError(
        absl::StrCat("table ", table.name, ": ids must be int64, not ", DataTypeName(ids.dtype))));
  }
  lookups_.push_back(Lookup{table, ids, std::move(result)});
  return out;
}

int DistributedLookups::num_ps() const {
  int n = 0;
  for (const Lookup& l : lookups_) n = std::max(n, l.table.num_shards);
  return n;
}

const HashTableSpec* DistributedLookups::FindTable(const std::string& name) const {
  for (const Lookup& l : lookups_) {
    if (l.table.name == name) return &l.table;
  }
  return nullptr;
}

absl::Status DistributedLookups::CheckTables() const {
  std::map<std::string, const HashTableSpec*> seen;
  for (const Lookup& l : lookups_) {
    if (l.table.num_shards < 1 || l.table.dim < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("table ", l.table.name, " needs a dim and at least one shard"));
    }
    auto [it, inserted] = seen.emplace(l.table.name, &l.table);
    if (!inserted &&
        (it->second->dim != l.table.dim || it->second->num_shards != l.table.num_shards)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table ", l.table.name, " is looked up with two different dims or shard counts"));
    }
  }
  return absl::OkStatus();
}

}  // namespace recship
