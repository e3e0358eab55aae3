// Shared helpers of the libFuzzer targets and their seed generator: a private
// temporary folder, a sample bundle written with the real BundleWriter, an
// in-memory LevelDB-table builder for crafted .index files, and the checks a
// harness uses to call a property violation a crash.
#ifndef RECSHIP_TESTS_FUZZ_FUZZ_UTIL_H_
#define RECSHIP_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "recship/format/tensor_bundle.h"

namespace recship::fuzz {

// Aborts with `what` (so libFuzzer records the input) when `condition` fails.
void Check(bool condition, const char* what);

// Aborts with `status` when it is not OK; for setup steps that must work.
void CheckOk(const absl::Status& status, const char* what);

// True when RECSHIP_FUZZ_VERBOSE is set: harnesses then print why an input
// does (not) get far.
bool Verbose();

// A fresh folder under $TMPDIR (or /tmp), removed at exit.
const std::string& TempDir();

// Writes `contents` to `path` (no fsync; scratch files only).
void WriteScratchFile(const std::string& path, absl::string_view contents);
std::string ReadWholeFile(const std::string& path);

// Writes a small bundle at `prefix` with the real BundleWriter: float, double,
// int64, int32, bool, half, scalar, empty and string tensors, spread over
// `num_shards` shards. The output is deterministic, so a fuzzer's data shards
// match the index seeds the generator writes.
void WriteSampleBundle(const std::string& prefix, int num_shards);

// Builds a LevelDB-format table in memory from sorted, unique `entries`, as
// TensorFlow's .index files are, optionally with snappy-compressed blocks (as
// older TensorFlow wrote them) and a small block size (many data blocks).
std::string BuildTable(const std::vector<std::pair<std::string, std::string>>& entries, bool snappy,
                       size_t block_size = 4096);

// Recomputes the checksum of every block of the LevelDB-format table in
// `table` that it can find (footer handles, then the data block handles in the
// index block), so that mutated block contents get past the crc check and into
// the block, entry and proto parsers. Returns false when nothing changed.
bool RepairTableChecksums(std::string* table);

// Recomputes both checksums of every complete TFRecord frame in `file`, up to
// the first frame that does not fit. Returns false when nothing changed.
bool RepairTFRecordChecksums(std::string* file);

// The index entries (header under "" first, then tensors by name) of `reader`.
std::vector<std::pair<std::string, std::string>> IndexEntries(const BundleReader& reader);

// Reads everything `reader` offers, the way a user of the bundle would: every
// entry by Read, Verify, a chunked TensorStream and ReadRows. Errors are
// expected; the function checks only that the answers agree with each other
// (a tensor that reads whole also verifies and streams, to the same bytes).
// `chunk` (>= 1) is the stream's piece size.
void ExerciseBundle(const BundleReader& reader, uint64_t chunk);

// The input of fuzz_bundle_entry: a small header that describes one tensor
// entry, then the bytes of the data shard it lives in. The harness builds the
// .index from the header, so the fuzzer spends its effort on shard contents
// (notably the string-tensor encoding) rather than on the table format:
//   byte 0     dtype, kEntryDtypes[byte % size]
//   byte 1     EntryFlags
//   byte 2     rank (byte % 5), then `rank` varint64 dimensions
//   varint64   entry size, unless kSizeFromData
//   varint64   entry offset in the shard, if kOffset
//   the rest   the data shard
inline constexpr DataType kEntryDtypes[] = {
    tensorflow::DT_STRING,  tensorflow::DT_FLOAT,  tensorflow::DT_INT64,   tensorflow::DT_BOOL,
    tensorflow::DT_HALF,    tensorflow::DT_DOUBLE, tensorflow::DT_UINT8,   tensorflow::DT_COMPLEX64,
    tensorflow::DT_VARIANT, tensorflow::DT_STRING, tensorflow::DT_INVALID,
};
enum EntryFlags : uint8_t {
  // Strings: store the right masked crc of the lengths after them.
  kFixLengthCrc = 1,
  // Store the entry crc that TensorFlow would compute for these bytes.
  kFixEntryCrc = 2,
  // The entry covers the shard from its offset to the end.
  kSizeFromData = 4,
  // Fixed-size types: set the first dimension (and the size) to fit the data.
  kFitFirstDim = 8,
  kOffset = 16,
  // Write the index with snappy-compressed blocks.
  kSnappyIndex = 32,
};

// Encodes an input for fuzz_bundle_entry (no size or offset fields: use
// kSizeFromData and leave kOffset clear).
std::string EncodeEntryInput(size_t dtype_index, uint8_t flags, const TensorShape& shape,
                             absl::string_view shard);

}  // namespace recship::fuzz

#endif  // RECSHIP_TESTS_FUZZ_FUZZ_UTIL_H_
