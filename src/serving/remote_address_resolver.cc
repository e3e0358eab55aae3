#include "recship/serving/remote_address_resolver.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace recship {
namespace {

// The digits ending `key` ("ps_12" -> "12"); empty when it ends in none.
absl::string_view TrailingNumber(absl::string_view key) {
  size_t start = key.size();
  while (start > 0 && absl::ascii_isdigit(static_cast<unsigned char>(key[start - 1]))) --start;
  return key.substr(start);
}

}  // namespace

absl::StatusOr<RemoteAddressResolver> RemoteAddressResolver::Create(
    absl::string_view addresses, absl::string_view address_template) {
  RemoteAddressResolver resolver;
  for (absl::string_view entry : absl::StrSplit(addresses, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t eq = entry.find('=');
    absl::string_view key = eq == absl::string_view::npos ? "" : entry.substr(0, eq);
    absl::string_view address = eq == absl::string_view::npos ? "" : entry.substr(eq + 1);
    if (key.empty() || address.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--remote_addresses: '", entry, "' is not key=HOST:PORT (e.g. ps_0=10.0.0.1:8500)"));
    }
    if (!resolver.addresses_.emplace(std::string(key), std::string(address)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--remote_addresses: '", key, "' is given twice"));
    }
  }
  for (size_t open = address_template.find('{'); open != absl::string_view::npos;
       open = address_template.find('{', open + 1)) {
    size_t close = address_template.find('}', open);
    absl::string_view name = close == absl::string_view::npos
                                 ? address_template.substr(open)
                                 : address_template.substr(open + 1, close - open - 1);
    if (name != "i" && name != "name") {
      return absl::InvalidArgumentError(
          absl::StrCat("--remote_address_template '", address_template,
                       "': only {i} (the number ending the sub-model key) and {name} (the key) "
                       "may be used"));
    }
  }
  resolver.template_ = std::string(address_template);
  return resolver;
}

std::string RemoteAddressResolver::AddressKey(absl::string_view model_name) {
  size_t colon = model_name.rfind(':');
  return std::string(colon == absl::string_view::npos ? model_name : model_name.substr(colon + 1));
}

absl::StatusOr<std::string> RemoteAddressResolver::Resolve(absl::string_view model_name,
                                                           absl::string_view target_address) const {
  if (!target_address.empty()) return std::string(target_address);
  std::string key = AddressKey(model_name);
  for (const std::string& name : {std::string(model_name), key}) {
    auto it = addresses_.find(name);
    if (it != addresses_.end()) return it->second;
  }
  if (!template_.empty()) {
    absl::string_view number = TrailingNumber(key);
    if (number.empty() && absl::StrContains(template_, "{i}")) {
      return absl::FailedPreconditionError(
          absl::StrCat("no address for remote model '", model_name, "': its key '", key,
                       "' ends in no number for the {i} of --remote_address_template '", template_,
                       "'; give --remote_addresses=", key, "=HOST:PORT"));
    }
    return absl::StrReplaceAll(template_, {{"{i}", number}, {"{name}", key}});
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no address for remote model '", model_name, "' (key '", key,
                   "'): give recship serve --remote_addresses=", key,
                   "=HOST:PORT,... or --remote_address_template (e.g. 'ps-{i}.svc:8500')"));
}

}  // namespace recship
