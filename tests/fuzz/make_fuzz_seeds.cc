// Writes the seed corpora of the fuzz targets with recship's real writers, so
// no binary seed is committed: make_fuzz_seeds OUT_DIR creates
// OUT_DIR/{fuzz_bundle_index,fuzz_bundle_entry,fuzz_tfrecord}/ and fills them.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "recship/core/file.h"
#include "recship/format/tensor_bundle.h"
#include "recship/format/tfrecord.h"

namespace fuzz = recship::fuzz;

namespace {

void WriteSeed(const std::filesystem::path& dir, const std::string& name,
               absl::string_view contents) {
  fuzz::WriteScratchFile((dir / name).string(), contents);
}

void BundleIndexSeeds(const std::filesystem::path& dir, const std::string& scratch) {
  for (int num_shards : {1, 2}) {
    std::string prefix = scratch + "/sample" + std::to_string(num_shards);
    fuzz::WriteSampleBundle(prefix, num_shards);
    std::string index = fuzz::ReadWholeFile(recship::BundleIndexPath(prefix));
    std::string tag = std::to_string(num_shards) + "shard";
    WriteSeed(dir, "sample-" + tag + ".index", index);
    // The same entries with snappy blocks, as older TensorFlow wrote them,
    // and with tiny blocks (many data blocks, a larger block index).
    auto reader = recship::BundleReader::Open(prefix);
    fuzz::CheckOk(reader.status(), "reopen sample bundle");
    auto entries = fuzz::IndexEntries(**reader);
    std::string snappy = fuzz::BuildTable(entries, true);
    std::string small_blocks = fuzz::BuildTable(entries, false, 64);
    fuzz::Check(snappy.size() < index.size(), "the snappy index is not compressed");
    WriteSeed(dir, "sample-" + tag + "-snappy.index", snappy);
    WriteSeed(dir, "sample-" + tag + "-small-blocks.index", small_blocks);
    // Seeds that do not read back would waste the fuzzer's time.
    for (const std::string& table : {index, snappy, small_blocks}) {
      auto seed = recship::BundleReader::OpenWithIndex(
          prefix, *recship::NewStringFile("seed.index", table));
      fuzz::CheckOk(seed.status(), "open seed index");
      for (const recship::BundleEntry& entry : (*seed)->entries()) {
        fuzz::CheckOk((*seed)->Read(entry.name).status(), "read seed tensor");
      }
    }
  }
  // A bundle with no tensors.
  std::string prefix = scratch + "/empty";
  auto writer = recship::BundleWriter::Create(prefix);
  fuzz::CheckOk(writer.status(), "create empty bundle");
  fuzz::CheckOk((*writer)->Finish(), "finish empty bundle");
  WriteSeed(dir, "empty.index", fuzz::ReadWholeFile(recship::BundleIndexPath(prefix)));
}

// One string tensor written by BundleWriter, as a fuzz_bundle_entry input.
std::string StringEntry(const std::string& scratch, const recship::TensorShape& shape,
                        std::vector<std::string> values) {
  std::string prefix = scratch + "/strings";
  auto writer = recship::BundleWriter::Create(prefix);
  fuzz::CheckOk(writer.status(), "create string bundle");
  fuzz::CheckOk((*writer)->Add("t", recship::Tensor::FromStrings(shape, std::move(values))),
                "add strings");
  fuzz::CheckOk((*writer)->Finish(), "finish string bundle");
  std::string shard = fuzz::ReadWholeFile(recship::BundleDataPath(prefix, 0, 1));
  return fuzz::EncodeEntryInput(0, fuzz::kFixLengthCrc | fuzz::kFixEntryCrc | fuzz::kSizeFromData,
                                shape, shard);
}

void BundleEntrySeeds(const std::filesystem::path& dir, const std::string& scratch) {
  WriteSeed(dir, "strings-3", StringEntry(scratch, {3}, {"alpha", "", "gamma ray"}));
  WriteSeed(dir, "strings-scalar", StringEntry(scratch, {}, {"one"}));
  WriteSeed(dir, "strings-empty", StringEntry(scratch, {0}, {}));
  WriteSeed(dir, "strings-2x2",
            StringEntry(scratch, {2, 2}, {"a", "bb", std::string(300, 'c'), ""}));
  // Fixed-size types whose first dimension follows the data.
  const uint8_t fit = fuzz::kFixEntryCrc | fuzz::kSizeFromData | fuzz::kFitFirstDim;
  WriteSeed(dir, "float-rows", fuzz::EncodeEntryInput(1, fit, {0, 2}, std::string(24, '\x01')));
  WriteSeed(dir, "int64-scalar",
            fuzz::EncodeEntryInput(2, fuzz::kFixEntryCrc | fuzz::kSizeFromData, {},
                                   std::string(8, '\x07')));
  WriteSeed(dir, "bool-snappy",
            fuzz::EncodeEntryInput(3, fit | fuzz::kSnappyIndex, {0}, std::string(5, '\x01')));
}

void TFRecordSeeds(const std::filesystem::path& dir, const std::string& scratch) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"empty", {}},
      {"one", {"hello"}},
      {"several", {"", "a", std::string(1000, 'x'), "last record"}},
  };
  for (const auto& [name, records] : files) {
    std::string path = scratch + "/" + name + ".tfrecord";
    auto writer = recship::TFRecordWriter::Create(path);
    fuzz::CheckOk(writer.status(), "create tfrecord");
    for (const std::string& record : records) fuzz::CheckOk((*writer)->Write(record), "write");
    fuzz::CheckOk((*writer)->Close(), "close tfrecord");
    WriteSeed(dir, name + ".tfrecord", fuzz::ReadWholeFile(path));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  std::filesystem::path out(argv[1]);
  const std::string& scratch = fuzz::TempDir();
  struct Corpus {
    const char* name;
    void (*write)(const std::filesystem::path&, const std::string&);
  };
  for (const Corpus& corpus :
       {Corpus{"fuzz_bundle_index", BundleIndexSeeds},
        Corpus{"fuzz_bundle_entry", BundleEntrySeeds}, Corpus{"fuzz_tfrecord", TFRecordSeeds}}) {
    std::filesystem::path dir = out / corpus.name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    corpus.write(dir, scratch);
  }
  return 0;
}
