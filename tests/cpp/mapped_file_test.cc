// core/mapped_file.h: a mapping shows the file's bytes, names the file in
// errors, and (with the SIGBUS guard) survives the file being truncated
// under it.
#include "recship/core/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "test_util.h"

namespace recship {
namespace {

using testing::IsError;
using testing::RandomBytes;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

TEST(MappedFileTest, ShowsTheFileBytes) {
  TempDir dir;
  const std::string path = dir.Join("data");
  const std::string bytes = RandomBytes(100000, 7);
  WriteBytes(path, bytes);
  ASSERT_OK_AND_ASSIGN(auto file, MappedFile::Open(path));
  EXPECT_EQ(file->name(), path);
  ASSERT_EQ(file->size(), bytes.size());
  EXPECT_EQ(std::memcmp(file->data(), bytes.data(), bytes.size()), 0);
  file->AdviseRandom(5000, 20000);
  EXPECT_EQ(std::memcmp(file->data(), bytes.data(), bytes.size()), 0);
  EXPECT_FALSE(file->damaged());

  WriteBytes(dir.Join("empty"), "");
  ASSERT_OK_AND_ASSIGN(auto empty, MappedFile::Open(dir.Join("empty")));
  EXPECT_EQ(empty->size(), 0u);
}

TEST(MappedFileTest, MissingFileIsNamed) {
  TempDir dir;
  EXPECT_TRUE(IsError(MappedFile::Open(dir.Join("nope")).status(), absl::StatusCode::kNotFound,
                      {dir.Join("nope")}));
}

TEST(MappedFileTest, TruncatedUnderTheMappingReadsZerosInsteadOfDying) {
  InstallSigbusGuard();
  TempDir dir;
  const std::string path = dir.Join("data");
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  WriteBytes(path, std::string(4 * page, 'x'));
  ASSERT_OK_AND_ASSIGN(auto file, MappedFile::Open(path));
  // Touched first, so the truncation must also take away a page already in use.
  ASSERT_EQ(static_cast<char>(file->data()[3 * page]), 'x');
  std::filesystem::resize_file(path, page);
  EXPECT_EQ(static_cast<char>(file->data()[0]), 'x');
  volatile const std::byte* past_end = file->data() + 2 * page + 17;
  EXPECT_EQ(static_cast<char>(*past_end), '\0');
  EXPECT_TRUE(file->damaged());
  // Another mapping is not marked.
  WriteBytes(dir.Join("other"), "abc");
  ASSERT_OK_AND_ASSIGN(auto other, MappedFile::Open(dir.Join("other")));
  EXPECT_FALSE(other->damaged());
}

}  // namespace
}  // namespace recship
