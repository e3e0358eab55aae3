// libFuzzer target: the input is a TFRecord file, read with TFRecordReader
// until the end or the first error. Checks that the reader only moves
// forward, stays inside the file, accounts for every byte it consumed, and
// reports a clean end (OutOfRange) exactly at the end of the file. Each input
// is tried as is and again with its checksums recomputed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "fuzz_util.h"
#include "recship/core/file.h"
#include "recship/format/tfrecord.h"

namespace {

void ReadAll(std::string file) {
  const uint64_t size = file.size();
  recship::TFRecordReader reader(recship::NewStringFile("fuzz.tfrecord", std::move(file)));
  std::string record;
  uint64_t consumed = 0;
  for (;;) {
    uint64_t before = reader.offset();
    absl::Status status = reader.Read(&record);
    if (!status.ok()) {
      recship::fuzz::Check(reader.offset() == before, "a failed Read moves the offset");
      recship::fuzz::Check(absl::IsOutOfRange(status) == (before == size),
                           "OutOfRange is not the same as the end of the file");
      recship::fuzz::Check(absl::IsOutOfRange(status) || absl::IsDataLoss(status),
                           "unexpected error code");
      break;
    }
    consumed += 16 + record.size();
    recship::fuzz::Check(reader.offset() == consumed, "offset does not match the records read");
    recship::fuzz::Check(reader.offset() <= size, "offset past the end of the file");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  ReadAll(file);
  // Again with every frame's checksums recomputed, so mutated lengths and
  // data get past the crc checks.
  if (recship::fuzz::RepairTFRecordChecksums(&file)) ReadAll(std::move(file));
  return 0;
}
