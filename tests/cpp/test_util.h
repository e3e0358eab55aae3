// Helpers shared by the C++ unit tests: status assertions, a temporary folder
// removed at the end of each test, and small whole-file helpers that use only
// the standard library (so they do not depend on the code under test).
#ifndef RECSHIP_TESTS_CPP_TEST_UTIL_H_
#define RECSHIP_TESTS_CPP_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recship/format/tfrecord.h"

namespace recship::testing {

#define RECSHIP_TEST_CONCAT_INNER_(a, b) a##b
#define RECSHIP_TEST_CONCAT_(a, b) RECSHIP_TEST_CONCAT_INNER_(a, b)

// Success when the status is OK; otherwise a failure that prints it.
inline ::testing::AssertionResult StatusIsOk(const absl::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status;
}
template <typename T>
::testing::AssertionResult StatusIsOk(const absl::StatusOr<T>& status_or) {
  return StatusIsOk(status_or.status());
}

// Both accept a Status or StatusOr, and further messages with <<.
#define ASSERT_OK(expr) ASSERT_TRUE(::recship::testing::StatusIsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::recship::testing::StatusIsOk(expr))

// ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr());
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  RECSHIP_ASSERT_OK_AND_ASSIGN_IMPL_(RECSHIP_TEST_CONCAT_(recship_so_, __LINE__), lhs, expr)
#define RECSHIP_ASSERT_OK_AND_ASSIGN_IMPL_(so, lhs, expr) \
  auto so = (expr);                                       \
  ASSERT_TRUE(so.ok()) << #expr << ": " << so.status();   \
  lhs = std::move(so).value()

// Succeeds when `status` has `code` and its message contains every one of
// `parts` (file names, tensor names, what went wrong).
inline ::testing::AssertionResult IsError(const absl::Status& status, absl::StatusCode code,
                                          std::initializer_list<std::string> parts = {}) {
  if (status.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got " << status;
  }
  for (const std::string& part : parts) {
    if (status.message().find(part) == absl::string_view::npos) {
      return ::testing::AssertionFailure()
             << "message does not mention '" << part << "': " << status;
    }
  }
  return ::testing::AssertionSuccess();
}

// Like IsError, for any non-OK code.
inline ::testing::AssertionResult IsAnyError(const absl::Status& status,
                                             std::initializer_list<std::string> parts = {}) {
  if (status.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  return IsError(status, status.code(), parts);
}

// A fresh folder under the system's temporary folder, removed with all its
// contents when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "recship-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // <path>/<name>
  std::string Join(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

inline bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// Names of the entries of a folder, sorted.
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A LEB128 varint, encoded here independently of the code under test.
inline std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// Writes `records` as a TFRecord file at `path`.
inline absl::Status WriteRecords(const std::string& path, const std::vector<std::string>& records) {
  auto writer = TFRecordWriter::Create(path);
  if (!writer.ok()) return writer.status();
  for (const std::string& r : records) {
    absl::Status s = (*writer)->Write(r);
    if (!s.ok()) return s;
  }
  return (*writer)->Close();
}

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

// Caps this process's address space at its current size plus `headroom`
// bytes, so that any larger allocation fails. Meant for death-test children.
inline void LimitAddressSpace(uint64_t headroom) {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  const uint64_t current = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  struct rlimit limit;
  limit.rlim_cur = current + headroom;
  limit.rlim_max = current + headroom;
  ::setrlimit(RLIMIT_AS, &limit);
}

// Runs `condition` in a child process that may grow by at most `headroom`
// bytes; passes when it evaluates to true there. A bigger allocation throws
// std::bad_alloc in the child, which then dies, and the test fails.
#define EXPECT_TRUE_WITHIN_MEMORY(condition, headroom)   \
  EXPECT_EXIT(                                           \
      {                                                  \
        ::recship::testing::LimitAddressSpace(headroom); \
        ::_exit((condition) ? 0 : 1);                    \
      },                                                 \
      ::testing::ExitedWithCode(0), "")

inline std::string TestDataPath(const std::string& name) {
  return (std::filesystem::path(RECSHIP_TESTDATA_DIR) / name).string();
}

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_TEST_UTIL_H_
