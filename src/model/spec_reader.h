// Reading a model spec's JSON field by field (private to model/): each read
// is type-checked, and an error names the field's full path
// ("architecture.tasks[1].name"). ObjectReader remembers which fields it
// read, so that a field nobody read (a typo, or one the architecture does
// not use) is an error too rather than silently ignored.
#ifndef RECSHIP_MODEL_SPEC_READER_H_
#define RECSHIP_MODEL_SPEC_READER_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "recship/core/status_macros.h"
#include "recship/model/layers.h"

namespace recship::internal {

using json = nlohmann::json;

inline absl::Status FieldError(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("model spec: ", field, ": ", problem));
}

// Reads the fields of one JSON object and remembers which it read, so that a
// field nobody reads (a typo, or one the architecture does not use) is an
// error naming it rather than silently ignored.
class ObjectReader {
 public:
  static absl::StatusOr<ObjectReader> Make(const json& value, std::string path) {
    if (!value.is_object()) return FieldError(path, "must be an object");
    return ObjectReader(value, std::move(path));
  }

  std::string Path(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }
  bool Has(const char* key) const { return value_->contains(key); }

  // A required field when `fallback` is empty.
  absl::StatusOr<std::string> String(const char* key,
                                     std::optional<std::string> fallback = {}) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v, Get(key, json::value_t::string, fallback.has_value()));
    if (v == nullptr) return *fallback;
    if (v->get<std::string>().empty()) return FieldError(Path(key), "may not be empty");
    return v->get<std::string>();
  }

  absl::StatusOr<int64_t> Positive(const char* key, std::optional<int64_t> fallback = {}) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v,
                             Get(key, json::value_t::number_integer, fallback.has_value()));
    if (v == nullptr) return *fallback;
    if (v->is_number_unsigned() ? v->get<uint64_t>() > (1ull << 31) : v->get<int64_t>() <= 0) {
      return FieldError(Path(key), "must be a positive integer (at most 2^31)");
    }
    return v->get<int64_t>();
  }

  absl::StatusOr<bool> Bool(const char* key, bool fallback) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v, Get(key, json::value_t::boolean, true));
    return v == nullptr ? fallback : v->get<bool>();
  }

  absl::StatusOr<Activation> ActivationField(const char* key, Activation fallback) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v, Get(key, json::value_t::string, true));
    if (v == nullptr) return fallback;
    auto parsed = ParseActivation(v->get<std::string>());
    if (!parsed.ok()) return FieldError(Path(key), parsed.status().message());
    return *parsed;
  }

  // A list of positive integers (layer widths); empty is allowed.
  absl::StatusOr<std::vector<int64_t>> Units(const char* key, bool required) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v, Get(key, json::value_t::array, !required));
    std::vector<int64_t> units;
    if (v == nullptr) return units;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& u = (*v)[i];
      if (!u.is_number_integer() || u.get<int64_t>() <= 0 || u.get<int64_t>() > (1 << 20)) {
        return FieldError(absl::StrCat(Path(key), "[", i, "]"),
                          "must be a positive integer (at most 2^20)");
      }
      units.push_back(u.get<int64_t>());
    }
    return units;
  }

  absl::StatusOr<std::vector<std::string>> Strings(const char* key, bool required) const {
    RECSHIP_ASSIGN_OR_RETURN(const json* v, Get(key, json::value_t::array, !required));
    std::vector<std::string> out;
    if (v == nullptr) return out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        return FieldError(absl::StrCat(Path(key), "[", i, "]"), "must be a string");
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

  // The array or object under a required key.
  absl::StatusOr<const json*> Child(const char* key, json::value_t type) const {
    return Get(key, type, false);
  }

  // Fails on the first field that was never read; `what` says whose field it
  // would have been ("a deepfm architecture").
  absl::Status CheckNoOtherFields(absl::string_view what) const {
    for (const auto& [key, unused] : value_->items()) {
      if (read_.count(key) == 0) {
        return FieldError(Path(key), absl::StrCat("is not a field of ", what, " (expected one of: ",
                                                  absl::StrJoin(read_, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  ObjectReader(const json& value, std::string path) : value_(&value), path_(std::move(path)) {}

  // The value under `key`, checked against `type`; nullptr when it is absent
  // and optional.
  absl::StatusOr<const json*> Get(const char* key, json::value_t type, bool optional) const {
    read_.insert(key);
    if (!value_->contains(key)) {
      if (optional) return nullptr;
      return FieldError(Path(key), "is required");
    }
    const json& v = value_->at(key);
    bool ok = v.type() == type || (type == json::value_t::number_integer && v.is_number_unsigned());
    if (!ok) return FieldError(Path(key), absl::StrCat("must be a ", json(type).type_name()));
    return &v;
  }

  const json* value_;
  std::string path_;
  mutable std::set<std::string> read_;
};

}  // namespace recship::internal

#endif  // RECSHIP_MODEL_SPEC_READER_H_
