#include "recship/serving/predict.h"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "recship/core/status_macros.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor_proto.h"

namespace recship {
namespace {

using Inputs = std::map<std::string, Tensor>;

// A SparseTensor fed as <f>_indices, <f>_values and <f>_dense_shape, as
// recship's exports take multi-valued features.
struct Bag {
  std::string indices_key;
  const Tensor* indices;
  std::string values_key;
  const Tensor* values;
  std::string dense_shape_key;
  const Tensor* dense_shape;
};

std::vector<Bag> FindBags(const Inputs& inputs) {
  constexpr absl::string_view kDenseShape = "_dense_shape";
  std::vector<Bag> bags;
  for (const auto& [key, tensor] : inputs) {
    if (!absl::EndsWith(key, kDenseShape)) continue;
    std::string feature = key.substr(0, key.size() - kDenseShape.size());
    auto indices = inputs.find(feature + "_indices");
    auto values = inputs.find(feature + "_values");
    if (indices == inputs.end() || values == inputs.end()) continue;
    bags.push_back(
        {indices->first, &indices->second, values->first, &values->second, key, &tensor});
  }
  return bags;
}

// dense_shape is two non-negative int64s, with at most 2^31-1 rows (the
// graph pools rows by int32 segment ids); every index lies inside it.
absl::Status CheckBag(const Bag& bag) {
  const Tensor& shape = *bag.dense_shape;
  if (shape.dtype() != tensorflow::DT_INT64 || shape.shape() != TensorShape{2}) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", bag.dense_shape_key, "' must be int64 of shape [2], not ",
                     DataTypeName(shape.dtype()), " ", ShapeToString(shape.shape())));
  }
  int64_t rows = shape.flat<int64_t>()[0], columns = shape.flat<int64_t>()[1];
  if (rows < 0 || columns < 0 || rows > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", bag.dense_shape_key, "' is [", rows, ", ", columns,
                     "]: both must be non-negative, and rows at most 2147483647"));
  }
  const Tensor& indices = *bag.indices;
  if (indices.dtype() != tensorflow::DT_INT64 || indices.shape().size() != 2 ||
      indices.shape()[1] != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", bag.indices_key, "' must be int64 of shape [n, 2], not ",
                     DataTypeName(indices.dtype()), " ", ShapeToString(indices.shape())));
  }
  auto index = indices.flat<int64_t>();
  for (int64_t j = 0; j < indices.shape()[0]; ++j) {
    int64_t r = index[2 * j], c = index[2 * j + 1];
    if (r < 0 || r >= rows || c < 0 || c >= columns) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", bag.indices_key, "' entry ", j, " is [", r, ", ", c,
                       "], outside dense_shape [", rows, ", ", columns, "]"));
    }
  }
  return absl::OkStatus();
}

// The rows of each input: its first dimension, except that a bag's three
// inputs count dense_shape[0] rows (recorded under the dense_shape key).
std::map<std::string, int64_t> RowsOf(const Inputs& inputs, const std::vector<Bag>& bags) {
  std::map<std::string, int64_t> rows;
  for (const Bag& bag : bags) {
    rows[bag.dense_shape_key] = bag.dense_shape->flat<int64_t>()[0];
    rows[bag.indices_key] = -1;
    rows[bag.values_key] = -1;
  }
  for (const auto& [key, tensor] : inputs) {
    if (!rows.contains(key) && !tensor.shape().empty()) rows[key] = tensor.shape()[0];
  }
  std::erase_if(rows, [](const auto& entry) { return entry.second < 0; });
  return rows;
}

// A bag's rows must be the batch the other inputs agree on (or, without
// other inputs, the other bags'): a dense_shape[0] that says otherwise
// would make the runtime pool rows for a batch nobody sent.
absl::Status CheckBagRowsMatchBatch(const std::map<std::string, int64_t>& rows,
                                    const std::vector<Bag>& bags) {
  std::optional<int64_t> batch;
  std::string batch_key;
  bool agree = true;
  for (const auto& [key, n] : rows) {
    bool is_bag = false;
    for (const Bag& bag : bags) is_bag |= bag.dense_shape_key == key;
    if (is_bag) continue;
    if (batch && *batch != n) agree = false;
    if (!batch) batch_key = key;
    batch = n;
  }
  if (!agree) return absl::OkStatus();  // No one batch: the signature decides.
  for (const Bag& bag : bags) {
    int64_t n = rows.at(bag.dense_shape_key);
    if (!batch) {
      batch = n;
      batch_key = bag.dense_shape_key;
    } else if (n != *batch) {
      return absl::InvalidArgumentError(absl::StrCat("input '", bag.dense_shape_key, "' says ", n,
                                                     " rows, but input '", batch_key,
                                                     "' has a batch of ", *batch));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBatchSize(const std::map<std::string, int64_t>& rows, int64_t limit) {
  for (const auto& [key, n] : rows) {
    if (n > limit) {
      return absl::InvalidArgumentError(absl::StrCat("input '", key, "' has batch size ", n,
                                                     ", over the server's limit of ", limit));
    }
  }
  return absl::OkStatus();
}

// Everything the request's shapes and values must satisfy before any kernel
// runs.
absl::Status CheckRequest(const Inputs& inputs, const PredictLimits& limits) {
  std::vector<Bag> bags = FindBags(inputs);
  for (const Bag& bag : bags) RECSHIP_RETURN_IF_ERROR(CheckBag(bag));
  std::map<std::string, int64_t> rows = RowsOf(inputs, bags);
  RECSHIP_RETURN_IF_ERROR(CheckBagRowsMatchBatch(rows, bags));
  if (limits.max_batch_size > 0)
    RECSHIP_RETURN_IF_ERROR(CheckBatchSize(rows, limits.max_batch_size));
  return absl::OkStatus();
}

std::shared_ptr<MemoryBudget> RequestBudget(const PredictLimits& limits) {
  return MemoryBudget::Create(absl::StrCat("the request (--max_request_memory_mib ",
                                           limits.max_request_memory_bytes >> 20, ")"),
                              limits.max_request_memory_bytes, limits.memory);
}

}  // namespace

absl::Status RunPredict(const SavedModelBundle& model,
                        const tensorflow::serving::PredictRequest& request,
                        const PredictLimits& limits, tensorflow::serving::PredictResponse* response,
                        absl::Time deadline) {
  std::string signature = request.model_spec().signature_name();
  if (signature.empty()) signature = kDefaultServingSignatureKey;
  std::shared_ptr<MemoryBudget> memory = RequestBudget(limits);
  // Decoded inputs are charged until the request is done.
  uint64_t input_bytes = 0;
  absl::Cleanup release_inputs = [&] { memory->Release(input_bytes); };
  Inputs inputs;
  for (const auto& [key, proto] : request.inputs()) {
    // An input over max_input_bytes is a bad request; one that fits that
    // but not what is left of the memory budgets exhausts them.
    bool budget_bound = memory->available() < limits.max_input_bytes;
    absl::StatusOr<Tensor> tensor =
        TensorFromProto(proto, budget_bound ? memory->available() : limits.max_input_bytes);
    if (!tensor.ok()) {
      bool exhausted =
          budget_bound && tensor.status().code() == absl::StatusCode::kResourceExhausted;
      return absl::Status(
          exhausted ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kInvalidArgument,
          absl::StrCat("input '", key, "': ", tensor.status().message(),
                       exhausted ? absl::StrCat(", what ", memory->what(), " has left") : ""));
    }
    uint64_t bytes = tensor->byte_size();
    for (const std::string& s : tensor->strings()) bytes += s.size();
    absl::Status reserved = memory->Reserve(bytes);
    if (!reserved.ok())
      return absl::ResourceExhaustedError(absl::StrCat("input '", key, "': ", reserved.message()));
    input_bytes += bytes;
    inputs.emplace(key, *std::move(tensor));
  }
  RECSHIP_RETURN_IF_ERROR(CheckRequest(inputs, limits));
  std::vector<std::string> filter(request.output_filter().begin(), request.output_filter().end());
  RunOptions run_options;
  run_options.memory = memory.get();
  run_options.deadline = deadline;
  RECSHIP_ASSIGN_OR_RETURN(auto outputs,
                           model.RunSignature(signature, inputs, filter, run_options));
  for (const auto& [key, tensor] : outputs)
    (*response->mutable_outputs())[key] = TensorToProto(tensor);
  return absl::OkStatus();
}

}  // namespace recship
