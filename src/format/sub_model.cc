#include "recship/format/sub_model.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace recship {
namespace {

constexpr absl::string_view kEntryName = "entry";
constexpr absl::string_view kStandaloneName = "standalone";
constexpr absl::string_view kPsPrefix = "ps_";
constexpr absl::string_view kDensePrefix = "dense_";

}  // namespace

std::optional<int64_t> ParseSubModelIndex(absl::string_view digits) {
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value)) return std::nullopt;
  return value;
}

std::optional<SubModel> SubModel::Parse(absl::string_view name) {
  if (name == kEntryName) return Entry();
  if (name == kStandaloneName) return Standalone();
  if (absl::ConsumePrefix(&name, kPsPrefix)) {
    if (std::optional<int64_t> i = ParseSubModelIndex(name)) return Ps(*i);
  } else if (absl::ConsumePrefix(&name, kDensePrefix)) {
    if (std::optional<int64_t> i = ParseSubModelIndex(name)) return Dense(*i);
  }
  return std::nullopt;
}

std::string SubModel::name() const {
  switch (kind_) {
    case Kind::kStandalone:
      return std::string(kStandaloneName);
    case Kind::kEntry:
      return std::string(kEntryName);
    case Kind::kPs:
      return absl::StrCat(kPsPrefix, index_);
    case Kind::kDense:
      return absl::StrCat(kDensePrefix, index_);
  }
  return "";
}

std::string SubModel::ServedName(absl::string_view model) const {
  if (is_entry() || is_standalone()) return std::string(model);
  return absl::StrCat(model, ":", name());
}

std::optional<ServedSubModel> ParseServedName(absl::string_view served_name) {
  size_t colon = served_name.rfind(':');
  if (colon == absl::string_view::npos) {
    return ServedSubModel{std::string(served_name), SubModel::Entry()};
  }
  std::optional<SubModel> sub = SubModel::Parse(served_name.substr(colon + 1));
  if (!sub || sub->is_entry() || sub->is_standalone()) return std::nullopt;
  return ServedSubModel{std::string(served_name.substr(0, colon)), *sub};
}

}  // namespace recship
