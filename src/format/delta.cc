#include "recship/format/delta.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace recship {
namespace {

constexpr char kFormat[] = "recship-delta";
constexpr int kFormatVersion = 1;
constexpr char kFolderPrefix[] = "delta-";

}  // namespace

std::string DeltaManifest::ToJson() const {
  nlohmann::json tables_json = nlohmann::json::object();
  for (const auto& [name, t] : tables) {
    nlohmann::json& table = tables_json[name] = {{"rows", t.rows}, {"deleted", t.deleted}};
    if (t.updated_through) table["updated_through"] = *t.updated_through;
    if (t.rows_updated_from && t.rows_updated_to) {
      table["rows_updated"] = {*t.rows_updated_from, *t.rows_updated_to};
    }
  }
  nlohmann::json j = {{"format", kFormat},
                      {"format_version", kFormatVersion},
                      {"base_version", base_version},
                      {"sequence", sequence},
                      {"checkpoint", checkpoint},
                      {"global_step", global_step},
                      {"created_unix_seconds", created_unix_seconds},
                      {"tables", tables_json},
                      {"index_crc32c", index_crc32c}};
  return j.dump(2) + "\n";
}

absl::StatusOr<DeltaManifest> DeltaManifest::Parse(absl::string_view json,
                                                   const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("delta manifest ", path, ": ", what));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (j.value("format", "") != kFormat) return bad("\"format\" is not \"recship-delta\"");
  if (j.value("format_version", 0) != kFormatVersion) {
    return bad(
        absl::StrCat("unsupported \"format_version\" (this recship reads ", kFormatVersion, ")"));
  }
  DeltaManifest m;
  try {
    m.base_version = j.at("base_version").get<int64_t>();
    m.sequence = j.at("sequence").get<int64_t>();
    m.checkpoint = j.at("checkpoint").get<std::string>();
    m.global_step = j.at("global_step").get<int64_t>();
    m.created_unix_seconds = j.at("created_unix_seconds").get<int64_t>();
    m.index_crc32c = j.at("index_crc32c").get<uint32_t>();
    for (const auto& [name, t] : j.at("tables").items()) {
      Table& table = m.tables[name];
      table.rows = t.at("rows").get<int64_t>();
      table.deleted = t.at("deleted").get<int64_t>();
      if (t.contains("updated_through")) {
        table.updated_through = t.at("updated_through").get<int64_t>();
      }
      if (t.contains("rows_updated")) {
        table.rows_updated_from = t.at("rows_updated").at(0).get<int64_t>();
        table.rows_updated_to = t.at("rows_updated").at(1).get<int64_t>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  if (m.sequence < 1) return bad("\"sequence\" must be at least 1");
  return m;
}

std::string DeltaRoot(const std::string& model_base, int64_t version) {
  return (std::filesystem::path(model_base) / kDeltasDirectory / std::to_string(version)).string();
}

std::string DeltaFolderName(int64_t sequence) {
  return absl::StrFormat("%s%06d", kFolderPrefix, sequence);
}

std::vector<int64_t> ListDeltas(const std::string& root) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    std::string name = entry.path().filename().string();
    int64_t sequence;
    if (name.rfind(kFolderPrefix, 0) == 0 &&
        absl::SimpleAtoi(name.substr(sizeof(kFolderPrefix) - 1), &sequence) && sequence > 0 &&
        name == DeltaFolderName(sequence) && entry.is_directory(ec)) {
      out.push_back(sequence);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string DeltaKeysName(absl::string_view table) { return absl::StrCat(table, "/keys"); }
std::string DeltaValuesName(absl::string_view table) { return absl::StrCat(table, "/values"); }
std::string DeltaDeletedName(absl::string_view table) {
  return absl::StrCat(table, "/deleted_keys");
}

}  // namespace recship
