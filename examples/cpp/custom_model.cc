// A recommendation model written against the installed recship library:
//
//   1. a model_fn, tf.estimator style, with a custom "gated residual" layer
//      built from graph ops and two sparse features on hash embedding tables;
//   2. a training checkpoint written with CheckpointWriter, as a
//      trainer would (dense variables named after the layers, each table in
//      two parameter-server shards);
//   3. a standalone export to a SavedModel (what TensorFlow Serving loads);
//   4. the SavedModel loaded by recship's runtime and its serving_default
//      signature run on a batch of three requests;
//   5. the same predictions computed by hand in plain C++ from the values
//      written in step 2. The program fails when they disagree.
//
// Usage: custom_model [WORK_DIR]. Without WORK_DIR it works in a fresh
// temporary folder and removes it at the end.
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "recship/core/status_macros.h"
#include "recship/export/standalone_exporter.h"
#include "recship/graph/ops.h"
#include "recship/model/checkpoint.h"
#include "recship/model/estimator.h"
#include "recship/model/layers.h"
#include "recship/runtime/saved_model_bundle.h"

namespace {

using namespace recship;  // NOLINT: an example reads better unqualified

// ---------------------------------------------------------------------------
// The model.

// Two embedding tables, each trained on two parameter servers (an id x lives
// on shard floor_mod(x, 2)).
const HashTableSpec kUserTable{"user", /*dim=*/4, /*num_shards=*/2};
const HashTableSpec kItemTable{"item", /*dim=*/4, /*num_shards=*/2};
constexpr int64_t kDenseDim = 3;  // The "context" feature: three floats.
// The model's input: user vector, mean of the item vectors, context.
constexpr int64_t kWidth = 4 + 4 + kDenseDim;

// The custom layer, written from graph ops:
//
//   y = x + sigmoid(x · gate_kernel + gate_bias) * (x · value_kernel)
//
// Its variables are <scope>/<name>/gate_kernel [d, d], .../gate_bias [d] and
// .../value_kernel [d, d]; Variable restores each from the checkpoint
// tensor of that name. The Output carries the static shape [-1, d], which
// the next layer needs to size its kernel.
Output GatedResidual(const Scope& s, const Output& x, const std::string& name) {
  Scope layer = s.NewSubScope(name);
  const int64_t d = x.shape.dim(1);
  Output gate_kernel = Variable(layer, "gate_kernel", tensorflow::DT_FLOAT, {d, d});
  Output gate_bias = Variable(layer, "gate_bias", tensorflow::DT_FLOAT, {d});
  Output value_kernel = Variable(layer, "value_kernel", tensorflow::DT_FLOAT, {d, d});
  Output gate = ops::Unary(layer, "Sigmoid",
                           ops::BiasAdd(layer, ops::MatMul(layer, x, gate_kernel), gate_bias));
  Output value = ops::MatMul(layer, x, value_kernel);
  Output y = ops::AddV2(layer, x, ops::Mul(layer, gate, value));
  y.shape = x.shape;
  return y;
}

// The dense variables of the model, by checkpoint name: what a trainer
// would save, and what the export restores.
std::map<std::string, TensorShape> DenseVariables() {
  return {{"gated/gate_kernel", {kWidth, kWidth}},
          {"gated/gate_bias", {kWidth}},
          {"gated/value_kernel", {kWidth, kWidth}},
          {"logits/kernel", {kWidth, 1}},
          {"logits/bias", {1}}};
}

// The model_fn: the same signature as tf.estimator's. It reads the features
// made by the serving input receiver below.
absl::StatusOr<EstimatorSpec> ModelFn(const Features& features, Mode, const RunConfig&) {
  const Scope& root = features.scope();
  RECSHIP_ASSIGN_OR_RETURN(Feature user, features.Get("user_id"));
  RECSHIP_ASSIGN_OR_RETURN(Feature items, features.Get("item_ids"));
  RECSHIP_ASSIGN_OR_RETURN(Feature context, features.Get("context"));

  // Sparse lookups: one vector per user id, the mean vector of each bag of
  // item ids (an empty bag gives zeros, so does an id the table lacks).
  Output user_vec = HashEmbeddingBag(root, kUserTable, user, Combiner::kSum);
  Output item_vec = HashEmbeddingBag(root, kItemTable, items, Combiner::kMean);
  std::vector<Output> columns = {user_vec, item_vec, context.dense};
  Output x = ops::ConcatV2(root, columns, ops::ScalarConst(root, int32_t{1}, "axis"));

  Output h = GatedResidual(root, x, "gated");
  Output probability = Dense(root, h, 1, Activation::kSigmoid, "logits");

  // Graph errors are sticky: check once, at the end.
  RECSHIP_RETURN_IF_ERROR(root.graph()->status());
  EstimatorSpec spec;
  spec.predictions["probability"] = ops::Identity(root, probability, "probability");
  return spec;
}

// The serving input receiver: the signature's inputs (placeholders) and the
// features they make. item_ids is a SparseTensor, fed as its three parts.
absl::StatusOr<ServingInputReceiver> ServingInputReceiverFn(const Scope& root) {
  ServingInputReceiver receiver{Features(root), {}};
  Feature user;
  user.dense = ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1}), "user_id");
  receiver.receiver_tensors["user_id"] = user.dense;
  receiver.features.Set("user_id", user);

  Feature items;
  items.indices =
      ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1, 2}), "item_ids_indices");
  items.values =
      ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({-1}), "item_ids_values");
  items.dense_shape =
      ops::Placeholder(root, tensorflow::DT_INT64, PartialShape::Of({2}), "item_ids_dense_shape");
  receiver.receiver_tensors["item_ids_indices"] = items.indices;
  receiver.receiver_tensors["item_ids_values"] = items.values;
  receiver.receiver_tensors["item_ids_dense_shape"] = items.dense_shape;
  receiver.features.Set("item_ids", items);

  Feature context;
  context.dense =
      ops::Placeholder(root, tensorflow::DT_FLOAT, PartialShape::Of({-1, kDenseDim}), "context");
  receiver.receiver_tensors["context"] = context.dense;
  receiver.features.Set("context", context);

  RECSHIP_RETURN_IF_ERROR(root.graph()->status());
  return receiver;
}

// ---------------------------------------------------------------------------
// The training checkpoint. Everything written is also kept here, for the
// computation by hand.

struct Weights {
  std::map<std::string, std::vector<float>> dense;
  std::map<int64_t, std::vector<float>> user, item;  // id -> embedding row
};

std::vector<float> RandomValues(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

// Writes each table's rows to their shard (keys int64 [n], values float
// [n, dim]) and keeps them in `rows`.
absl::Status WriteTable(CheckpointWriter& writer, const HashTableSpec& table,
                        const std::vector<int64_t>& ids, std::mt19937& rng,
                        std::map<int64_t, std::vector<float>>& rows) {
  for (int shard = 0; shard < table.num_shards; ++shard) {
    std::vector<int64_t> keys;
    std::vector<float> values;
    for (int64_t id : ids) {
      int64_t home = ((id % table.num_shards) + table.num_shards) % table.num_shards;
      if (home != shard) continue;
      rows[id] = RandomValues(rng, static_cast<size_t>(table.dim));
      keys.push_back(id);
      values.insert(values.end(), rows[id].begin(), rows[id].end());
    }
    const int64_t n = static_cast<int64_t>(keys.size());
    CheckpointWriter::TableShard data;
    data.keys = Tensor::FromVector<int64_t>({n}, keys);
    data.values = Tensor::FromVector<float>({n, table.dim}, values);
    // Optimizer state, as a trainer saves it; the export leaves it behind.
    data.slots["adagrad"] =
        Tensor::FromVector<float>({n, table.dim}, std::vector<float>(values.size(), 0.1f));
    RECSHIP_RETURN_IF_ERROR(writer.AddTableShard(table.name, shard, data));
  }
  return absl::OkStatus();
}

absl::StatusOr<Weights> WriteCheckpoint(const std::string& model_dir) {
  Weights weights;
  std::mt19937 rng(2024);
  RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(model_dir, /*step=*/100));
  for (const auto& [name, shape] : DenseVariables()) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    weights.dense[name] = RandomValues(rng, static_cast<size_t>(n));
    RECSHIP_RETURN_IF_ERROR(
        writer->AddDense(name, Tensor::FromVector<float>(shape, weights.dense[name])));
  }
  RECSHIP_RETURN_IF_ERROR(WriteTable(*writer, kUserTable, {-3, 1, 2, 5, 7}, rng, weights.user));
  RECSHIP_RETURN_IF_ERROR(WriteTable(*writer, kItemTable, {1, 2, 3, 4, 5, 6}, rng, weights.item));
  // Finish() adds global_step and the `checkpoint` state file.
  RECSHIP_ASSIGN_OR_RETURN(std::string prefix, writer->Finish());
  std::cout << "checkpoint:  " << prefix << "\n";
  return weights;
}

// ---------------------------------------------------------------------------
// A batch of three requests, and the model computed by hand.

struct Request {
  int64_t user_id;
  std::vector<int64_t> item_ids;
  std::vector<float> context;  // kDenseDim floats
};

const std::vector<Request> kBatch = {
    {7, {1, 2, 3}, {0.5f, -1.0f, 2.0f}},
    {-3, {}, {0.0f, 0.25f, -0.5f}},       // no items: an empty bag
    {999, {2, 42}, {1.0f, 1.0f, 1.0f}}};  // an unseen user, an unseen item

// The signature's inputs for kBatch, by input key.
std::map<std::string, Tensor> BatchInputs() {
  const int64_t batch = static_cast<int64_t>(kBatch.size());
  std::vector<int64_t> users, indices, values;
  std::vector<float> context;
  int64_t max_bag = 0;
  for (int64_t row = 0; row < batch; ++row) {
    const Request& r = kBatch[static_cast<size_t>(row)];
    users.push_back(r.user_id);
    for (size_t i = 0; i < r.item_ids.size(); ++i) {
      indices.insert(indices.end(), {row, static_cast<int64_t>(i)});
      values.push_back(r.item_ids[i]);
    }
    max_bag = std::max(max_bag, static_cast<int64_t>(r.item_ids.size()));
    context.insert(context.end(), r.context.begin(), r.context.end());
  }
  const int64_t n = static_cast<int64_t>(values.size());
  return {{"user_id", Tensor::FromVector<int64_t>({batch}, users)},
          {"item_ids_indices", Tensor::FromVector<int64_t>({n, 2}, indices)},
          {"item_ids_values", Tensor::FromVector<int64_t>({n}, values)},
          {"item_ids_dense_shape", Tensor::FromVector<int64_t>({2}, {batch, max_bag})},
          {"context", Tensor::FromVector<float>({batch, kDenseDim}, context)}};
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// x · kernel for a row x and a row-major kernel [x.size(), units].
std::vector<float> MatVec(const std::vector<float>& x, const std::vector<float>& kernel,
                          size_t units) {
  std::vector<float> y(units, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = 0; j < units; ++j) y[j] += x[i] * kernel[i * units + j];
  }
  return y;
}

float PredictByHand(const Weights& w, const Request& r) {
  auto row = [](const std::map<int64_t, std::vector<float>>& table, int64_t id) {
    auto it = table.find(id);
    return it == table.end() ? std::vector<float>(4, 0.0f) : it->second;
  };
  // The input: user vector, mean of the bag's item vectors, context.
  std::vector<float> x = row(w.user, r.user_id);
  std::vector<float> items(4, 0.0f);
  for (int64_t id : r.item_ids) {
    std::vector<float> v = row(w.item, id);
    for (size_t j = 0; j < 4; ++j) items[j] += v[j] / static_cast<float>(r.item_ids.size());
  }
  x.insert(x.end(), items.begin(), items.end());
  x.insert(x.end(), r.context.begin(), r.context.end());

  // The gated residual layer, then the logits layer.
  const size_t d = x.size();
  std::vector<float> gate = MatVec(x, w.dense.at("gated/gate_kernel"), d);
  std::vector<float> value = MatVec(x, w.dense.at("gated/value_kernel"), d);
  std::vector<float> h(d);
  for (size_t j = 0; j < d; ++j) {
    h[j] = x[j] + Sigmoid(gate[j] + w.dense.at("gated/gate_bias")[j]) * value[j];
  }
  return Sigmoid(MatVec(h, w.dense.at("logits/kernel"), 1)[0] + w.dense.at("logits/bias")[0]);
}

// ---------------------------------------------------------------------------

absl::StatusOr<bool> Run(const std::string& work_dir) {
  const std::string model_dir = work_dir + "/model_dir";
  const std::string export_base = work_dir + "/export";

  RECSHIP_ASSIGN_OR_RETURN(Weights weights, WriteCheckpoint(model_dir));

  recship::StandaloneExporter exporter(ModelFn, model_dir, export_base);
  RECSHIP_ASSIGN_OR_RETURN(std::string export_dir,
                           exporter.ExportSavedModel(ServingInputReceiverFn));
  std::cout << "saved model: " << export_dir << "\n";

  RECSHIP_ASSIGN_OR_RETURN(auto bundle, recship::SavedModelBundle::Load(export_dir));
  RECSHIP_ASSIGN_OR_RETURN(auto outputs, bundle->RunSignature("serving_default", BatchInputs()));
  const Tensor& probability = outputs.at("probability");  // float [batch, 1]
  if (probability.num_elements() != static_cast<int64_t>(kBatch.size())) {
    return absl::InternalError("serving_default returned the wrong number of predictions");
  }

  std::cout << "\n  user  items     served    by hand\n";
  float max_diff = 0.0f;
  bool agree = true;
  for (size_t row = 0; row < kBatch.size(); ++row) {
    const Request& r = kBatch[row];
    const float served = probability.flat<float>()[row];
    const float by_hand = PredictByHand(weights, r);
    const float diff = std::abs(served - by_hand);
    max_diff = std::max(max_diff, diff);
    agree = agree && diff <= 1e-5f;  // false for a NaN too
    std::string items;
    for (int64_t id : r.item_ids) items += (items.empty() ? "" : ",") + std::to_string(id);
    std::printf("  %4lld  %-8s  %.6f  %.6f\n", static_cast<long long>(r.user_id),
                items.empty() ? "-" : items.c_str(), served, by_hand);
  }
  std::printf("\nlargest difference: %.2g\n", max_diff);
  return agree;
}

}  // namespace

int main(int argc, char** argv) {
  std::string work_dir;
  bool temporary = argc < 2;
  if (temporary) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "recship-example-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    work_dir = pattern;
  } else {
    work_dir = argv[1];
  }

  absl::StatusOr<bool> agree = Run(work_dir);
  if (temporary) std::filesystem::remove_all(work_dir);
  if (!agree.ok()) {
    std::cerr << "error: " << agree.status() << "\n";
    return 1;
  }
  std::cout << (*agree ? "OK: the served predictions equal the hand computation\n"
                       : "FAIL: the served predictions differ from the hand computation\n");
  return *agree ? 0 : 1;
}
