#include "recship/model/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/checkpoint_state.h"

namespace recship {
namespace {

absl::Status CheckTableShard(absl::string_view table, int shard,
                             const CheckpointWriter::TableShard& data) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("table ", table, " shard ", shard, ": ", what));
  };
  if (data.keys.dtype() != tensorflow::DT_INT64 || data.keys.shape().size() != 1) {
    return bad("keys must be int64 [N]");
  }
  int64_t n = data.keys.shape()[0];
  if (data.values.dtype() != tensorflow::DT_FLOAT || data.values.shape().size() != 2 ||
      data.values.shape()[0] != n) {
    return bad(absl::StrCat("values must be float32 [", n, ", dim], not ",
                            ShapeToString(data.values.shape())));
  }
  for (const auto* t :
       {data.freqs ? &*data.freqs : nullptr, data.timestamps ? &*data.timestamps : nullptr}) {
    if (t != nullptr && (t->dtype() != tensorflow::DT_INT64 || t->shape() != TensorShape{n})) {
      return bad(absl::StrCat("freqs and timestamps must be int64 [", n, "]"));
    }
  }
  for (const auto& [name, slot] : data.slots) {
    if (slot.dtype() != tensorflow::DT_FLOAT || slot.shape().size() != 2 || slot.shape()[0] != n) {
      return bad(absl::StrCat("slot ", name, " must be float32 [", n, ", k]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string TableShardTensorName(absl::string_view table, int shard, absl::string_view part) {
  return absl::StrCat(table, "/shard_", shard, "-", part);
}

std::string CheckpointPrefix(const std::string& model_dir, int64_t step) {
  return (std::filesystem::path(model_dir) / absl::StrCat("model.ckpt-", step)).string();
}

absl::StatusOr<std::unique_ptr<CheckpointWriter>> CheckpointWriter::Create(
    const std::string& model_dir, int64_t step, Options options) {
  std::error_code ec;
  std::filesystem::create_directories(model_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", model_dir, ": ", ec.message()));
  RECSHIP_ASSIGN_OR_RETURN(auto bundle, BundleWriter::Create(CheckpointPrefix(model_dir, step),
                                                             {.num_shards = options.num_data_shards,
                                                              .data_alignment = 8}));
  return std::unique_ptr<CheckpointWriter>(
      new CheckpointWriter(model_dir, step, std::move(bundle)));
}

absl::Status CheckpointWriter::AddDense(absl::string_view name, const Tensor& value,
                                        int data_shard) {
  return bundle_->Add(name, value, data_shard);
}

absl::Status CheckpointWriter::AddTableShard(absl::string_view table, int shard,
                                             const TableShard& data, int data_shard) {
  RECSHIP_RETURN_IF_ERROR(CheckTableShard(table, shard, data));
  RECSHIP_RETURN_IF_ERROR(
      bundle_->Add(TableShardTensorName(table, shard, "keys"), data.keys, data_shard));
  RECSHIP_RETURN_IF_ERROR(
      bundle_->Add(TableShardTensorName(table, shard, "values"), data.values, data_shard));
  if (data.freqs) {
    RECSHIP_RETURN_IF_ERROR(
        bundle_->Add(TableShardTensorName(table, shard, "freqs"), *data.freqs, data_shard));
  }
  if (data.timestamps) {
    RECSHIP_RETURN_IF_ERROR(bundle_->Add(TableShardTensorName(table, shard, "timestamps"),
                                         *data.timestamps, data_shard));
  }
  for (const auto& [name, slot] : data.slots) {
    RECSHIP_RETURN_IF_ERROR(bundle_->Add(
        TableShardTensorName(table, shard, absl::StrCat("slot-", name)), slot, data_shard));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointWriter::Finish() {
  RECSHIP_RETURN_IF_ERROR(bundle_->Add(kGlobalStepName, Tensor::FromVector<int64_t>({}, {step_})));
  RECSHIP_RETURN_IF_ERROR(bundle_->Finish());
  std::string prefix = bundle_->prefix();
  std::vector<std::string> all;
  if (auto state = ReadCheckpointState(model_dir_); state.ok()) {
    for (const std::string& p : state->all_model_checkpoint_paths()) {
      if (p != prefix) all.push_back(p);
    }
  }
  all.push_back(prefix);
  RECSHIP_RETURN_IF_ERROR(WriteCheckpointState(model_dir_, prefix, all));
  return prefix;
}

absl::StatusOr<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(
    const std::string& prefix) {
  RECSHIP_ASSIGN_OR_RETURN(auto bundle, BundleReader::Open(prefix));
  std::unique_ptr<CheckpointReader> reader(new CheckpointReader(std::move(bundle)));
  for (const BundleEntry& entry : reader->bundle_->entries()) {
    // "<table>/shard_<i>-keys" with a matching "-values".
    if (!absl::EndsWith(entry.name, "-keys")) continue;
    size_t at = entry.name.rfind("/shard_");
    if (at == std::string::npos) continue;
    std::string table = entry.name.substr(0, at);
    std::string digits = entry.name.substr(at + 7, entry.name.size() - 5 - (at + 7));
    int shard;
    if (!absl::SimpleAtoi(digits, &shard) || shard < 0) continue;
    if (reader->bundle_->Find(TableShardTensorName(table, shard, "values")) == nullptr) continue;
    reader->tables_[table].push_back(shard);
  }
  for (auto& [table, shards] : reader->tables_) std::sort(shards.begin(), shards.end());
  if (reader->bundle_->Find(kGlobalStepName) != nullptr) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor step, reader->bundle_->Read(kGlobalStepName));
    if (step.dtype() == tensorflow::DT_INT64 && step.num_elements() == 1) {
      reader->global_step_ = step.flat<int64_t>()[0];
    }
  }
  return reader;
}

absl::StatusOr<std::optional<std::vector<Tensor>>> CheckpointReader::TableTimestamps(
    const std::string& table, const std::vector<int>& shards) const {
  std::vector<Tensor> out;
  for (int shard : shards) {
    const std::string name = TableShardTensorName(table, shard, "timestamps");
    const BundleEntry* entry = bundle_->Find(name);
    if (entry == nullptr) return std::nullopt;
    const BundleEntry* keys = bundle_->Find(TableShardTensorName(table, shard, "keys"));
    if (entry->dtype != tensorflow::DT_INT64 || entry->shape.size() != 1 || keys == nullptr ||
        keys->shape.empty() || entry->shape[0] != keys->shape[0]) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", prefix(), ": ", name, " is ", DataTypeName(entry->dtype), " ",
                       ShapeToString(entry->shape), ", not int64 with one value per key"));
    }
    RECSHIP_ASSIGN_OR_RETURN(out.emplace_back(), bundle_->Map(name));
  }
  return out;
}

}  // namespace recship
