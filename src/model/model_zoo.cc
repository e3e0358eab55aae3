#include "recship/model/model_zoo.h"

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/graph/ops.h"

namespace recship {
namespace {

// Columns along axis 1; a single column is used as it is.
Output Concat(const Scope& s, const std::vector<Output>& columns) {
  if (columns.size() == 1) return columns[0];
  return ops::ConcatV2(s, columns, ops::ScalarConst(s, int32_t{1}, "axis"));
}

// dense_0, dense_1, ... with `activation`, in scope s.
Output Tower(const Scope& s, Output x, const std::vector<int64_t>& units, Activation activation) {
  for (size_t i = 0; i < units.size(); ++i) {
    x = Dense(s, x, units[i], activation, absl::StrCat("dense_", i));
  }
  return x;
}

// Sum over axis 1 of a float tensor, with the static shape Reduce leaves unknown.
Output SumAxis1(const Scope& s, const Output& x, PartialShape shape, bool keep_dims = false) {
  Output sum = ops::Sum(s, x, ops::ScalarConst(s, int32_t{1}, "axis"), keep_dims);
  sum.shape = std::move(shape);
  return sum;
}

// The model's input: one column per feature (id features become their
// pooled embeddings, dense features pass through) and all of them
// concatenated in spec order.
struct InputLayer {
  std::map<std::string, Output> columns;
  Output all;
};

absl::StatusOr<InputLayer> BuildInputLayer(const ModelSpec& spec, const Features& features) {
  Scope input = features.scope().NewSubScope("input_layer");
  InputLayer layer;
  std::vector<Output> all;
  for (const FeatureSpec& f : spec.features) {
    RECSHIP_ASSIGN_OR_RETURN(Feature feature, features.Get(f.name));
    Output column = f.kind == FeatureSpec::Kind::kDense
                        ? feature.dense
                        : HashEmbeddingBag(input, *spec.FindTable(f.table), feature, f.combiner);
    layer.columns[f.name] = column;
    all.push_back(column);
  }
  layer.all = Concat(input, all);
  return layer;
}

std::vector<Output> Select(const std::map<std::string, Output>& columns,
                           const std::vector<std::string>& names) {
  std::vector<Output> out;
  for (const std::string& name : names) out.push_back(columns.at(name));
  return out;
}

// Factorization machine's second-order term, 0.5 * sum_k((sum_f v_fk)^2 -
// sum_f v_fk^2), as float [batch, 1]. All fields share the dim k.
Output FmInteraction(const Scope& s, const std::vector<Output>& fields) {
  int64_t k = fields[0].shape.dim(1);
  Output stacked = ops::Pack(s, fields, /*axis=*/1);  // [batch, fields, k]
  Output square_of_sum = ops::Unary(s, "Square", SumAxis1(s, stacked, PartialShape::Of({-1, k})));
  Output sum_of_squares = SumAxis1(s, ops::Unary(s, "Square", stacked), PartialShape::Of({-1, k}));
  Output pairs = SumAxis1(s, ops::Sub(s, square_of_sum, sum_of_squares), PartialShape::Of({-1, 1}),
                          /*keep_dims=*/true);
  return ops::Mul(s, pairs, ops::ScalarConst(s, 0.5f, "half"));
}

// DCN-v2 full-rank cross layers: x_{l+1} = x0 * (x_l W_l + b_l) + x_l.
Output CrossNetwork(const Scope& s, const Output& x0, int64_t layers) {
  Output x = x0;
  for (int64_t l = 0; l < layers; ++l) {
    Output xw = Dense(s, x, x0.shape.dim(1), Activation::kNone, absl::StrCat("layer_", l));
    x = ops::AddV2(s, ops::Mul(s, x0, xw), x);
  }
  return x;
}

// MMoE: per task, a softmax gate over the experts mixes their outputs.
Output MixExperts(const Scope& task, const Output& x, const Output& experts, int64_t num_experts,
                  int64_t width) {
  Output gate = Dense(task, x, num_experts, Activation::kSoftmax, "gate");  // [batch, E]
  Output weights = ops::ExpandDims(task, gate, ops::ScalarConst(task, int32_t{-1}, "gate_axis"));
  return SumAxis1(task, ops::Mul(task, experts, weights), PartialShape::Of({-1, width}));
}

// logits = [x] · kernel + bias in <scope>/logits, then the output activation.
Output Head(const Scope& s, const Output& x, int64_t units, Activation activation) {
  return Activate(s, Dense(s, x, units, Activation::kNone, "logits"), activation);
}

// Single-task architectures: one logit sum, then the output activation.
Output SingleTaskPrediction(const ModelSpec& spec, const Scope& root, const InputLayer& input) {
  const ArchitectureSpec& arch = spec.architecture;
  const Output& x = input.all;
  Scope mlp = root.NewSubScope("mlp").WithDevice(arch.device);
  Output logits;
  switch (arch.type) {
    case Architecture::kDnn:
      logits = Head(mlp, Tower(mlp, x, arch.hidden_units, arch.activation), arch.output_units,
                    Activation::kNone);
      break;
    case Architecture::kWideDeep: {
      Scope wide = root.NewSubScope("wide").WithDevice(arch.device);
      Output wide_logits = Head(wide, Concat(wide, Select(input.columns, arch.wide_features)),
                                arch.output_units, Activation::kNone);
      Output deep_logits = Head(mlp, Tower(mlp, x, arch.hidden_units, arch.activation),
                                arch.output_units, Activation::kNone);
      logits = ops::AddV2(mlp, wide_logits, deep_logits);
      break;
    }
    case Architecture::kDeepFm: {
      Scope fm = root.NewSubScope("fm").WithDevice(arch.device);
      Output linear = Dense(fm, x, arch.output_units, Activation::kNone, "linear");
      Output pairs = FmInteraction(fm, Select(input.columns, arch.fm_features));
      Output deep_logits = Head(mlp, Tower(mlp, x, arch.hidden_units, arch.activation),
                                arch.output_units, Activation::kNone);
      logits = ops::AddV2(mlp, ops::AddV2(fm, linear, pairs), deep_logits);
      break;
    }
    case Architecture::kDcnV2: {
      Scope cross = root.NewSubScope("cross").WithDevice(arch.device);
      Output crossed = CrossNetwork(cross, x, arch.cross_layers);
      Output top = arch.parallel
                       ? Concat(mlp, {crossed, Tower(mlp, x, arch.hidden_units, arch.activation)})
                       : Tower(mlp, crossed, arch.hidden_units, arch.activation);
      logits = Head(mlp, top, arch.output_units, Activation::kNone);
      break;
    }
    case Architecture::kSharedBottom:
    case Architecture::kMmoe:
      break;
  }
  Scope head = root.NewSubScope("head");
  return ops::Identity(head, Activate(head, logits, arch.output_activation), "prediction");
}

// Multi-task architectures: one prediction per task, named after it.
std::map<std::string, Output> MultiTaskPredictions(const ModelSpec& spec, const Scope& root,
                                                   const InputLayer& input) {
  const ArchitectureSpec& arch = spec.architecture;
  const Output& x = input.all;
  Output shared;
  Output experts;
  if (arch.type == Architecture::kSharedBottom) {
    Scope bottom = root.NewSubScope("bottom").WithDevice(arch.device);
    shared = Tower(bottom, x, arch.hidden_units, arch.activation);
  } else {
    std::vector<Output> outputs;
    for (int64_t e = 0; e < arch.num_experts; ++e) {
      Scope expert = root.NewSubScope(absl::StrCat("expert_", e)).WithDevice(arch.device);
      outputs.push_back(Tower(expert, x, arch.expert_units, arch.activation));
    }
    experts = ops::Pack(root.NewSubScope("experts").WithDevice(arch.device), outputs, 1);
  }
  std::map<std::string, Output> predictions;
  for (const TaskSpec& task : arch.tasks) {
    Scope tower = root.NewSubScope(task.name).WithDevice(arch.device);
    Output in = shared;
    if (arch.type == Architecture::kMmoe) {
      in = MixExperts(tower, x, experts, arch.num_experts, arch.expert_units.back());
    }
    Output out = Head(tower, Tower(tower, in, task.hidden_units, arch.activation),
                      task.output_units, task.output_activation);
    predictions[task.name] = ops::Identity(tower, out, "prediction");
  }
  return predictions;
}

}  // namespace

ServingInputReceiverFn MakeServingInputReceiverFn(const ModelSpec& spec) {
  return [spec](const Scope& root) -> absl::StatusOr<ServingInputReceiver> {
    ServingInputReceiver receiver{Features(root), {}};
    auto placeholder = [&](const std::string& name, DataType dtype, PartialShape shape) {
      Output p = ops::Placeholder(root, dtype, shape, name);
      receiver.receiver_tensors[name] = p;
      return p;
    };
    for (const FeatureSpec& f : spec.features) {
      Feature feature;
      if (f.kind == FeatureSpec::Kind::kDense) {
        feature.dense = placeholder(f.name, tensorflow::DT_FLOAT, PartialShape::Of({-1, f.dim}));
      } else if (f.kind == FeatureSpec::Kind::kId) {
        feature.dense = placeholder(f.name, tensorflow::DT_INT64, PartialShape::Of({-1}));
      } else {
        feature.indices =
            placeholder(f.name + "_indices", tensorflow::DT_INT64, PartialShape::Of({-1, 2}));
        feature.values =
            placeholder(f.name + "_values", tensorflow::DT_INT64, PartialShape::Of({-1}));
        feature.dense_shape =
            placeholder(f.name + "_dense_shape", tensorflow::DT_INT64, PartialShape::Of({2}));
      }
      receiver.features.Set(f.name, feature);
    }
    RECSHIP_RETURN_IF_ERROR(root.graph()->status());
    return receiver;
  };
}

ModelFn MakeModelFn(const ModelSpec& spec) {
  return [spec](const Features& features, Mode, const RunConfig&) -> absl::StatusOr<EstimatorSpec> {
    const Scope& root = features.scope();
    RECSHIP_ASSIGN_OR_RETURN(InputLayer input, BuildInputLayer(spec, features));
    EstimatorSpec estimator;
    if (spec.architecture.multi_task()) {
      estimator.predictions = MultiTaskPredictions(spec, root, input);
    } else {
      estimator.predictions["prediction"] = SingleTaskPrediction(spec, root, input);
    }
    RECSHIP_RETURN_IF_ERROR(root.graph()->status());
    return estimator;
  };
}

absl::StatusOr<std::vector<std::pair<std::string, TensorShape>>> DenseVariables(
    const ModelSpec& spec) {
  Graph g;
  Scope root(&g);
  RECSHIP_ASSIGN_OR_RETURN(ServingInputReceiver receiver, MakeServingInputReceiverFn(spec)(root));
  RECSHIP_RETURN_IF_ERROR(
      MakeModelFn(spec)(receiver.features, Mode::kPredict, RunConfig{}).status());
  std::vector<std::pair<std::string, TensorShape>> variables;
  for (const tensorflow::NodeDef& node : g.def().node()) {
    if (node.op() != "VarHandleOp") continue;
    TensorShape shape;
    for (const auto& dim : node.attr().at("shape").shape().dim()) shape.push_back(dim.size());
    variables.emplace_back(node.attr().at("shared_name").s(), std::move(shape));
  }
  return variables;
}

}  // namespace recship
