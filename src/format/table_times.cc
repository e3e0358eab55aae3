#include "recship/format/table_times.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"

namespace recship {
namespace {

constexpr char kFormat[] = "recship-table-times";

}  // namespace

absl::StatusOr<TableTimes> ReadTableTimes(const std::string& version_dir) {
  const std::string path =
      (std::filesystem::path(version_dir) / kExtraAssetsDirectory / kTableTimesFilename).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return TableTimes{};
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 16 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("table times ", path, ": ", what));
  };
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat) {
    return bad("not a JSON object with \"format\": \"recship-table-times\"");
  }
  TableTimes times;
  try {
    for (const auto& [name, t] : j.at("tables").items()) {
      times[name] = t.at("updated_through").get<int64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return times;
}

absl::Status WriteTableTimes(const std::string& path, const TableTimes& times) {
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [name, through] : times) tables[name] = {{"updated_through", through}};
  nlohmann::json j = {{"format", kFormat}, {"tables", tables}};
  RECSHIP_ASSIGN_OR_RETURN(auto file, WritableFile::Create(path));
  RECSHIP_RETURN_IF_ERROR(file->Append(j.dump(2) + "\n"));
  return file->Close();
}

std::optional<int64_t> NewestTimestamp(const std::vector<Tensor>& timestamps) {
  std::optional<int64_t> newest;
  for (const Tensor& t : timestamps) {
    auto values = t.flat<int64_t>();
    if (values.empty()) continue;
    int64_t m = *std::max_element(values.begin(), values.end());
    newest = newest ? std::max(*newest, m) : m;
  }
  return newest;
}

}  // namespace recship
