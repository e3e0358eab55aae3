#include "src/serving/batch_merge.h"

#include <cstring>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_proto.h"

namespace recship {
namespace {

using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;

constexpr absl::string_view kIndices = "_indices";
constexpr absl::string_view kValues = "_values";
constexpr absl::string_view kDenseShape = "_dense_shape";

// The feature a bag input belongs to ("clicked" for "clicked_values"),
// when the request holds all three of its inputs.
std::optional<std::string> BagOf(const PredictRequest& request, const std::string& key) {
  for (absl::string_view suffix : {kIndices, kValues, kDenseShape}) {
    if (!absl::EndsWith(key, suffix)) continue;
    std::string feature = key.substr(0, key.size() - suffix.size());
    const auto& in = request.inputs();
    if (in.contains(feature + std::string(kIndices)) &&
        in.contains(feature + std::string(kValues)) &&
        in.contains(feature + std::string(kDenseShape))) {
      return feature;
    }
  }
  return std::nullopt;
}

// Rows [first, first + count) of `t` (its first dimension).
Tensor Rows(const Tensor& t, int64_t first, int64_t count) {
  TensorShape shape = t.shape();
  const int64_t per_row = shape[0] == 0 ? 0 : t.num_elements() / shape[0];
  shape[0] = count;
  if (t.dtype() == tensorflow::DT_STRING) {
    auto begin = t.strings().begin() + first * per_row;
    return Tensor::FromStrings(shape, std::vector<std::string>(begin, begin + count * per_row));
  }
  Tensor part = *Tensor::Create(t.dtype(), shape);
  const size_t row_bytes = per_row * DataTypeSize(t.dtype());
  if (count > 0) std::memcpy(part.data(), t.data() + first * row_bytes, count * row_bytes);
  return part;
}

// `parts` stacked along their first dimension; they must agree on the rest.
absl::StatusOr<Tensor> Stack(const std::vector<Tensor>& parts, const std::string& key) {
  TensorShape shape = parts.front().shape();
  shape[0] = 0;
  for (const Tensor& p : parts) {
    if (p.dtype() != parts.front().dtype() ||
        !std::equal(p.shape().begin() + 1, p.shape().end(), shape.begin() + 1, shape.end())) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", key, "' differs in dtype or shape between batched requests"));
    }
    shape[0] += p.shape()[0];
  }
  if (parts.front().dtype() == tensorflow::DT_STRING) {
    std::vector<std::string> strings;
    for (const Tensor& p : parts)
      strings.insert(strings.end(), p.strings().begin(), p.strings().end());
    return Tensor::FromStrings(shape, std::move(strings));
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor stacked, Tensor::Create(parts.front().dtype(), shape));
  size_t offset = 0;
  for (const Tensor& p : parts) {
    if (p.byte_size() > 0) std::memcpy(stacked.data() + offset, p.data(), p.byte_size());
    offset += p.byte_size();
  }
  return stacked;
}

// The bag inputs of `feature`, merged: indices' rows offset by the rows
// before, values appended, dense_shape [sum of rows, widest width].
absl::Status MergeBag(const std::vector<const PredictRequest*>& requests,
                      const std::string& feature, PredictRequest& merged) {
  std::vector<Tensor> indices, values;
  int64_t rows = 0, width = 0;
  for (const PredictRequest* r : requests) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor index, TensorFromProto(r->inputs().at(feature + "_indices")));
    RECSHIP_ASSIGN_OR_RETURN(Tensor value, TensorFromProto(r->inputs().at(feature + "_values")));
    RECSHIP_ASSIGN_OR_RETURN(Tensor shape,
                             TensorFromProto(r->inputs().at(feature + "_dense_shape")));
    auto flat = index.flat<int64_t>();
    for (size_t j = 0; j < flat.size(); j += 2) flat[j] += rows;
    rows += shape.flat<int64_t>()[0];
    width = std::max(width, shape.flat<int64_t>()[1]);
    indices.push_back(std::move(index));
    values.push_back(std::move(value));
  }
  RECSHIP_ASSIGN_OR_RETURN(Tensor index, Stack(indices, feature + "_indices"));
  RECSHIP_ASSIGN_OR_RETURN(Tensor value, Stack(values, feature + "_values"));
  auto& in = *merged.mutable_inputs();
  in[feature + "_indices"] = TensorToProto(index);
  in[feature + "_values"] = TensorToProto(value);
  in[feature + "_dense_shape"] = TensorToProto(Tensor::FromVector<int64_t>({2}, {rows, width}));
  return absl::OkStatus();
}

}  // namespace

std::optional<int64_t> BatchRows(const PredictRequest& request) {
  std::optional<int64_t> rows;
  for (const auto& [key, proto] : request.inputs()) {
    std::optional<std::string> bag = BagOf(request, key);
    if (bag && !absl::EndsWith(key, kDenseShape)) continue;
    int64_t n;
    if (bag) {
      absl::StatusOr<Tensor> shape = TensorFromProto(proto);
      if (!shape.ok() || shape->dtype() != tensorflow::DT_INT64 || shape->num_elements() != 2 ||
          shape->flat<int64_t>()[0] < 0 || shape->flat<int64_t>()[1] < 0) {
        return std::nullopt;
      }
      n = shape->flat<int64_t>()[0];
    } else {
      if (proto.tensor_shape().dim_size() < 1) return std::nullopt;
      n = proto.tensor_shape().dim(0).size();
    }
    if (n < 0 || (rows && *rows != n)) return std::nullopt;
    rows = n;
  }
  return rows;
}

absl::StatusOr<PredictRequest> MergeRequests(const std::vector<const PredictRequest*>& requests) {
  const PredictRequest& first = *requests.front();
  PredictRequest merged;
  *merged.mutable_model_spec() = first.model_spec();
  *merged.mutable_output_filter() = first.output_filter();
  for (const auto& [key, proto] : first.inputs()) {
    if (merged.inputs().contains(key)) continue;
    if (std::optional<std::string> bag = BagOf(first, key)) {
      RECSHIP_RETURN_IF_ERROR(MergeBag(requests, *bag, merged));
      continue;
    }
    std::vector<Tensor> parts;
    for (const PredictRequest* r : requests) {
      RECSHIP_ASSIGN_OR_RETURN(Tensor part, TensorFromProto(r->inputs().at(key)));
      parts.push_back(std::move(part));
    }
    RECSHIP_ASSIGN_OR_RETURN(Tensor stacked, Stack(parts, key));
    (*merged.mutable_inputs())[key] = TensorToProto(stacked);
  }
  return merged;
}

absl::Status SplitResponse(const PredictResponse& merged, const std::vector<int64_t>& rows,
                           const std::vector<PredictResponse*>& responses) {
  int64_t total = 0;
  for (int64_t n : rows) total += n;
  for (const auto& [name, proto] : merged.outputs()) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor output, TensorFromProto(proto));
    if (output.shape().empty() || output.shape()[0] != total) {
      return absl::FailedPreconditionError(
          absl::StrCat("output '", name, "' has no first dimension of the ", total,
                       " rows batched, so requests to this model cannot be batched"));
    }
    int64_t first = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      (*responses[i]->mutable_outputs())[name] = TensorToProto(Rows(output, first, rows[i]));
      first += rows[i];
    }
  }
  return absl::OkStatus();
}

}  // namespace recship
