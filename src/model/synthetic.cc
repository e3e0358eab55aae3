#include "recship/model/synthetic.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/model/checkpoint.h"
#include "recship/model/model_zoo.h"

namespace recship {
namespace {

constexpr int64_t kChunkRows = 1 << 16;

// Appends a [rows, cols] tensor produced chunk by chunk by `fill(first_row,
// rows, out)`.
template <typename T, typename Fill>
absl::Status StreamTensor(BundleWriter& bundle, const std::string& name, TensorShape shape,
                          Fill fill) {
  RECSHIP_RETURN_IF_ERROR(bundle.BeginTensor(name, DataTypeOf<T>(), shape));
  int64_t rows = shape[0];
  int64_t cols = shape.size() > 1 ? shape[1] : 1;
  std::vector<T> buffer;
  for (int64_t first = 0; first < rows; first += kChunkRows) {
    int64_t n = std::min(kChunkRows, rows - first);
    buffer.resize(static_cast<size_t>(n * cols));
    fill(first, n, buffer.data());
    RECSHIP_RETURN_IF_ERROR(bundle.Append(absl::string_view(
        reinterpret_cast<const char*>(buffer.data()), buffer.size() * sizeof(T))));
  }
  return bundle.EndTensor();
}

// Embedding values, uniform in [-0.866, 0.866) (standard deviation 0.5),
// from SplitMix64: tables hold most of the bytes, and std::normal_distribution
// over mt19937_64 made synth 3x slower than writing the file.
class EmbeddingValues {
 public:
  explicit EmbeddingValues(uint64_t seed) : state_(seed) {}
  float Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    // The top 24 bits give a float in [0, 1) exactly.
    return (static_cast<float>(z >> 40) * 0x1p-24f - 0.5f) * 1.7320508f;
  }

 private:
  uint64_t state_;
};

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// With options.changed_fraction: the last step in [2, step] that changed
// `key`'s row, or 0 when none did.
int LastChange(int64_t key, int step, const SyntheticOptions& options) {
  const auto threshold = static_cast<uint64_t>(options.changed_fraction * 0x1p64);
  for (int t = step; t >= 2; --t) {
    if (Mix64(static_cast<uint64_t>(key) * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(t)) <
        threshold) {
      return t;
    }
  }
  return 0;
}

int64_t ShardId(int64_t k, int shard, int num_ps) {
  return (k % 2 == 0) ? k * num_ps + shard : -(k * num_ps) + shard;
}

absl::Status WriteTable(CheckpointWriter& writer, const HashTableSpec& table,
                        const SyntheticOptions& options, int step, std::mt19937_64& rng) {
  BundleWriter& bundle = writer.bundle();
  int shards = options.num_ps > 0 ? options.num_ps : table.num_shards;
  for (int shard = 0; shard < shards; ++shard) {
    int64_t rows =
        options.ids_per_table / shards + (shard < options.ids_per_table % shards ? 1 : 0);
    auto name = [&](absl::string_view part) {
      return TableShardTensorName(table.name, shard, part);
    };
    RECSHIP_RETURN_IF_ERROR(StreamTensor<int64_t>(bundle, name("keys"), {rows},
                                                  [&](int64_t first, int64_t n, int64_t* out) {
                                                    for (int64_t i = 0; i < n; ++i) {
                                                      out[i] = ShardId(first + i, shard, shards);
                                                    }
                                                  }));
    EmbeddingValues values(rng());
    RECSHIP_RETURN_IF_ERROR(StreamTensor<float>(
        bundle, name("values"), {rows, table.dim}, [&](int64_t first, int64_t n, float* out) {
          for (int64_t i = 0; i < n * table.dim; ++i) out[i] = values.Next();
          if (options.changed_fraction <= 0) return;
          for (int64_t i = 0; i < n; ++i) {
            const int64_t key = ShardId(first + i, shard, shards);
            const int t = LastChange(key, step, options);
            if (t == 0) continue;
            EmbeddingValues changed(Mix64(static_cast<uint64_t>(key)) + static_cast<uint64_t>(t));
            for (int64_t d = 0; d < table.dim; ++d) out[i * table.dim + d] = changed.Next();
          }
        }));
    RECSHIP_RETURN_IF_ERROR(StreamTensor<float>(
        bundle, name("slot-adagrad"), {rows, table.dim},
        [&](int64_t, int64_t n, float* out) { std::fill(out, out + n * table.dim, 0.1f); }));
    RECSHIP_RETURN_IF_ERROR(StreamTensor<int64_t>(bundle, name("freqs"), {rows},
                                                  [&](int64_t first, int64_t n, int64_t* out) {
                                                    for (int64_t i = 0; i < n; ++i)
                                                      out[i] = 1 + (first + i) % 97;
                                                  }));
    RECSHIP_RETURN_IF_ERROR(StreamTensor<int64_t>(
        bundle, name("timestamps"), {rows}, [&](int64_t first, int64_t n, int64_t* out) {
          for (int64_t i = 0; i < n; ++i) {
            out[i] = 1764000000 + (first + i) % 86400;  // Spread over a day.
            if (options.changed_fraction <= 0) continue;
            // A changed row: its step's time.
            int t = LastChange(ShardId(first + i, shard, shards), step, options);
            if (t > 0) out[i] = 1765000000 + t;
          }
        }));
  }
  return absl::OkStatus();
}

using DenseVariableList = std::vector<std::pair<std::string, TensorShape>>;

absl::Status WriteDense(CheckpointWriter& writer, const DenseVariableList& variables,
                        std::mt19937_64& rng) {
  for (const auto& [name, shape] : variables) {
    Tensor value = Tensor::Create(tensorflow::DT_FLOAT, shape).value();
    // Glorot-style scale for kernels, small biases: outputs vary with inputs
    // without saturating the sigmoid.
    float scale =
        shape.size() == 2 ? std::sqrt(2.0f / static_cast<float>(shape[0] + shape[1])) : 0.05f;
    std::normal_distribution<float> normal(0.0f, scale);
    for (float& v : value.flat<float>()) v = normal(rng);
    RECSHIP_RETURN_IF_ERROR(writer.AddDense(name, value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> WriteSyntheticCheckpoints(const ModelSpec& spec,
                                                      const std::string& model_dir,
                                                      const SyntheticOptions& options) {
  if (options.ids_per_table < 0 || options.num_ps < 0 || options.steps < 1 ||
      options.first_step < 1 || options.first_step > options.steps) {
    return absl::InvalidArgumentError(
        "synth: ids and num_ps must be >= 0, 1 <= first step <= steps");
  }
  if (options.changed_fraction < 0 || options.changed_fraction >= 1) {
    return absl::InvalidArgumentError("synth: the changed fraction must be in [0, 1)");
  }
  // The model is built once; every step draws new values for its variables.
  RECSHIP_ASSIGN_OR_RETURN(DenseVariableList variables, DenseVariables(spec));
  std::string prefix;
  for (int step = options.first_step; step <= options.steps; ++step) {
    // With a changed fraction every step starts from step 1's values.
    const int seed_step = options.changed_fraction > 0 ? 1 : step;
    std::mt19937_64 rng(options.seed * 1000003 + static_cast<uint64_t>(seed_step));
    RECSHIP_ASSIGN_OR_RETURN(auto writer, CheckpointWriter::Create(model_dir, step));
    RECSHIP_RETURN_IF_ERROR(WriteDense(*writer, variables, rng));
    for (const HashTableSpec& table : spec.tables) {
      RECSHIP_RETURN_IF_ERROR(WriteTable(*writer, table, options, step, rng));
    }
    RECSHIP_ASSIGN_OR_RETURN(prefix, writer->Finish());
  }
  return prefix;
}

}  // namespace recship
