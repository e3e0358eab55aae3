// A hash table's index saved beside its rows, so that a server maps it
// instead of building it: assets.extra/recship_table_index/<table> in an
// export (a folder TensorFlow and TensorFlow Serving ignore).
//
// The table's rows are its views: the large keys/values tensors of
// variables/ it restores, in the order it adds them (one per checkpoint shard
// of the table). The file holds, for each view, its row count and the crc32c
// of its keys' bytes, so a reader can tell whether the index was built from
// exactly those keys; then the slots of a RowIndex over all of them, where
// row r of view v has the reference TableRowRef(v + 1, r) (segment 0 is
// the table's own rows, which an index file never refers to).
//
// Layout (little-endian; docs/runtime.md has it too):
//   0  magic "RSTBLIDX"            8 bytes
//   8  format version (1)          u32
//  12  views n                     u32
//  16  slots (capacity)            u64
//  24  keys (occupied slots)       u64
//  32  masked crc32c of the slots  u32
//  36  masked crc32c of bytes [0, 36) and the view records   u32
//  40  n view records: rows u64, masked crc32c of the keys' bytes u32, 0 u32
//      zeros up to the header size, a multiple of 4096
//  header size: capacity slots of 16 bytes (RowIndex::Slot)
#ifndef RECSHIP_FORMAT_TABLE_INDEX_FILE_H_
#define RECSHIP_FORMAT_TABLE_INDEX_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/format/row_index.h"
#include "recship/format/tensor.h"

namespace recship {

// assets.extra/<this>/ holds an export's table index files.
inline constexpr char kTableIndexDirectory[] = "recship_table_index";

// A row reference: the segment (0 the table's own rows, s > 0 view s - 1)
// in the high bits, the row within it in the low ones.
inline constexpr int kTableRefSegmentShift = 40;
inline constexpr int64_t kTableRefRowMask = (int64_t{1} << kTableRefSegmentShift) - 1;
constexpr int64_t TableRowRef(int64_t segment, int64_t row) {
  return (segment << kTableRefSegmentShift) | row;
}

// The file name of `table`'s index: the name with every byte outside
// [A-Za-z0-9_-] written as %XX (so a name with slashes or dots stays one
// file in the folder), or "%" for the empty name.
std::string TableIndexFilename(absl::string_view table);

// The masked crc32c of a keys tensor's bytes, as view records hold it.
uint32_t KeysChecksum(const Tensor& keys);

// Writes the index of a table whose views have these keys (int32 or int64
// tensors, in the order the table adds them) to `path`, with room for an
// eighth more keys. Errors name it.
absl::Status WriteTableIndexFile(const std::string& path, const std::vector<Tensor>& view_keys);

// An index file, checked and mapped copy-on-write: lookups read the slots
// from the page cache, and a table that changes a key copies only the pages
// it writes, never the file.
class TableIndexFile {
 public:
  struct View {
    int64_t rows;
    uint32_t keys_checksum;  // KeysChecksum.
  };
  // Checks the header, the size, the slots' crc32c and that the slots hold
  // exactly the keys the header counts (so every probe ends). Errors name
  // the file and what is wrong.
  static absl::StatusOr<std::unique_ptr<TableIndexFile>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<View>& views() const { return views_; }
  // OK when the file indexes exactly these views' keys (their count, row
  // counts and keys' checksums), else FailedPrecondition saying how not.
  absl::Status CheckIndexes(const std::vector<Tensor>& view_keys) const;
  // The index over the file's slots, which it writes in place (copy-on-write);
  // the mapping lives as long as the index. Once only: later calls return an
  // empty index.
  std::unique_ptr<RowIndex> TakeIndex();

 private:
  TableIndexFile() = default;

  std::string path_;
  std::vector<View> views_;
  std::shared_ptr<void> mapping_;
  RowIndex::Slot* slots_ = nullptr;
  uint64_t capacity_ = 0;
  int64_t keys_ = 0;
};

}  // namespace recship

#endif  // RECSHIP_FORMAT_TABLE_INDEX_FILE_H_
