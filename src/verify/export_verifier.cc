#include "recship/verify/export_verifier.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/core/status_macros.h"
#include "recship/export/serving_graph.h"
#include "recship/export/warmup_writer.h"
#include "recship/format/saved_model.h"
#include "recship/format/table_times.h"
#include "recship/format/tensor_proto.h"
#include "recship/model/checkpoint.h"
#include "recship/runtime/hash_table.h"
#include "recship/runtime/remote_call.h"
#include "recship/runtime/saved_model_bundle.h"
#include "recship/serving/predict.h"
#include "recship/serving/warmup_replay.h"

namespace recship {
namespace {

using tensorflow::serving::PredictRequest;
using tensorflow::serving::PredictResponse;

constexpr int64_t kKnownIdsPerShard = 256;
constexpr double kSmallestScale = 1e-3;

// A call answered in this process, already done.
class DonePredict : public PendingPredict {
 public:
  DonePredict(absl::Status status, PredictResponse response, std::string address)
      : status_(std::move(status)), response_(std::move(response)), address_(std::move(address)) {}
  absl::Status Wait() override { return status_; }
  const PredictResponse& response() const override { return response_; }
  const std::string& address() const override { return address_; }

 private:
  absl::Status status_;
  PredictResponse response_;
  std::string address_;
};

// Sends an entry's calls to the sub-models loaded beside it, by the
// sub-model its target names ("<model>:ps_<i>" -> ps_<i>).
class LocalRemoteCaller : public RemoteCaller {
 public:
  void Add(const SubModel& sub, const SavedModelBundle* bundle) { models_[sub.name()] = bundle; }

  absl::StatusOr<std::unique_ptr<PendingPredict>> StartPredict(const RemoteTarget& target,
                                                               PredictRequest request,
                                                               absl::Duration) const override {
    const size_t colon = target.model_name.rfind(':');
    auto it = models_.find(colon == std::string::npos ? target.model_name
                                                      : target.model_name.substr(colon + 1));
    if (it == models_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the entry calls ", target.model_name, ", which this export does not have"));
    }
    PredictResponse response;
    absl::Status ran = RunPredict(*it->second, request, PredictLimits{}, &response);
    return std::make_unique<DonePredict>(std::move(ran), std::move(response), "in-process");
  }

  absl::Status Probe(const std::vector<RemoteTarget>&, absl::Duration) const override {
    return absl::OkStatus();
  }

 private:
  std::map<std::string, const SavedModelBundle*> models_;
};

// The export, loaded: the model that answers requests (standalone or
// entry) and the sub-models it calls.
struct LoadedExport {
  LocalRemoteCaller caller;  // Outlives the bundles that call it.
  std::vector<std::unique_ptr<SavedModelBundle>> bundles;
  const SavedModelBundle* front = nullptr;
  EmbeddingDtype embedding_dtype = EmbeddingDtype::kFloat32;
};

// How the tables of `bundle` store their rows, when it holds compressed
// ones.
void NoteEmbeddingDtype(const SavedModelBundle& bundle, EmbeddingDtype& dtype) {
  for (const auto& [table, stored] : CompressedTables(bundle.session().graph())) dtype = stored;
}

absl::StatusOr<std::unique_ptr<LoadedExport>> LoadExport(
    const std::map<SubModel, std::string>& folders, const VerifyOptions& options) {
  auto out = std::make_unique<LoadedExport>();
  LoadOptions load{.thread_pool = options.thread_pool, .remote_caller = &out->caller};
  std::string front;
  for (const auto& [sub, folder] : folders) {
    if (sub.is_entry() || sub.is_standalone()) {
      front = folder;
      continue;
    }
    auto bundle = SavedModelBundle::Load(folder, load);
    if (!bundle.ok()) {
      return absl::Status(bundle.status().code(),
                          absl::StrCat(sub.name(), ": ", bundle.status().message()));
    }
    out->caller.Add(sub, bundle->get());
    NoteEmbeddingDtype(**bundle, out->embedding_dtype);
    out->bundles.push_back(std::move(*bundle));
  }
  if (front.empty()) {
    return absl::InvalidArgumentError("an export to verify needs its standalone model or entry");
  }
  RECSHIP_ASSIGN_OR_RETURN(auto bundle, SavedModelBundle::Load(front, load));
  NoteEmbeddingDtype(*bundle, out->embedding_dtype);
  out->front = bundle.get();
  out->bundles.push_back(std::move(bundle));
  return out;
}

// The model_fn's graph outside export mode over the training checkpoint.
struct Reference {
  std::unique_ptr<Session> session;
  std::map<std::string, std::string> inputs;  // Request key -> tensor name.
  // Signature name -> output key -> tensor name.
  std::map<std::string, std::map<std::string, std::string>> signatures;
};

std::map<std::string, std::string> TensorNames(const std::map<std::string, Output>& outputs) {
  std::map<std::string, std::string> names;
  for (const auto& [key, output] : outputs) names[key] = output.tensor_name();
  return names;
}

// Ids of `table` that the filters leave out, as the export decides them.
absl::StatusOr<std::vector<int64_t>> LeftOutIds(const CheckpointReader& checkpoint,
                                                const std::string& table,
                                                std::optional<int64_t> min_frequency,
                                                std::optional<int64_t> min_timestamp) {
  std::vector<int64_t> out;
  for (int shard : checkpoint.tables().at(table)) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor keys,
                             checkpoint.bundle().Map(TableShardTensorName(table, shard, "keys")));
    Tensor freqs, timestamps;
    if (min_frequency) {
      RECSHIP_ASSIGN_OR_RETURN(
          freqs, checkpoint.bundle().Map(TableShardTensorName(table, shard, "freqs")));
    }
    if (min_timestamp) {
      RECSHIP_ASSIGN_OR_RETURN(
          timestamps, checkpoint.bundle().Map(TableShardTensorName(table, shard, "timestamps")));
    }
    for (int64_t r = 0; r < keys.num_elements(); ++r) {
      if ((min_frequency && freqs.flat<int64_t>()[r] < *min_frequency) ||
          (min_timestamp && timestamps.flat<int64_t>()[r] < *min_timestamp)) {
        out.push_back(keys.flat<int64_t>()[r]);
      }
    }
  }
  return out;
}

// The newest -timestamps of the tables of `plan`, from which --max-age counts.
absl::StatusOr<std::optional<int64_t>> NewestTimestampOf(const CheckpointReader& checkpoint,
                                                         const RestorePlan& plan) {
  std::optional<int64_t> newest;
  for (const RestorePlan::Table& table : plan.tables) {
    RECSHIP_ASSIGN_OR_RETURN(auto timestamps, checkpoint.TableTimestamps(table.name, table.shards));
    std::optional<int64_t> t = timestamps ? NewestTimestamp(*timestamps) : std::nullopt;
    if (t) newest = std::max(newest.value_or(*t), *t);
  }
  return newest;
}

// Erases from the reference's tables the ids the export's filters leave out.
absl::Status ApplyFilters(const CheckpointReader& checkpoint, const RestorePlan& plan,
                          const VerifyOptions& options, const Session& session) {
  if (!options.min_frequency && !options.max_age) return absl::OkStatus();
  std::optional<int64_t> min_timestamp;
  if (options.max_age) {
    RECSHIP_ASSIGN_OR_RETURN(std::optional<int64_t> newest, NewestTimestampOf(checkpoint, plan));
    if (!newest) {
      return absl::FailedPreconditionError(
          absl::StrCat("--max-age needs the rows' -timestamps, but checkpoint ",
                       checkpoint.prefix(), " has none"));
    }
    min_timestamp = *newest - absl::ToInt64Seconds(*options.max_age);
  }
  for (const auto& resource : session.resources().All()) {
    auto table = std::dynamic_pointer_cast<HashTable>(resource);
    if (table == nullptr || !checkpoint.tables().contains(table->name())) continue;
    RECSHIP_ASSIGN_OR_RETURN(
        std::vector<int64_t> ids,
        LeftOutIds(checkpoint, table->name(), options.min_frequency, min_timestamp));
    const int64_t n = static_cast<int64_t>(ids.size());
    RECSHIP_RETURN_IF_ERROR(table->Erase(Tensor::FromVector<int64_t>({n}, ids)).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<Reference> BuildReference(const CheckpointReader& checkpoint,
                                         const VerifyOptions& options) {
  Graph graph;
  RECSHIP_ASSIGN_OR_RETURN(ServingInputReceiver receiver,
                           options.serving_input_receiver_fn(Scope(&graph)));
  RECSHIP_ASSIGN_OR_RETURN(
      EstimatorSpec spec, options.model_fn(receiver.features, Mode::kPredict, {options.model_dir}));
  RECSHIP_RETURN_IF_ERROR(graph.status());
  Reference ref;
  ref.inputs = TensorNames(receiver.receiver_tensors);
  ref.signatures[kDefaultServingSignatureKey] = TensorNames(spec.predictions);
  for (const auto& [name, output] : spec.export_outputs) {
    ref.signatures[name] = TensorNames(output.outputs);
  }
  RECSHIP_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(graph.def(), checkpoint));
  RECSHIP_ASSIGN_OR_RETURN(tensorflow::SaverDef saver, AddSaverOps(graph, plan));
  RECSHIP_ASSIGN_OR_RETURN(ref.session,
                           Session::Create(graph.def(), {.thread_pool = options.thread_pool}));
  RunOptions run;
  run.map_restored_tensors = true;
  auto restored = ref.session->Run(
      {{saver.filename_tensor_name(), Tensor::FromStrings({}, {checkpoint.prefix()})}}, {},
      {"save/restore_all"}, run);
  if (!restored.ok()) {
    return absl::Status(restored.status().code(),
                        absl::StrCat("the reference model over ", checkpoint.prefix(), ": ",
                                     restored.status().message()));
  }
  RECSHIP_RETURN_IF_ERROR(ApplyFilters(checkpoint, plan, options, *ref.session));
  return ref;
}

// The requests: the export's warmup requests, else generated ones drawing
// ids from every shard of every table.
absl::StatusOr<std::vector<PredictRequest>> Requests(const LoadedExport& loaded,
                                                     const CheckpointReader& checkpoint,
                                                     const VerifyOptions& options,
                                                     bool& generated) {
  RECSHIP_ASSIGN_OR_RETURN(std::vector<PredictRequest> warmup,
                           ReadWarmupRequests(loaded.front->export_dir()));
  generated = warmup.empty();
  if (!generated) return warmup;
  std::vector<int64_t> known;
  for (const auto& [table, shards] : checkpoint.tables()) {
    for (int shard : shards) {
      const std::string name = TableShardTensorName(table, shard, "keys");
      RECSHIP_ASSIGN_OR_RETURN(Tensor keys, checkpoint.bundle().Map(name));
      const int64_t n = std::min(keys.num_elements(), kKnownIdsPerShard);
      known.insert(known.end(), keys.flat<int64_t>().begin(), keys.flat<int64_t>().begin() + n);
    }
  }
  RECSHIP_ASSIGN_OR_RETURN(const tensorflow::SignatureDef* signature,
                           loaded.front->FindSignature(kDefaultServingSignatureKey));
  return GenerateRequests(*signature, std::move(known), options.generated_requests,
                          options.generated_batch, /*seed=*/1);
}

// The reference's outputs for `request`, by output key.
absl::StatusOr<std::map<std::string, Tensor>> RunReference(const Reference& ref,
                                                           const PredictRequest& request) {
  std::string signature = request.model_spec().signature_name();
  if (signature.empty()) signature = kDefaultServingSignatureKey;
  auto outputs = ref.signatures.find(signature);
  if (outputs == ref.signatures.end()) {
    return absl::NotFoundError(
        absl::StrCat("the model_fn gives no signature '", signature, "' to compare with"));
  }
  std::vector<NamedTensor> feeds;
  for (const auto& [key, proto] : request.inputs()) {
    auto input = ref.inputs.find(key);
    if (input == ref.inputs.end()) continue;  // The export refused it already.
    RECSHIP_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(proto));
    feeds.emplace_back(input->second, std::move(t));
  }
  std::vector<std::string> fetches;
  for (const auto& [key, name] : outputs->second) fetches.push_back(name);
  RECSHIP_ASSIGN_OR_RETURN(std::vector<Tensor> values, ref.session->Run(feeds, fetches, {}));
  std::map<std::string, Tensor> out;
  size_t i = 0;
  for (const auto& [key, name] : outputs->second) out[key] = std::move(values[i++]);
  return out;
}

// One output's values over every request, the export's and the reference's.
struct OutputValues {
  std::vector<double> got, want;
  bool exact_mismatch = false;  // A non-float output that differs.
};

absl::Status Collect(const std::string& key, const Tensor& want,
                     const tensorflow::TensorProto& got_proto, OutputValues& values) {
  RECSHIP_ASSIGN_OR_RETURN(Tensor got, TensorFromProto(got_proto));
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    return absl::DataLossError(absl::StrCat(
        "output '", key, "' is ", DataTypeName(got.dtype()), " ", ShapeToString(got.shape()),
        " but the model gives ", DataTypeName(want.dtype()), " ", ShapeToString(want.shape())));
  }
  if (want.dtype() != tensorflow::DT_FLOAT) {
    values.exact_mismatch |= !got.Equals(want);
    return absl::OkStatus();
  }
  values.got.insert(values.got.end(), got.flat<float>().begin(), got.flat<float>().end());
  values.want.insert(values.want.end(), want.flat<float>().begin(), want.flat<float>().end());
  return absl::OkStatus();
}

// The errors of one output. A value's relative error is |got - want| /
// max(|want|, floor): floor is 1e-3 for an output whose values all lie in
// [0, 1] (a probability), else a tenth of its root mean square, so that an
// unbounded output (a regression head) is not judged by its values nearest
// zero.
OutputError Errors(const std::string& key, const OutputValues& values) {
  OutputError error{.name = key, .values = static_cast<int64_t>(values.want.size())};
  if (values.exact_mismatch) {
    error.max_relative_error = error.max_absolute_error = INFINITY;
    return error;
  }
  bool probability = true;
  double squares = 0;
  for (double w : values.want) {
    probability &= w >= 0 && w <= 1;
    squares += w * w;
  }
  const double rms = values.want.empty() ? 0 : std::sqrt(squares / values.want.size());
  error.probability = probability;
  const double floor = probability ? kSmallestScale : std::max(kSmallestScale, rms / 10);
  for (size_t i = 0; i < values.want.size(); ++i) {
    const double diff = std::fabs(values.got[i] - values.want[i]);
    const double relative = diff / std::max(std::fabs(values.want[i]), floor);
    // NaN compares false: a NaN on either side counts as infinitely wrong.
    error.max_absolute_error =
        std::isnan(diff) ? INFINITY : std::max(error.max_absolute_error, diff);
    error.max_relative_error =
        std::isnan(relative) ? INFINITY : std::max(error.max_relative_error, relative);
  }
  return error;
}

}  // namespace

double DefaultTolerance(EmbeddingDtype dtype) {
  switch (dtype) {
    case EmbeddingDtype::kFloat32:
      return 1e-5;
    case EmbeddingDtype::kFloat16:
      return 2e-3;
    case EmbeddingDtype::kBFloat16:
      return 1e-2;
    case EmbeddingDtype::kInt8:
      return 3e-2;
  }
  return 1e-5;
}

bool VerifyReport::passed() const {
  for (const OutputError& o : outputs) {
    if (!(o.max_relative_error <= tolerance)) return false;
  }
  return !outputs.empty();
}

std::string VerifyReport::ToString() const {
  std::string out = absl::StrFormat("verified on %d %s request(s), embeddings %s, tolerance %g:\n",
                                    requests, generated ? "generated" : "warmup",
                                    EmbeddingDtypeName(embedding_dtype), tolerance);
  for (const OutputError& o : outputs) {
    absl::StrAppendFormat(
        &out, "  %-24s max relative error %.3g, max absolute error %.3g (%d values)%s\n", o.name,
        o.max_relative_error, o.max_absolute_error, o.values,
        o.max_relative_error <= tolerance ? "" : "  FAILED");
  }
  absl::StrAppend(&out, passed() ? "the export serves the checkpoint's model"
                                 : "the export does NOT serve the checkpoint's model");
  return out;
}

absl::StatusOr<VerifyReport> VerifyExport(const std::map<SubModel, std::string>& folders,
                                          const VerifyOptions& options) {
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> checkpoint,
                           CheckpointReader::Open(options.checkpoint));
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<LoadedExport> loaded, LoadExport(folders, options));
  RECSHIP_ASSIGN_OR_RETURN(Reference reference, BuildReference(*checkpoint, options));
  VerifyReport report;
  report.embedding_dtype = loaded->embedding_dtype;
  report.tolerance = options.tolerance.value_or(DefaultTolerance(loaded->embedding_dtype));
  RECSHIP_ASSIGN_OR_RETURN(std::vector<PredictRequest> requests,
                           Requests(*loaded, *checkpoint, options, report.generated));
  std::map<std::string, OutputValues> outputs;
  for (size_t r = 0; r < requests.size(); ++r) {
    if (options.progress) {
      RECSHIP_RETURN_IF_ERROR(
          options.progress(static_cast<int>(r), static_cast<int>(requests.size())));
    }
    auto fail = [&](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("verify request ", r, ": ", s.message()));
    };
    PredictResponse response;
    absl::Status ran = RunPredict(*loaded->front, requests[r], PredictLimits{}, &response);
    if (!ran.ok()) return fail(ran);
    absl::StatusOr<std::map<std::string, Tensor>> want = RunReference(reference, requests[r]);
    if (!want.ok()) return fail(want.status());
    for (const auto& [key, tensor] : *want) {
      auto got = response.outputs().find(key);
      if (got == response.outputs().end()) {
        return fail(absl::DataLossError(absl::StrCat("the export gives no output '", key, "'")));
      }
      if (absl::Status s = Collect(key, tensor, got->second, outputs[key]); !s.ok()) {
        return fail(s);
      }
    }
  }
  report.requests = static_cast<int>(requests.size());
  for (const auto& [key, values] : outputs) report.outputs.push_back(Errors(key, values));
  return report;
}

}  // namespace recship
