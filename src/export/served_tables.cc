#include "recship/export/served_tables.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/delta.h"
#include "recship/format/embedding_dtype.h"
#include "recship/format/row_index.h"
#include "recship/format/saved_model.h"
#include "recship/format/table_index_file.h"
#include "recship/format/table_times.h"
#include "recship/format/tensor_bundle.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

// Table name -> the shards whose keys a bundle holds ("<t>/shard_<j>-keys"),
// ascending: the order a model's restore adds them to the table.
std::map<std::string, std::vector<int>> TableShards(const BundleReader& bundle) {
  std::map<std::string, std::vector<int>> tables;
  for (const BundleEntry& entry : bundle.entries()) {
    absl::string_view name = entry.name;
    if (!absl::EndsWith(name, "-keys")) continue;
    name.remove_suffix(5);
    size_t slash = name.rfind("/shard_");
    int shard;
    if (slash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(slash + 7), &shard)) {
      continue;
    }
    tables[std::string(name.substr(0, slash))].push_back(shard);
  }
  for (auto& [name, shards] : tables) std::sort(shards.begin(), shards.end());
  return tables;
}

}  // namespace

// One table: the version's views (mapped) and index, under the changes since.
class ServedTables::Table {
 public:
  static absl::StatusOr<std::unique_ptr<Table>> Load(
      const BundleReader& base, const std::string& version_dir, const std::string& name,
      const std::vector<int>& shards, const TableTimes& times, EmbeddingDtype encoding) {
    auto t = std::unique_ptr<Table>(new Table(name, shards));
    t->encoding_ = encoding;
    std::vector<RowIndex::KeyRun> runs;
    for (int shard : shards) {
      RECSHIP_ASSIGN_OR_RETURN(t->keys_.emplace_back(),
                               base.Map(TableShardTensorName(name, shard, "keys")));
      RECSHIP_ASSIGN_OR_RETURN(t->values_.emplace_back(),
                               base.Map(TableShardTensorName(name, shard, "values")));
      runs.push_back({t->keys_.back(), TableRowRef(static_cast<int64_t>(runs.size()) + 1, 0)});
    }
    const Tensor& first = t->values_.front();
    t->dtype_ = first.dtype();
    t->row_shape_.assign(first.shape().begin() + 1, first.shape().end());
    t->row_bytes_ = DataTypeSize(t->dtype_);
    for (int64_t d : t->row_shape_) t->row_bytes_ *= static_cast<size_t>(d);
    if (auto it = times.find(name); it != times.end()) t->updated_through_ = it->second;
    t->index_ = t->IndexFromFile(version_dir);
    if (t->index_ == nullptr) {
      t->index_ = std::make_unique<RowIndex>();
      t->index_->PutAll(runs);
    }
    return t;
  }

  absl::Status RecordDelta(const BundleReader& delta, const DeltaManifest& manifest) {
    if (delta.Find(DeltaKeysName(name_)) == nullptr) return absl::OkStatus();
    TableChanges changes;
    if (auto it = manifest.tables.find(name_); it != manifest.tables.end()) {
      changes.updated_through = it->second.updated_through;
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor keys, delta.Read(DeltaKeysName(name_)));
    RECSHIP_ASSIGN_OR_RETURN(Tensor values, delta.Read(DeltaValuesName(name_)));
    RECSHIP_ASSIGN_OR_RETURN(Tensor deleted, delta.Read(DeltaDeletedName(name_)));
    if (keys.dtype() != tensorflow::DT_INT64 || deleted.dtype() != tensorflow::DT_INT64 ||
        values.byte_size() != static_cast<size_t>(keys.num_elements()) * row_bytes_) {
      return absl::DataLossError(absl::StrCat(delta.prefix(), ": table '", name_,
                                              "' does not hold int64 keys and rows of ", row_bytes_,
                                              " bytes"));
    }
    changes.keys.assign(keys.flat<int64_t>().data(),
                        keys.flat<int64_t>().data() + keys.num_elements());
    changes.rows.assign(reinterpret_cast<const char*>(values.data()), values.byte_size());
    changes.deleted.assign(deleted.flat<int64_t>().data(),
                           deleted.flat<int64_t>().data() + deleted.num_elements());
    Record(changes);
    return absl::OkStatus();
  }

  void Record(const TableChanges& changes) {
    if (changes.updated_through) updated_through_ = changes.updated_through;
    for (size_t i = 0; i < changes.keys.size(); ++i) {
      const char* row = changes.rows.data() + i * row_bytes_;
      auto [it, added] = overlay_.try_emplace(changes.keys[i], kDeleted);
      if (it->second == kDeleted) {
        it->second = static_cast<int64_t>(overlay_rows_.size());
        overlay_rows_.append(row, row_bytes_);
      } else {
        overlay_rows_.replace(static_cast<size_t>(it->second), row_bytes_, row, row_bytes_);
      }
    }
    for (int64_t key : changes.deleted) overlay_[key] = kDeleted;
  }

  TableChanges SinceVersion() const {
    TableChanges out;
    for (const auto& [key, offset] : overlay_) {
      if (offset != kDeleted) {
        out.keys.push_back(key);
        out.rows.append(overlay_rows_, static_cast<size_t>(offset), row_bytes_);
      } else {
        out.deleted.push_back(key);
      }
    }
    return out;
  }

  // Ids are taken to be unique within a table's shards (as trainers write
  // them). Rows are compared where they are: a checkpoint row whose id is the
  // version's id at the same place (the usual case: a trainer rewrites its
  // table in place and appends new ids) is compared with the row served for
  // it by position, in file order, and skipped unread when its timestamp is
  // older than Since(); only the other rows are looked up. Served ids are
  // checked for deletion by an index of the checkpoint's ids only when some
  // version id is not at its place.
  absl::StatusOr<TableChanges> Diff(const CheckpointReader& checkpoint,
                                    std::optional<int64_t> since_time) const {
    std::vector<Tensor> keys, values;
    for (int shard : shards_) RECSHIP_RETURN_IF_ERROR(MapShard(checkpoint, shard, keys, values));
    RECSHIP_ASSIGN_OR_RETURN(std::optional<std::vector<Tensor>> timestamps,
                             checkpoint.TableTimestamps(name_, shards_));
    if (since_time && !timestamps) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--since-time needs the rows' timestamps, but checkpoint ", checkpoint.prefix(),
          " has no ", TableShardTensorName(name_, shards_.front(), "timestamps"),
          " (or another shard's) for table '", name_, "'"));
    }
    std::vector<int32_t> encoded;  // A checkpoint row as the version stores it.
    TableChanges changes;
    if (timestamps) changes.updated_through = NewestTimestamp(*timestamps);
    const std::optional<int64_t> since = Since(changes.updated_through, since_time);
    bool version_in_place = true;           // Every version id is at its place.
    absl::flat_hash_set<int64_t> appended;  // While so: the ids after them.
    for (size_t v = 0; v < keys.size(); ++v) {
      const int64_t n = keys[v].num_elements(), version_rows = keys_[v].num_elements();
      version_in_place &= n >= version_rows;
      for (int64_t row = 0; row < n; ++row) {
        const int64_t key = keys[v].flat<int64_t>()[row];
        const bool in_place = row < version_rows && keys_[v].flat<int64_t>()[row] == key;
        if (row < version_rows) {
          version_in_place &= in_place;
        } else if (version_in_place) {
          appended.insert(key);
        }
        const int64_t updated = timestamps ? (*timestamps)[v].flat<int64_t>()[row] : 0;
        if (in_place && since && updated < *since) continue;
        const std::byte* now = CheckpointRow(values[v], row, encoded);
        const std::byte* before = in_place ? ServedInPlace(key, v, row) : Find(key);
        if (before != nullptr && std::memcmp(before, now, row_bytes_) == 0) continue;
        changes.keys.push_back(key);
        changes.rows.append(reinterpret_cast<const char*>(now), row_bytes_);
        if (timestamps) changes.NoteRowUpdated(updated);
      }
    }
    if (version_in_place) {
      // Only ids inserted by earlier changes can be missing.
      for (const auto& [key, offset] : overlay_) {
        if (offset != kDeleted && !appended.contains(key) && index_->Find(key) == RowIndex::kNone) {
          changes.deleted.push_back(key);
        }
      }
      return changes;
    }
    std::vector<RowIndex::KeyRun> runs;
    for (const Tensor& k : keys) runs.push_back({k, static_cast<int64_t>(runs.size()) << 40});
    RowIndex present;
    present.PutAll(runs);
    ForEachKey([&](int64_t key) {
      if (present.Find(key) == RowIndex::kNone) changes.deleted.push_back(key);
    });
    return changes;
  }

  DataType dtype() const { return dtype_; }
  const TensorShape& row_shape() const { return row_shape_; }
  size_t row_bytes() const { return row_bytes_; }

 private:
  Table(std::string name, std::vector<int> shards)
      : name_(std::move(name)), shards_(std::move(shards)) {}

  // Rows whose timestamp is older than this need not be read: `since_time`
  // when given, else the newest timestamp of what is served, unless the
  // checkpoint's rows are all older than that (a trainer restored from an
  // earlier checkpoint) or nothing says when what is served was updated.
  std::optional<int64_t> Since(std::optional<int64_t> checkpoint_newest,
                               std::optional<int64_t> since_time) const {
    if (!checkpoint_newest) return std::nullopt;
    if (since_time) return since_time;
    if (!updated_through_ || *checkpoint_newest < *updated_through_) return std::nullopt;
    return updated_through_;
  }

  // The version's own index when it indexes exactly these keys, else null.
  std::unique_ptr<RowIndex> IndexFromFile(const std::string& version_dir) const {
    fs::path path = fs::path(version_dir) / kExtraAssetsDirectory / kTableIndexDirectory /
                    TableIndexFilename(name_);
    std::error_code ec;
    if (!fs::exists(path, ec)) return nullptr;
    absl::StatusOr<std::unique_ptr<TableIndexFile>> file = TableIndexFile::Open(path.string());
    if (!file.ok() || !(*file)->CheckIndexes(keys_).ok()) return nullptr;
    return (*file)->TakeIndex();
  }

  // Row `row` of checkpoint values `values`, as the version stores it
  // (encoded into `buffer` when the version compresses the table).
  const std::byte* CheckpointRow(const Tensor& values, int64_t row,
                                 std::vector<int32_t>& buffer) const {
    if (encoding_ == EmbeddingDtype::kFloat32) {
      return values.data() + row * static_cast<int64_t>(row_bytes_);
    }
    const int64_t dim = values.shape()[1];
    buffer.resize(row_bytes_ / sizeof(int32_t));
    EncodeRows(encoding_, values.flat<float>().data() + row * dim, 1, dim, buffer.data());
    return reinterpret_cast<const std::byte*>(buffer.data());
  }

  // Whether checkpoint values `v` hold the served rows: as stored, or as
  // trained (float32 [N, dim]) for a compressed table.
  bool HoldsServedRows(const Tensor& v) const {
    if (encoding_ != EmbeddingDtype::kFloat32) {
      return v.dtype() == tensorflow::DT_FLOAT && v.shape().size() == 2 &&
             TensorShape{StoredRowWidth(encoding_, v.shape()[1])} == row_shape_;
    }
    return v.dtype() == dtype_ && !v.shape().empty() &&
           TensorShape(v.shape().begin() + 1, v.shape().end()) == row_shape_;
  }

  // The checkpoint's keys and values of `shard`, checked against the rows.
  absl::Status MapShard(const CheckpointReader& checkpoint, int shard, std::vector<Tensor>& keys,
                        std::vector<Tensor>& values) const {
    const std::string values_name = TableShardTensorName(name_, shard, "values");
    RECSHIP_ASSIGN_OR_RETURN(keys.emplace_back(),
                             checkpoint.bundle().Map(TableShardTensorName(name_, shard, "keys")));
    RECSHIP_ASSIGN_OR_RETURN(values.emplace_back(), checkpoint.bundle().Map(values_name));
    const Tensor& v = values.back();
    if (HoldsServedRows(v) && v.shape()[0] == keys.back().num_elements() &&
        keys.back().dtype() == tensorflow::DT_INT64) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", checkpoint.prefix(), ": ", values_name, " is ", DataTypeName(v.dtype()), " ",
        ShapeToString(v.shape()), ", but the served rows are ", DataTypeName(dtype_), " ",
        ShapeToString(row_shape_),
        encoding_ == EmbeddingDtype::kFloat32
            ? ""
            : absl::StrCat(" (", EmbeddingDtypeName(encoding_), ", encoded from float32)"),
        " (with as many int64 keys)"));
  }

  const std::byte* OverlayRow(int64_t offset) const {
    return offset == kDeleted ? nullptr
                              : reinterpret_cast<const std::byte*>(overlay_rows_.data()) + offset;
  }

  // The row served for `key`, which the version holds at `row` of view `v`.
  const std::byte* ServedInPlace(int64_t key, size_t v, int64_t row) const {
    if (!overlay_.empty()) {
      if (auto it = overlay_.find(key); it != overlay_.end()) return OverlayRow(it->second);
    }
    return values_[v].data() + row * static_cast<int64_t>(row_bytes_);
  }

  // The row served for `key`, or null.
  const std::byte* Find(int64_t key) const {
    if (auto it = overlay_.find(key); it != overlay_.end()) return OverlayRow(it->second);
    int64_t ref = index_->Find(key);
    if (ref == RowIndex::kNone) return nullptr;
    const Tensor& view = values_[static_cast<size_t>((ref >> kTableRefSegmentShift) - 1)];
    return view.data() + (ref & kTableRefRowMask) * static_cast<int64_t>(row_bytes_);
  }

  template <typename F>
  void ForEachKey(F&& f) const {
    index_->ForEach([&](int64_t key, int64_t) {
      if (!overlay_.contains(key)) f(key);
    });
    for (const auto& [key, offset] : overlay_) {
      if (offset != kDeleted) f(key);
    }
  }

  const std::string name_;
  const std::vector<int> shards_;
  std::vector<Tensor> keys_, values_;
  std::unique_ptr<RowIndex> index_;
  // The newest timestamp of the rows served, when known (table_times.h).
  std::optional<int64_t> updated_through_;
  // Rows changed since the version: id -> offset in overlay_rows_, or
  // kDeleted.
  static constexpr int64_t kDeleted = -1;
  absl::flat_hash_map<int64_t, int64_t> overlay_;
  std::string overlay_rows_;
  DataType dtype_ = tensorflow::DT_FLOAT;
  EmbeddingDtype encoding_ = EmbeddingDtype::kFloat32;
  TensorShape row_shape_;
  size_t row_bytes_ = 0;
};

ServedTables::~ServedTables() = default;

absl::StatusOr<std::unique_ptr<ServedTables>> ServedTables::Open(const std::string& sub_base,
                                                                 int64_t version) {
  const std::string version_dir = (fs::path(sub_base) / std::to_string(version)).string();
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> base,
                           BundleReader::Open(VariablesPrefix(version_dir)));
  std::unique_ptr<ServedTables> out(new ServedTables());
  out->version_ = version;
  RECSHIP_ASSIGN_OR_RETURN(TableTimes times, ReadTableTimes(version_dir));
  // How the version stores its tables, from its graph (float32 without one).
  std::map<std::string, EmbeddingDtype> compressed;
  std::error_code ec;
  if (fs::exists(fs::path(version_dir) / kSavedModelFilename, ec)) {
    RECSHIP_ASSIGN_OR_RETURN(tensorflow::SavedModel saved_model, ReadSavedModel(version_dir));
    if (saved_model.meta_graphs_size() > 0) {
      compressed = CompressedTables(saved_model.meta_graphs(0).graph_def());
    }
  }
  for (const auto& [name, shards] : TableShards(*base)) {
    auto it = compressed.find(name);
    RECSHIP_ASSIGN_OR_RETURN(
        out->tables_[name],
        Table::Load(*base, version_dir, name, shards, times,
                    it == compressed.end() ? EmbeddingDtype::kFloat32 : it->second));
  }
  const std::string root = DeltaRoot(sub_base, version);
  for (int64_t sequence : ListDeltas(root)) {
    if (sequence != out->deltas_applied_ + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(root, ": ", DeltaFolderName(out->deltas_applied_ + 1), " is missing before ",
                       DeltaFolderName(sequence)));
    }
    const fs::path dir = fs::path(root) / DeltaFolderName(sequence);
    const std::string manifest_path = (dir / kDeltaManifestFilename).string();
    RECSHIP_ASSIGN_OR_RETURN(std::string json, ReadFileToString(manifest_path, 1 << 20));
    RECSHIP_ASSIGN_OR_RETURN(DeltaManifest manifest, DeltaManifest::Parse(json, manifest_path));
    RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> delta,
                             BundleReader::Open(VariablesPrefix(dir.string())));
    for (auto& [name, table] : out->tables_) {
      RECSHIP_RETURN_IF_ERROR(table->RecordDelta(*delta, manifest));
    }
    out->deltas_applied_ = sequence;
  }
  return out;
}

std::vector<std::string> ServedTables::tables() const {
  std::vector<std::string> names;
  for (const auto& [name, table] : tables_) names.push_back(name);
  return names;
}

DataType ServedTables::dtype(const std::string& table) const { return tables_.at(table)->dtype(); }

const TensorShape& ServedTables::row_shape(const std::string& table) const {
  return tables_.at(table)->row_shape();
}

absl::StatusOr<ServedTables::Changes> ServedTables::Diff(const CheckpointReader& checkpoint,
                                                         std::optional<int64_t> since_time) const {
  Changes changes;
  for (const auto& [name, table] : tables_) {
    RECSHIP_ASSIGN_OR_RETURN(changes[name], table->Diff(checkpoint, since_time));
  }
  return changes;
}

void ServedTables::Record(const Changes& changes) {
  for (const auto& [name, table_changes] : changes) {
    auto it = tables_.find(name);
    if (it != tables_.end()) it->second->Record(table_changes);
  }
}

ServedTables::Changes ServedTables::SinceVersion() const {
  Changes changes;
  for (const auto& [name, table] : tables_) changes[name] = table->SinceVersion();
  return changes;
}

absl::StatusOr<Tensor> ServedTables::RowsTensor(const std::string& table,
                                                const TableChanges& changes) const {
  TensorShape shape = {static_cast<int64_t>(changes.keys.size())};
  const TensorShape& row = row_shape(table);
  shape.insert(shape.end(), row.begin(), row.end());
  RECSHIP_ASSIGN_OR_RETURN(Tensor values, Tensor::Create(dtype(table), shape));
  if (values.byte_size() != changes.rows.size()) {
    return absl::InternalError(absl::StrCat("table '", table, "': ", changes.rows.size(),
                                            " bytes of rows for ", changes.keys.size(), " keys"));
  }
  if (!changes.rows.empty()) std::memcpy(values.data(), changes.rows.data(), changes.rows.size());
  return values;
}

}  // namespace recship
