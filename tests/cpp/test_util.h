// Helpers shared by the C++ unit tests: status assertions, a temporary folder
// removed at the end of each test, and small whole-file helpers that use only
// the standard library (so they do not depend on the code under test).
// Definitions are in test_util.cc; the macros and templates are here.
#ifndef RECSHIP_TESTS_CPP_TEST_UTIL_H_
#define RECSHIP_TESTS_CPP_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>  // ::_exit, in EXPECT_TRUE_WITHIN_MEMORY.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>  // std::move, in ASSERT_OK_AND_ASSIGN.
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recship::testing {

#define RECSHIP_TEST_CONCAT_INNER_(a, b) a##b
#define RECSHIP_TEST_CONCAT_(a, b) RECSHIP_TEST_CONCAT_INNER_(a, b)

// Success when the status is OK; otherwise a failure that prints it.
::testing::AssertionResult StatusIsOk(const absl::Status& status);
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
::testing::AssertionResult IsError(const absl::Status& status, absl::StatusCode code,
                                   std::initializer_list<std::string> parts = {});

// Like IsError, for any non-OK code.
::testing::AssertionResult IsAnyError(const absl::Status& status,
                                      std::initializer_list<std::string> parts = {});

// A fresh folder under the system's temporary folder, removed with all its
// contents when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // <path>/<name>
  std::string Join(const std::string& name) const;

 private:
  std::string path_;
};

std::string ReadBytes(const std::string& path);

void WriteBytes(const std::string& path, const std::string& bytes);

bool Exists(const std::string& path);

// Names of the entries of a folder, sorted.
std::vector<std::string> ListDir(const std::string& dir);

// A LEB128 varint, encoded here independently of the code under test.
std::string Varint(uint64_t v);

// Writes `records` as a TFRecord file at `path`.
absl::Status WriteRecords(const std::string& path, const std::vector<std::string>& records);

std::string RandomBytes(size_t n, uint32_t seed);

// Caps this process's address space at its current size plus `headroom`
// bytes, so that any larger allocation fails. Meant for death-test children.
void LimitAddressSpace(uint64_t headroom);

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

// <RECSHIP_TESTDATA_DIR>/<name>, a file under tests/cpp/testdata.
std::string TestDataPath(const std::string& name);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_TEST_UTIL_H_
