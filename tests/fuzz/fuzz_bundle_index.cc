// libFuzzer target: the input is a tensor bundle's .index file. The bundle is
// opened with BundleReader::OpenWithIndex next to a fixed sample bundle's data
// shards (1 and 2 shards; other shard counts find no data), and every entry
// that opens is read whole, verified, streamed and read by rows. Each input
// is tried as is and again with its block checksums recomputed. Errors are
// expected; crashes, leaks, disagreeing answers, huge allocations and hangs
// are bugs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "fuzz_util.h"
#include "recship/core/file.h"
#include "recship/format/tensor_bundle.h"

namespace {

const std::string& Prefix() {
  static const std::string* prefix = [] {
    auto* p = new std::string(recship::fuzz::TempDir() + "/bundle");
    // Both sample bundles share the prefix: their data files are named apart
    // (data-00000-of-00001, data-00000-of-00002, ...).
    recship::fuzz::WriteSampleBundle(*p, 1);
    recship::fuzz::WriteSampleBundle(*p, 2);
    return p;
  }();
  return *prefix;
}

void OpenAndExercise(std::string index_bytes, uint64_t chunk) {
  auto index = recship::NewStringFile("fuzz.index", std::move(index_bytes));
  auto reader = recship::BundleReader::OpenWithIndex(Prefix(), *index);
  if (recship::fuzz::Verbose()) {
    std::fprintf(stderr, "open: %s\n", reader.status().ToString().c_str());
  }
  if (reader.ok()) recship::fuzz::ExerciseBundle(**reader, chunk);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Prefix();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  // Vary the stream's piece size with the input, so odd splits are tried.
  uint64_t chunk = size == 0 ? 1 : 1 + data[size - 1] % 13;
  OpenAndExercise(bytes, chunk);
  // A mutation inside a block fails its crc32c, which the fuzzer cannot
  // solve; with the checksums repaired the same bytes reach the block, entry
  // and proto parsers.
  if (recship::fuzz::RepairTableChecksums(&bytes)) OpenAndExercise(std::move(bytes), chunk);
  return 0;
}
