#include "recship/format/embedding_dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "Eigen/Core"
#include "absl/strings/str_cat.h"

namespace recship {
namespace {

constexpr float kInt8Max = 127.0f;

template <typename Half>
void EncodeHalves(const float* in, int64_t dim, int32_t* out) {
  const int64_t width = StoredRowWidth(EmbeddingDtype::kFloat16, dim);
  std::memset(out, 0, static_cast<size_t>(width) * sizeof(int32_t));
  auto* halves = reinterpret_cast<uint16_t*>(out);
  for (int64_t j = 0; j < dim; ++j) halves[j] = Eigen::numext::bit_cast<uint16_t>(Half(in[j]));
}

template <typename Half>
void DecodeHalves(const int32_t* in, int64_t dim, float* out) {
  const auto* halves = reinterpret_cast<const uint16_t*>(in);
  for (int64_t j = 0; j < dim; ++j) {
    out[j] = static_cast<float>(Eigen::numext::bit_cast<Half>(halves[j]));
  }
}

#if defined(__x86_64__)
// float16 -> float32 four at a time with the F16C instruction (exact, as
// the scalar conversion), on the CPUs that have it.
__attribute__((target("f16c"))) void DecodeFloat16F16c(const int32_t* in, int64_t dim, float* out) {
  const auto* halves = reinterpret_cast<const uint16_t*>(in);
  int64_t j = 0;
  for (; j + 4 <= dim; j += 4) {  // 128-bit: no upper state left dirty for SSE code.
    __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(halves + j));
    _mm_storeu_ps(out + j, _mm_cvtph_ps(h));
  }
  DecodeHalves<Eigen::half>(reinterpret_cast<const int32_t*>(halves + j), dim - j, out + j);
}
#endif

#if defined(__x86_64__)
// F16C instructions are VEX-encoded: they need the CPU's F16C and the OS's
// AVX state support (which __builtin_cpu_supports("avx") checks).
bool HasF16c() {
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_F16C) != 0 && __builtin_cpu_supports("avx");
}
#endif

void DecodeFloat16(const int32_t* in, int64_t dim, float* out) {
#if defined(__x86_64__)
  static const bool f16c = HasF16c();
  if (f16c) return DecodeFloat16F16c(in, dim, out);
#endif
  DecodeHalves<Eigen::half>(in, dim, out);
}

void EncodeInt8(const float* in, int64_t dim, int32_t* out) {
  const int64_t width = StoredRowWidth(EmbeddingDtype::kInt8, dim);
  std::memset(out, 0, static_cast<size_t>(width) * sizeof(int32_t));
  float max_abs = 0;
  for (int64_t j = 0; j < dim; ++j) max_abs = std::max(max_abs, std::fabs(in[j]));
  const float scale = max_abs / kInt8Max;
  std::memcpy(out, &scale, sizeof(scale));
  if (scale == 0 || !std::isfinite(scale)) return;
  auto* q = reinterpret_cast<int8_t*>(out + 1);
  for (int64_t j = 0; j < dim; ++j) {
    const float v = std::nearbyint(in[j] / scale);
    q[j] = std::isnan(v) ? 0 : static_cast<int8_t>(std::clamp(v, -kInt8Max, kInt8Max));
  }
}

void DecodeInt8(const int32_t* in, int64_t dim, float* out) {
  float scale;
  std::memcpy(&scale, in, sizeof(scale));
  const auto* q = reinterpret_cast<const int8_t*>(in + 1);
  for (int64_t j = 0; j < dim; ++j) out[j] = static_cast<float>(q[j]) * scale;
}

}  // namespace

absl::string_view EmbeddingDtypeName(EmbeddingDtype dtype) {
  switch (dtype) {
    case EmbeddingDtype::kFloat32:
      return "float32";
    case EmbeddingDtype::kFloat16:
      return "float16";
    case EmbeddingDtype::kBFloat16:
      return "bfloat16";
    case EmbeddingDtype::kInt8:
      return "int8";
  }
  return "float32";
}

absl::StatusOr<EmbeddingDtype> ParseEmbeddingDtype(absl::string_view name) {
  for (EmbeddingDtype dtype : {EmbeddingDtype::kFloat32, EmbeddingDtype::kFloat16,
                               EmbeddingDtype::kBFloat16, EmbeddingDtype::kInt8}) {
    if (name == EmbeddingDtypeName(dtype)) return dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown embedding dtype '", name, "' (expected float32, float16, bfloat16 or int8)"));
}

int64_t StoredRowWidth(EmbeddingDtype dtype, int64_t dim) {
  switch (dtype) {
    case EmbeddingDtype::kFloat32:
      return dim;
    case EmbeddingDtype::kFloat16:
    case EmbeddingDtype::kBFloat16:
      return (dim + 1) / 2;
    case EmbeddingDtype::kInt8:
      return 1 + (dim + 3) / 4;
  }
  return dim;
}

void EncodeRows(EmbeddingDtype dtype, const float* in, int64_t rows, int64_t dim, int32_t* out) {
  const int64_t width = StoredRowWidth(dtype, dim);
  for (int64_t r = 0; r < rows; ++r, in += dim, out += width) {
    switch (dtype) {
      case EmbeddingDtype::kFloat32:
        std::memcpy(out, in, static_cast<size_t>(dim) * sizeof(float));
        break;
      case EmbeddingDtype::kFloat16:
        EncodeHalves<Eigen::half>(in, dim, out);
        break;
      case EmbeddingDtype::kBFloat16:
        EncodeHalves<Eigen::bfloat16>(in, dim, out);
        break;
      case EmbeddingDtype::kInt8:
        EncodeInt8(in, dim, out);
        break;
    }
  }
}

void DecodeRows(EmbeddingDtype dtype, const int32_t* in, int64_t rows, int64_t dim, float* out) {
  const int64_t width = StoredRowWidth(dtype, dim);
  for (int64_t r = 0; r < rows; ++r, in += width, out += dim) {
    switch (dtype) {
      case EmbeddingDtype::kFloat32:
        std::memcpy(out, in, static_cast<size_t>(dim) * sizeof(float));
        break;
      case EmbeddingDtype::kFloat16:
        DecodeFloat16(in, dim, out);
        break;
      case EmbeddingDtype::kBFloat16:
        DecodeHalves<Eigen::bfloat16>(in, dim, out);
        break;
      case EmbeddingDtype::kInt8:
        DecodeInt8(in, dim, out);
        break;
    }
  }
}

std::map<std::string, EmbeddingDtype> CompressedTables(const tensorflow::GraphDef& graph) {
  std::map<std::string, std::string> table_of_node;  // Handle or lookup node -> table.
  for (const tensorflow::NodeDef& node : graph.node()) {
    if (node.op() == "MutableHashTableOfTensorsV2") {
      table_of_node[node.name()] = node.attr().at("shared_name").s();
    }
  }
  auto node_of = [](const std::string& input) { return input.substr(0, input.find(':')); };
  std::map<std::string, const tensorflow::NodeDef*> nodes;
  for (const tensorflow::NodeDef& node : graph.node()) {
    nodes[node.name()] = &node;
    if (node.op() == "LookupTableFindV2" && node.input_size() > 0) {
      auto it = table_of_node.find(node_of(node.input(0)));
      if (it != table_of_node.end()) table_of_node[node.name()] = it->second;
    }
  }
  std::map<std::string, EmbeddingDtype> out;
  for (const tensorflow::NodeDef& node : graph.node()) {
    if (node.op() != "Bitcast" || node.input_size() < 1 || !node.attr().contains("type")) continue;
    std::string source = node_of(node.input(0));
    auto gather = nodes.find(source);
    if (gather != nodes.end() && gather->second->op() == "GatherV2") {
      source = node_of(gather->second->input(0));
    }
    auto table = table_of_node.find(source);
    if (table == table_of_node.end()) continue;
    switch (node.attr().at("type").type()) {
      case tensorflow::DT_HALF:
        out[table->second] = EmbeddingDtype::kFloat16;
        break;
      case tensorflow::DT_BFLOAT16:
        out[table->second] = EmbeddingDtype::kBFloat16;
        break;
      case tensorflow::DT_INT8:
        out[table->second] = EmbeddingDtype::kInt8;
        break;
      default:
        break;  // The int8 row's scale.
    }
  }
  return out;
}

}  // namespace recship
