// core/file.h: WritableFile buffering, RandomAccessFile bounds, string files,
// ReadFileToString's size limit, WriteFileAtomically, CopyFile,
// LinkOrReflinkFile (hard link, and what happens across filesystems), the fsync
// helpers and errno-to-status mapping. Errors must name the path.
#include "recship/core/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "test_util.h"

namespace recship {
namespace {

using testing::Exists;
using testing::IsAnyError;
using testing::IsError;
using testing::ListDir;
using testing::RandomBytes;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

TEST(ErrnoToStatusTest, MapsCodesAndKeepsContext) {
  EXPECT_TRUE(
      IsError(ErrnoToStatus(ENOENT, "opening /x"), absl::StatusCode::kNotFound, {"opening /x: "}));
  EXPECT_TRUE(IsError(ErrnoToStatus(EEXIST, "c"), absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(IsError(ErrnoToStatus(EACCES, "c"), absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(IsError(ErrnoToStatus(ENOSPC, "c"), absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(IsError(ErrnoToStatus(EXDEV, "c"), absl::StatusCode::kUnimplemented));
  EXPECT_TRUE(IsError(ErrnoToStatus(EIO, "c"), absl::StatusCode::kInternal));
}

TEST(WritableFileTest, WritesWhatWasAppended) {
  TempDir dir;
  const std::string path = dir.Join("out");
  ASSERT_OK_AND_ASSIGN(auto file, WritableFile::Create(path));
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->size(), 0u);
  ASSERT_OK(file->Append("hello "));
  ASSERT_OK(file->Append(""));
  ASSERT_OK(file->Append(absl::string_view("w\0rld", 5)));
  EXPECT_EQ(file->size(), 11u);
  ASSERT_OK(file->Close());
  EXPECT_EQ(ReadBytes(path), std::string("hello w\0rld", 11));
  // Close twice is harmless; Append after Close is refused and names the file.
  EXPECT_OK(file->Close());
  EXPECT_TRUE(IsError(file->Append("x"), absl::StatusCode::kFailedPrecondition, {path}));
}

TEST(WritableFileTest, MixedSmallAndLargeAppendsAcrossTheBuffer) {
  // The write buffer is 1 MiB: appends below, at and above it, in an order
  // that makes the buffer fill, spill and be bypassed.
  TempDir dir;
  const std::string path = dir.Join("big");
  const std::string data = RandomBytes((3 << 20) + 12345, 7);
  ASSERT_OK_AND_ASSIGN(auto file, WritableFile::Create(path));
  size_t pos = 0;
  const size_t sizes[] = {1, 1000, (1 << 20) - 1, 3, (1 << 20), 17, (1 << 20) + 5, 0, 4096};
  for (size_t i = 0; pos < data.size(); ++i) {
    size_t n = std::min(sizes[i % std::size(sizes)], data.size() - pos);
    ASSERT_OK(file->Append(absl::string_view(data).substr(pos, n)));
    pos += n;
  }
  EXPECT_EQ(file->size(), data.size());
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  EXPECT_TRUE(ReadBytes(path) == data);
}

TEST(WritableFileTest, FlushMakesBytesVisibleBeforeClose) {
  TempDir dir;
  const std::string path = dir.Join("f");
  ASSERT_OK_AND_ASSIGN(auto file, WritableFile::Create(path));
  ASSERT_OK(file->Append("abc"));
  ASSERT_OK(file->Flush());
  EXPECT_EQ(ReadBytes(path), "abc");
  ASSERT_OK(file->Close());
}

TEST(WritableFileTest, CreateTruncatesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.Join("f");
  WriteBytes(path, "old contents");
  ASSERT_OK_AND_ASSIGN(auto file, WritableFile::Create(path));
  ASSERT_OK(file->Append("new"));
  ASSERT_OK(file->Close());
  EXPECT_EQ(ReadBytes(path), "new");
}

TEST(WritableFileTest, DestructorKeepsAppendedBytes) {
  TempDir dir;
  const std::string path = dir.Join("f");
  {
    ASSERT_OK_AND_ASSIGN(auto file, WritableFile::Create(path));
    ASSERT_OK(file->Append("kept"));
    ASSERT_OK(file->Flush());
  }
  EXPECT_EQ(ReadBytes(path), "kept");
}

TEST(WritableFileTest, CreateInMissingFolderNamesThePath) {
  TempDir dir;
  const std::string path = dir.Join("no/such/folder/file");
  EXPECT_TRUE(IsError(WritableFile::Create(path).status(), absl::StatusCode::kNotFound, {path}));
}

TEST(RandomAccessFileTest, ReadsRangesAndRefusesPastTheEnd) {
  TempDir dir;
  const std::string path = dir.Join("r");
  const std::string data = RandomBytes(10000, 8);
  WriteBytes(path, data);
  ASSERT_OK_AND_ASSIGN(auto file, OpenRandomAccessFile(path));
  EXPECT_EQ(file->size(), data.size());
  EXPECT_EQ(file->name(), path);

  std::string out(100, '\0');
  ASSERT_OK(file->Read(1234, 100, out.data()));
  EXPECT_EQ(out, data.substr(1234, 100));
  ASSERT_OK(file->Read(data.size() - 100, 100, out.data()));
  EXPECT_EQ(out, data.substr(data.size() - 100));
  EXPECT_OK(file->Read(data.size(), 0, out.data()));  // Empty read at the end.

  EXPECT_TRUE(
      IsError(file->Read(data.size() - 99, 100, out.data()), absl::StatusCode::kDataLoss, {path}));
  EXPECT_TRUE(
      IsError(file->Read(data.size() + 1, 0, out.data()), absl::StatusCode::kDataLoss, {path}));
  // Offsets and sizes near the top of uint64 must not wrap around.
  EXPECT_TRUE(IsError(file->Read(std::numeric_limits<uint64_t>::max(), 1, out.data()),
                      absl::StatusCode::kDataLoss, {path}));
  EXPECT_TRUE(IsError(file->Read(1, std::numeric_limits<size_t>::max(), out.data()),
                      absl::StatusCode::kDataLoss, {path}));
}

TEST(RandomAccessFileTest, OpenErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir.Join("missing");
  EXPECT_TRUE(
      IsError(OpenRandomAccessFile(missing).status(), absl::StatusCode::kNotFound, {missing}));
  EXPECT_TRUE(IsError(OpenRandomAccessFile(dir.path()).status(), absl::StatusCode::kInvalidArgument,
                      {dir.path()}));
}

TEST(StringFileTest, ReadsLikeAFile) {
  auto file = NewStringFile("mem-name", "0123456789");
  EXPECT_EQ(file->size(), 10u);
  EXPECT_EQ(file->name(), "mem-name");
  char out[4];
  ASSERT_OK(file->Read(3, 4, out));
  EXPECT_EQ(std::string(out, 4), "3456");
  EXPECT_TRUE(IsError(file->Read(7, 4, out), absl::StatusCode::kDataLoss, {"mem-name"}));
  EXPECT_TRUE(IsError(file->Read(std::numeric_limits<uint64_t>::max(), 2, out),
                      absl::StatusCode::kDataLoss, {"mem-name"}));
}

TEST(ReadFileToStringTest, ReadsWholeFile) {
  TempDir dir;
  const std::string path = dir.Join("f");
  const std::string data = RandomBytes(5000, 9);
  WriteBytes(path, data);
  ASSERT_OK_AND_ASSIGN(std::string got, ReadFileToString(path));
  EXPECT_TRUE(got == data);

  WriteBytes(dir.Join("empty"), "");
  ASSERT_OK_AND_ASSIGN(std::string empty, ReadFileToString(dir.Join("empty")));
  EXPECT_EQ(empty, "");
}

TEST(ReadFileToStringTest, EnforcesTheLimit) {
  TempDir dir;
  const std::string path = dir.Join("f");
  WriteBytes(path, std::string(100, 'x'));
  ASSERT_OK_AND_ASSIGN(std::string at_limit, ReadFileToString(path, 100));
  EXPECT_EQ(at_limit.size(), 100u);
  absl::Status over = ReadFileToString(path, 99).status();
  EXPECT_TRUE(IsAnyError(over, {path, "100", "99"}));
  EXPECT_TRUE(IsAnyError(ReadFileToString(path, 0).status(), {path}));
  EXPECT_TRUE(IsError(ReadFileToString(dir.Join("missing")).status(), absl::StatusCode::kNotFound,
                      {dir.Join("missing")}));
}

TEST(WriteFileAtomicallyTest, CreatesAndReplacesWithoutLeavingTemporaries) {
  TempDir dir;
  const std::string path = dir.Join("state");
  ASSERT_OK(WriteFileAtomically(path, "first"));
  EXPECT_EQ(ReadBytes(path), "first");
  ASSERT_OK(WriteFileAtomically(path, std::string("sec\0nd", 6)));
  EXPECT_EQ(ReadBytes(path), std::string("sec\0nd", 6));
  ASSERT_OK(WriteFileAtomically(path, ""));
  EXPECT_EQ(ReadBytes(path), "");
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"state"});
}

TEST(WriteFileAtomicallyTest, FailureLeavesNothing) {
  TempDir dir;
  const std::string path = dir.Join("missing-folder/state");
  EXPECT_TRUE(IsAnyError(WriteFileAtomically(path, "x"), {dir.Join("missing-folder")}));
  EXPECT_TRUE(ListDir(dir.path()).empty());

  // A folder in the way of the rename: the error names it, the folder stays,
  // and no temporary file is left next to it.
  const std::string blocked = dir.Join("blocked");
  ASSERT_TRUE(std::filesystem::create_directory(blocked));
  WriteBytes(dir.Join("blocked/inner"), "keep");
  EXPECT_TRUE(IsAnyError(WriteFileAtomically(blocked, "x"), {blocked}));
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"blocked"});
  EXPECT_EQ(ReadBytes(dir.Join("blocked/inner")), "keep");
}

TEST(WriteFileAtomicallyTest, RelativePathInCurrentFolder) {
  TempDir dir;
  std::filesystem::path old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  absl::Status status = WriteFileAtomically("relative-file", "r");
  std::filesystem::current_path(old_cwd);
  ASSERT_OK(status);
  EXPECT_EQ(ReadBytes(dir.Join("relative-file")), "r");
}

TEST(CopyFileTest, CopiesAndRefusesToOverwrite) {
  TempDir dir;
  const std::string from = dir.Join("from");
  const std::string to = dir.Join("to");
  const std::string data = RandomBytes(200000, 10);
  WriteBytes(from, data);
  ASSERT_OK(CopyFile(from, to));
  EXPECT_TRUE(ReadBytes(to) == data);

  WriteBytes(to, "existing");
  EXPECT_TRUE(IsError(CopyFile(from, to), absl::StatusCode::kAlreadyExists, {from, to}));
  EXPECT_EQ(ReadBytes(to), "existing");

  EXPECT_TRUE(IsError(CopyFile(dir.Join("missing"), dir.Join("to2")), absl::StatusCode::kNotFound,
                      {dir.Join("missing")}));
  EXPECT_FALSE(Exists(dir.Join("to2")));
}

TEST(LinkOrReflinkFileTest, HardLinksOnOneFilesystem) {
  TempDir dir;
  const std::string from = dir.Join("from");
  const std::string to = dir.Join("to");
  WriteBytes(from, "shared bytes");
  ASSERT_OK_AND_ASSIGN(std::optional<CloneMethod> method, LinkOrReflinkFile(from, to));
  EXPECT_EQ(method, CloneMethod::kHardLink);
  EXPECT_STREQ(CloneMethodName(*method), "hard link");
  struct stat a, b;
  ASSERT_EQ(::stat(from.c_str(), &a), 0);
  ASSERT_EQ(::stat(to.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  // The link outlives the original.
  ASSERT_TRUE(std::filesystem::remove(from));
  EXPECT_EQ(ReadBytes(to), "shared bytes");
}

TEST(LinkOrReflinkFileTest, ErrorsNameThePaths) {
  TempDir dir;
  WriteBytes(dir.Join("from"), "x");
  WriteBytes(dir.Join("to"), "existing");
  EXPECT_TRUE(IsError(LinkOrReflinkFile(dir.Join("from"), dir.Join("to")).status(),
                      absl::StatusCode::kAlreadyExists, {dir.Join("to")}));
  EXPECT_EQ(ReadBytes(dir.Join("to")), "existing");
  EXPECT_TRUE(IsError(LinkOrReflinkFile(dir.Join("missing"), dir.Join("to2")).status(),
                      absl::StatusCode::kNotFound, {dir.Join("missing")}));
  EXPECT_FALSE(Exists(dir.Join("to2")));
  EXPECT_STREQ(CloneMethodName(CloneMethod::kReflink), "reflink");
  EXPECT_STREQ(CloneMethodName(CloneMethod::kCopy), "copy");
}

TEST(LinkOrReflinkFileTest, CannotShareAcrossFilesystemsWithoutReflinks) {
  // /dev/shm is a tmpfs on Debian: another filesystem than the temp folder,
  // and one without reflinks.
  TempDir dir;
  struct stat tmp_stat, shm_stat;
  ASSERT_EQ(::stat(dir.path().c_str(), &tmp_stat), 0);
  ASSERT_EQ(::stat("/dev/shm", &shm_stat), 0) << "this test needs /dev/shm";
  ASSERT_NE(tmp_stat.st_dev, shm_stat.st_dev) << "/dev/shm must be another filesystem";
  const std::string from = dir.Join("from");
  WriteBytes(from, RandomBytes(300000, 11));
  const std::string to = "/dev/shm/recship-link-test-" + std::to_string(::getpid());
  // tmpfs has no reflinks: sharing is impossible, and nothing is left behind.
  absl::StatusOr<std::optional<CloneMethod>> shared = LinkOrReflinkFile(from, to);
  ASSERT_OK(shared);
  EXPECT_FALSE(shared->has_value());
  EXPECT_FALSE(Exists(to));
}

TEST(SyncTest, SyncsTreesAndNamesMissingPaths) {
  TempDir dir;
  ASSERT_TRUE(std::filesystem::create_directories(dir.Join("a/b/c")));
  WriteBytes(dir.Join("a/f1"), "1");
  WriteBytes(dir.Join("a/b/c/f2"), "2");
  std::filesystem::create_symlink(dir.Join("a/f1"), dir.Join("a/link"));
  EXPECT_OK(SyncTree(dir.path()));
  EXPECT_OK(SyncDirectory(dir.path()));
  EXPECT_TRUE(IsError(SyncDirectory(dir.Join("missing")), absl::StatusCode::kNotFound,
                      {dir.Join("missing")}));
  EXPECT_TRUE(IsAnyError(SyncTree(dir.Join("missing")), {dir.Join("missing")}));
}

}  // namespace
}  // namespace recship
