#include "recship/model/estimator.h"

#include "absl/strings/str_cat.h"

namespace recship {

absl::StatusOr<Feature> Features::Get(const std::string& name) const {
  auto it = features_.find(name);
  if (it == features_.end()) {
    return absl::NotFoundError(absl::StrCat("feature '", name, "' is not among the inputs"));
  }
  return it->second;
}

}  // namespace recship
