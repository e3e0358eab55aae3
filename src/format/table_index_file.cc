#include "recship/format/table_index_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/core/coding.h"
#include "recship/core/crc32c.h"
#include "recship/core/mapped_file.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

constexpr char kMagic[8] = {'R', 'S', 'T', 'B', 'L', 'I', 'D', 'X'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedBytes = 40;
constexpr size_t kViewBytes = 16;
constexpr size_t kAlignment = 4096;

size_t HeaderBytes(size_t views) {
  size_t bytes = kFixedBytes + kViewBytes * views;
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

// The header's crc: bytes [0, 36) then the view records.
uint32_t HeaderChecksum(const std::byte* header, size_t views) {
  uint32_t crc = crc32c::Value(header, 36);
  crc = crc32c::Extend(crc, header + kFixedBytes, kViewBytes * views);
  return crc32c::Mask(crc);
}

absl::Status ErrnoError(const std::string& path, absl::string_view what) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", strerror(errno)));
}

void PutFixed32(std::byte* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutFixed64(std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); }

std::string EncodeHeader(const std::vector<Tensor>& view_keys, uint64_t capacity, int64_t keys,
                         uint32_t slots_crc) {
  std::string header(HeaderBytes(view_keys.size()), '\0');
  auto* p = reinterpret_cast<std::byte*>(header.data());
  std::memcpy(p, kMagic, sizeof(kMagic));
  PutFixed32(p + 8, kVersion);
  PutFixed32(p + 12, static_cast<uint32_t>(view_keys.size()));
  PutFixed64(p + 16, capacity);
  PutFixed64(p + 24, static_cast<uint64_t>(keys));
  PutFixed32(p + 32, slots_crc);
  for (size_t v = 0; v < view_keys.size(); ++v) {
    std::byte* record = p + kFixedBytes + kViewBytes * v;
    PutFixed64(record, static_cast<uint64_t>(view_keys[v].num_elements()));
    PutFixed32(record + 8, KeysChecksum(view_keys[v]));
  }
  PutFixed32(p + 36, HeaderChecksum(p, view_keys.size()));
  return header;
}

// What one pass over the slots finds: their crc, how many are occupied and
// how many of those refer to no row of the views (`view_rows`, unless null).
struct SlotScan {
  uint32_t crc = 0;
  int64_t occupied = 0;
  int64_t bad_refs = 0;
};
SlotScan ScanSlots(const RowIndex::Slot* slots, uint64_t capacity,
                   const std::vector<int64_t>* view_rows = nullptr) {
  constexpr uint64_t kChunk = 1 << 16;
  SlotScan scan;
  for (uint64_t begin = 0; begin < capacity; begin += kChunk) {
    uint64_t n = std::min(kChunk, capacity - begin);
    scan.crc = crc32c::Extend(scan.crc, slots + begin, n * sizeof(RowIndex::Slot));
    for (uint64_t i = begin; i < begin + n; ++i) {
      const int64_t ref_plus_one = slots[i].ref_plus_one;
      if (ref_plus_one == 0) continue;
      ++scan.occupied;
      if (view_rows == nullptr) continue;
      const int64_t segment = (ref_plus_one - 1) >> kTableRefSegmentShift;
      const int64_t row = (ref_plus_one - 1) & kTableRefRowMask;
      scan.bad_refs += segment < 1 || segment > static_cast<int64_t>(view_rows->size()) ||
                       row >= (*view_rows)[static_cast<size_t>(segment - 1)];
    }
  }
  scan.crc = crc32c::Mask(scan.crc);
  return scan;
}

absl::Status Corrupt(const std::string& path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("table index ", path, ": ", what));
}

}  // namespace

std::string TableIndexFilename(absl::string_view table) {
  if (table.empty()) return "%";
  std::string out;
  for (char c : table) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      out += c;
    } else {
      absl::StrAppend(&out, absl::StrFormat("%%%02X", static_cast<unsigned char>(c)));
    }
  }
  return out;
}

uint32_t KeysChecksum(const Tensor& keys) {
  return crc32c::Mask(crc32c::Value(keys.data(), keys.byte_size()));
}

absl::Status WriteTableIndexFile(const std::string& path, const std::vector<Tensor>& view_keys) {
  std::vector<RowIndex::KeyRun> runs;
  int64_t total = 0;
  for (size_t v = 0; v < view_keys.size(); ++v) {
    runs.push_back({view_keys[v], TableRowRef(static_cast<int64_t>(v) + 1, 0)});
    total += view_keys[v].num_elements();
  }
  // An eighth more room than the keys need, so that a server can add keys
  // (live updates, deltas) in place before the index has to grow.
  const uint64_t capacity = RowIndex::CapacityFor(total + total / 8);
  const size_t header_bytes = HeaderBytes(view_keys.size());
  const size_t slot_bytes = capacity * sizeof(RowIndex::Slot);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(path, "cannot create");
  auto fail = [&](absl::string_view what) {
    absl::Status status = ErrnoError(path, what);
    close(fd);
    unlink(path.c_str());
    return status;
  };
  if (ftruncate(fd, static_cast<off_t>(header_bytes + slot_bytes)) != 0) return fail("cannot size");
  // Built in place in the file's pages: no copy of the slots in the heap.
  void* mapped = mmap(nullptr, slot_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                      static_cast<off_t>(header_bytes));
  if (mapped == MAP_FAILED) return fail("cannot map");
  int64_t keys;
  uint32_t slots_crc;
  {
    std::shared_ptr<void> owner(mapped, [slot_bytes](void* p) { munmap(p, slot_bytes); });
    RowIndex index(owner, static_cast<RowIndex::Slot*>(mapped), capacity, 0);
    index.PutAll(runs);  // Never grows: capacity is sized for every key.
    keys = index.size();
    slots_crc = ScanSlots(index.slots(), capacity).crc;
  }
  std::string header = EncodeHeader(view_keys, capacity, keys, slots_crc);
  if (pwrite(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
    return fail("cannot write the header");
  }
  if (close(fd) != 0) return ErrnoError(path, "cannot close");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TableIndexFile>> TableIndexFile::Open(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file,
                           MappedFile::Open(path, MappedFile::Access::kCopyOnWrite));
  const std::byte* p = file->data();
  if (file->size() < kFixedBytes || std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    return Corrupt(path, "not a recship table index (bad magic)");
  }
  const char* c = reinterpret_cast<const char*>(p);
  if (DecodeFixed32(c + 8) != kVersion) {
    return Corrupt(path, absl::StrCat("format version ", DecodeFixed32(c + 8), ", not ", kVersion));
  }
  const uint32_t views = DecodeFixed32(c + 12);
  const uint64_t capacity = DecodeFixed64(c + 16);
  const uint64_t keys = DecodeFixed64(c + 24);
  const size_t header_bytes = HeaderBytes(views);
  if (views > (1u << 20) || capacity > (uint64_t{1} << 40) ||
      file->size() != header_bytes + capacity * sizeof(RowIndex::Slot)) {
    return Corrupt(
        path, absl::StrCat("is ", file->size(), " bytes, which does not match its header (", views,
                           " views, ", capacity, " slots)"));
  }
  if (HeaderChecksum(p, views) != DecodeFixed32(c + 36))
    return Corrupt(path, "header checksum mismatch");
  if (keys >= capacity) return Corrupt(path, "has no empty slot");
  std::unique_ptr<TableIndexFile> out(new TableIndexFile());
  out->path_ = path;
  std::vector<int64_t> view_rows;
  for (uint32_t v = 0; v < views; ++v) {
    const char* record = c + kFixedBytes + kViewBytes * v;
    out->views_.push_back({static_cast<int64_t>(DecodeFixed64(record)), DecodeFixed32(record + 8)});
    view_rows.push_back(out->views_.back().rows);
  }
  auto* slots = reinterpret_cast<RowIndex::Slot*>(file->data() + header_bytes);
  SlotScan scan = ScanSlots(slots, capacity, &view_rows);
  if (scan.crc != DecodeFixed32(c + 32)) return Corrupt(path, "slots checksum mismatch");
  if (static_cast<uint64_t>(scan.occupied) != keys) {
    return Corrupt(path, absl::StrCat("holds ", scan.occupied, " keys, its header says ", keys));
  }
  if (scan.bad_refs > 0) {
    return Corrupt(path, absl::StrCat(scan.bad_refs, " slots refer to rows its views do not have"));
  }
  out->slots_ = slots;
  out->capacity_ = capacity;
  out->keys_ = static_cast<int64_t>(keys);
  out->mapping_ = std::const_pointer_cast<MappedFile>(file);
  return out;
}

absl::Status TableIndexFile::CheckIndexes(const std::vector<Tensor>& view_keys) const {
  if (views_.size() != view_keys.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("it indexes ", views_.size(), " views, the table has ", view_keys.size()));
  }
  for (size_t v = 0; v < views_.size(); ++v) {
    if (views_[v].rows != view_keys[v].num_elements() ||
        views_[v].keys_checksum != KeysChecksum(view_keys[v])) {
      return absl::FailedPreconditionError(absl::StrCat("view ", v, " has other keys"));
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<RowIndex> TableIndexFile::TakeIndex() {
  if (!mapping_) return std::make_unique<RowIndex>();
  return std::make_unique<RowIndex>(std::move(mapping_), slots_, capacity_, keys_);
}

}  // namespace recship
