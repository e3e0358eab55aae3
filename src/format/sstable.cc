#include "sstable.h"

#include <snappy.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "leveldb/env.h"
#include "leveldb/options.h"
#include "leveldb/table_builder.h"
#include "recship/core/coding.h"
#include "recship/core/crc32c.h"
#include "recship/core/status_macros.h"

namespace recship::sstable {
namespace {

constexpr uint64_t kTableMagicNumber = 0xdb4775248b80fb57ull;
constexpr size_t kFooterSize = 48;
constexpr size_t kBlockTrailerSize = 5;  // type byte + fixed32 masked crc.
constexpr char kNoCompression = 0;
constexpr char kSnappyCompression = 1;
// Bundle index blocks are kilobytes; this only stops a corrupt snappy header
// from asking for an absurd buffer.
constexpr size_t kMaxUncompressedBlock = size_t{256} << 20;

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

class TableReader {
 public:
  explicit TableReader(const RandomAccessFile& file) : file_(file) {}

  absl::Status Run(const std::function<absl::Status(absl::string_view, absl::string_view)>& visit) {
    if (file_.size() < kFooterSize) return Corrupt("too short to be a table index");
    char footer[kFooterSize];
    RECSHIP_RETURN_IF_ERROR(file_.Read(file_.size() - kFooterSize, kFooterSize, footer));
    if (DecodeFixed64(footer + kFooterSize - 8) != kTableMagicNumber) {
      return Corrupt("bad magic number (not a LevelDB-format table)");
    }
    absl::string_view handles(footer, kFooterSize - 8);
    BlockHandle metaindex, index;
    if (!DecodeHandle(&handles, &metaindex) || !DecodeHandle(&handles, &index)) {
      return Corrupt("bad block handle in footer");
    }
    std::string index_block;
    RECSHIP_RETURN_IF_ERROR(ReadBlock(index, "index block", &index_block));
    // Data blocks lie in file order without overlap (as LevelDB writes them),
    // so the walk reads each byte once: a crafted index cannot list one big
    // block over and over and make the work quadratic.
    uint64_t next_block = 0;
    // A table's keys are unique and in bytewise order; anything else is
    // corrupt (a repeated tensor name would make lookups ambiguous).
    std::string last_key;
    bool first_key = true;
    auto visit_in_order = [&](absl::string_view key, absl::string_view value) -> absl::Status {
      if (!first_key && key <= last_key) {
        return Corrupt(absl::StrCat("key '", key, "' does not come after '", last_key,
                                    "' (keys out of order or repeated)"));
      }
      first_key = false;
      last_key.assign(key.data(), key.size());
      return visit(key, value);
    };
    return ForEachInBlock(index_block, "index block",
                          [&](absl::string_view, absl::string_view value) -> absl::Status {
                            BlockHandle handle;
                            if (!DecodeHandle(&value, &handle)) {
                              return Corrupt("bad data block handle in index block");
                            }
                            if (handle.offset < next_block) {
                              return Corrupt(absl::StrCat("data block at offset ", handle.offset,
                                                          " overlaps or precedes the one before"));
                            }
                            std::string data_block;
                            RECSHIP_RETURN_IF_ERROR(ReadBlock(handle, "data block", &data_block));
                            next_block = handle.offset + handle.size + kBlockTrailerSize;
                            return ForEachInBlock(data_block, "data block", visit_in_order);
                          });
  }

 private:
  absl::Status Corrupt(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(file_.name(), ": corrupt table: ", what));
  }

  static bool DecodeHandle(absl::string_view* in, BlockHandle* handle) {
    return GetVarint(in, 64, &handle->offset) && GetVarint(in, 64, &handle->size);
  }

  absl::Status ReadBlock(const BlockHandle& handle, absl::string_view what, std::string* out) {
    uint64_t limit = file_.size() - kFooterSize;
    if (handle.offset > limit || handle.size > limit - handle.offset ||
        kBlockTrailerSize > limit - handle.offset - handle.size) {
      return Corrupt(absl::StrCat(what, " handle (offset ", handle.offset, ", size ", handle.size,
                                  ") points outside the file"));
    }
    std::string raw(handle.size + kBlockTrailerSize, '\0');
    RECSHIP_RETURN_IF_ERROR(file_.Read(handle.offset, raw.size(), raw.data()));
    const char* trailer = raw.data() + handle.size;
    uint32_t expected = crc32c::Unmask(DecodeFixed32(trailer + 1));
    if (crc32c::Value(raw.data(), handle.size + 1) != expected) {
      return Corrupt(absl::StrCat(what, " at offset ", handle.offset, " fails its checksum"));
    }
    if (trailer[0] == kNoCompression) {
      raw.resize(handle.size);
      *out = std::move(raw);
      return absl::OkStatus();
    }
    if (trailer[0] != kSnappyCompression) {
      return Corrupt(
          absl::StrCat(what, " has unknown compression type ", static_cast<int>(trailer[0])));
    }
    size_t length = 0;
    if (!snappy::GetUncompressedLength(raw.data(), handle.size, &length) ||
        length > kMaxUncompressedBlock) {
      return Corrupt(absl::StrCat(what, " has a bad snappy header"));
    }
    // The header can claim any length: check that the stream really expands
    // to it (without writing anything) before allocating the buffer, so a
    // tiny corrupt index cannot make us allocate hundreds of MiB.
    if (!snappy::IsValidCompressedBuffer(raw.data(), handle.size)) {
      return Corrupt(absl::StrCat(what, " does not decompress"));
    }
    out->resize(length);
    if (!snappy::RawUncompress(raw.data(), handle.size, out->data())) {
      return Corrupt(absl::StrCat(what, " does not decompress"));
    }
    return absl::OkStatus();
  }

  absl::Status ForEachInBlock(
      absl::string_view block, absl::string_view what,
      const std::function<absl::Status(absl::string_view, absl::string_view)>& visit) const {
    if (block.size() < 4) return Corrupt(absl::StrCat(what, " too short"));
    uint64_t num_restarts = DecodeFixed32(block.data() + block.size() - 4);
    if (num_restarts > (block.size() - 4) / 4) {
      return Corrupt(absl::StrCat(what, " has a bad restart count"));
    }
    absl::string_view entries = block.substr(0, block.size() - 4 - 4 * num_restarts);
    std::string key;
    while (!entries.empty()) {
      uint64_t shared, non_shared, value_length;
      if (!GetVarint(&entries, 35, &shared) || !GetVarint(&entries, 35, &non_shared) ||
          !GetVarint(&entries, 35, &value_length) || shared > key.size() ||
          non_shared > entries.size() || value_length > entries.size() - non_shared) {
        return Corrupt(absl::StrCat("bad entry in ", what));
      }
      key.resize(shared);
      key.append(entries.data(), non_shared);
      absl::string_view value = entries.substr(non_shared, value_length);
      entries.remove_prefix(non_shared + value_length);
      RECSHIP_RETURN_IF_ERROR(visit(key, value));
    }
    return absl::OkStatus();
  }

  const RandomAccessFile& file_;
};

absl::Status FromLevelDb(const leveldb::Status& s, const std::string& path) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("writing ", path, ": ", s.ToString()));
}

}  // namespace

absl::Status ForEachEntry(
    const RandomAccessFile& file,
    const std::function<absl::Status(absl::string_view key, absl::string_view value)>& visit) {
  return TableReader(file).Run(visit);
}

absl::Status WriteTable(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& entries) {
  leveldb::WritableFile* raw_file = nullptr;
  RECSHIP_RETURN_IF_ERROR(
      FromLevelDb(leveldb::Env::Default()->NewWritableFile(path, &raw_file), path));
  std::unique_ptr<leveldb::WritableFile> file(raw_file);
  leveldb::Options options;
  options.compression = leveldb::kNoCompression;
  options.filter_policy = nullptr;
  leveldb::TableBuilder builder(options, file.get());
  for (const auto& [key, value] : entries) builder.Add(key, value);
  RECSHIP_RETURN_IF_ERROR(FromLevelDb(builder.Finish(), path));
  RECSHIP_RETURN_IF_ERROR(FromLevelDb(file->Sync(), path));
  return FromLevelDb(file->Close(), path);
}

}  // namespace recship::sstable
