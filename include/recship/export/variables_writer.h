// Writes an export's variables/ bundle from a checkpoint: only the named
// tensors, either streamed (bounded memory, every crc32c checked on the way)
// or shared: the checkpoint's data shards are hard-linked (else reflinked)
// and a new index points into them, so no byte is copied and the export
// outlives its checkpoint. Either way every exported tensor's crc32c is
// checked (shared mode reads the shared bytes once), so a corrupt checkpoint
// fails the write with DataLoss naming the data file and the tensor. Where the filesystems allow
// neither, shared mode streams the named tensors instead (shared_by = kCopy), rather than copying
// whole data shards with every optimizer slot and other sub-model's tables.
#ifndef RECSHIP_EXPORT_VARIABLES_WRITER_H_
#define RECSHIP_EXPORT_VARIABLES_WRITER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/core/file.h"
#include "recship/format/tensor_bundle.h"

namespace recship {

struct VariablesStats {
  uint64_t tensor_bytes = 0;             // Bytes of the exported tensors.
  uint64_t copied_bytes = 0;             // Bytes written by copying (0 when all linked).
  std::optional<CloneMethod> shared_by;  // How data shards were shared, if they were.
};

// Told the bytes of `names` written or shared so far: about every 2 MiB
// (however small the tensors), and once at the end. A non-OK status stops
// the write and is returned.
using BytesDoneCallback = std::function<absl::Status(uint64_t bytes_done)>;

// How variables/ gets the checkpoint's bytes.
enum class ShareMode {
  kCopy,   // Stream the exported tensors into new data files.
  kShare,  // Link the data files, then read each exported tensor once to
           // check its crc32c.
  // Link them without that read: for files the export wrote itself, whose
  // crc32c it computed as it wrote them.
  kShareWritten,
};

absl::StatusOr<VariablesStats> WriteVariables(const BundleReader& checkpoint,
                                              const std::vector<std::string>& names,
                                              const std::string& prefix, ShareMode mode,
                                              const BytesDoneCallback& on_bytes = nullptr);

}  // namespace recship

#endif  // RECSHIP_EXPORT_VARIABLES_WRITER_H_
