// For tests that check recship's .index files against LevelDB's own reader.
// Definitions are in leveldb_table_util.cc.
#ifndef RECSHIP_TESTS_CPP_LEVELDB_TABLE_UTIL_H_
#define RECSHIP_TESTS_CPP_LEVELDB_TABLE_UTIL_H_

#include <string>
#include <utility>
#include <vector>

namespace recship::testing {

// Every key and value of the table at `path`, as LevelDB's own reader sees
// them (block checksums verified). Failures are reported as test failures.
std::vector<std::pair<std::string, std::string>> ReadTableWithLevelDb(const std::string& path);

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_LEVELDB_TABLE_UTIL_H_
