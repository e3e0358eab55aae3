#include "recship/export/variables_writer.h"

#include <algorithm>

#include "recship/core/status_macros.h"

namespace recship::exporter {
namespace {

// Small enough that the kernel's sequential readahead fetches the next chunks
// while this one is checked and written, so the disk never waits for the copy.
// With 8 MiB reads, reading and writing took turns: a 1.3 GB cold-cache export
// took 2.3 s (median) instead of 1.3 s on a 2-core VM with 8 MiB readahead.
constexpr uint64_t kChunkBytes = 2 << 20;

absl::StatusOr<VariablesStats> StreamVariables(const BundleReader& checkpoint,
                                               const std::vector<std::string>& names,
                                               const std::string& prefix) {
  VariablesStats stats;
  ASSIGN_OR_RETURN(auto writer, BundleWriter::Create(prefix));
  std::vector<char> buffer;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(const BundleEntry* entry, checkpoint.Lookup(name));
    stats.tensor_bytes += entry->size;
    if (entry->dtype == tensorflow::DT_STRING) {
      ASSIGN_OR_RETURN(Tensor tensor, checkpoint.Read(name));
      RETURN_IF_ERROR(writer->Add(name, tensor));
      continue;
    }
    ASSIGN_OR_RETURN(TensorStream stream, checkpoint.OpenStream(name));
    RETURN_IF_ERROR(writer->BeginTensor(name, entry->dtype, entry->shape));
    buffer.resize(std::min(kChunkBytes, std::max<uint64_t>(entry->size, 1)));
    while (stream.remaining_bytes() > 0) {
      uint64_t n = std::min<uint64_t>(stream.remaining_bytes(), buffer.size());
      RETURN_IF_ERROR(stream.Read(n, buffer.data()));
      RETURN_IF_ERROR(writer->Append(absl::string_view(buffer.data(), n)));
    }
    RETURN_IF_ERROR(writer->EndTensor());
  }
  RETURN_IF_ERROR(writer->Finish());
  stats.copied_bytes = stats.tensor_bytes;
  return stats;
}

absl::StatusOr<VariablesStats> ShareVariables(const BundleReader& checkpoint,
                                              const std::vector<std::string>& names,
                                              const std::string& prefix) {
  VariablesStats stats;
  std::vector<BundleEntry> entries;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(const BundleEntry* entry, checkpoint.Lookup(name));
    entries.push_back(*entry);
    stats.tensor_bytes += entry->size;
  }
  int n = checkpoint.num_shards();
  for (int i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(CloneMethod method, LinkOrCopyFile(BundleDataPath(checkpoint.prefix(), i, n),
                                                        BundleDataPath(prefix, i, n)));
    // Report the weakest method used for any shard.
    if (!stats.shared_by || static_cast<int>(method) > static_cast<int>(*stats.shared_by)) {
      stats.shared_by = method;
    }
  }
  if (stats.shared_by == CloneMethod::kCopy) stats.copied_bytes = stats.tensor_bytes;
  RETURN_IF_ERROR(WriteBundleIndex(prefix, n, entries));
  return stats;
}

}  // namespace

absl::StatusOr<VariablesStats> WriteVariables(const BundleReader& checkpoint,
                                              const std::vector<std::string>& names,
                                              const std::string& prefix, bool shared) {
  return shared ? ShareVariables(checkpoint, names, prefix)
                : StreamVariables(checkpoint, names, prefix);
}

}  // namespace recship::exporter
