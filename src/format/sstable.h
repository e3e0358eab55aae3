// LevelDB's table format ("SSTable"), the format of a tensor bundle's .index.
#ifndef RECSHIP_FORMAT_SSTABLE_H_
#define RECSHIP_FORMAT_SSTABLE_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "recship/core/file.h"

namespace recship::sstable {

// Calls `visit` with every key and value of the table in `file`, in order.
// Checks every block's crc32c; accepts uncompressed and snappy blocks.
//
// This reader is our own rather than leveldb::Table because leveldb allocates
// the size a block handle claims before checking it against the file, so a
// corrupt index could make it allocate without bound. Here every handle is
// checked against the file size before anything is read. Errors name the file.
absl::Status ForEachEntry(
    const RandomAccessFile& file,
    const std::function<absl::Status(absl::string_view key, absl::string_view value)>& visit);

// Writes `entries` (sorted by key, unique) as a table at `path` with Debian's
// LevelDB: no compression, no filter, bytewise order; the file is fsynced.
absl::Status WriteTable(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& entries);

}  // namespace recship::sstable

#endif  // RECSHIP_FORMAT_SSTABLE_H_
