#include "src/serving/json_outputs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "recship/core/status_macros.h"
#include "recship/format/dtype.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_json.h"
#include "recship/format/tensor_proto.h"

namespace recship {
namespace {

using json = nlohmann::json;

// TensorFlow Serving's float text: 6 significant digits when they read back
// exactly, else enough to; ".0" when it would read as an integer.
template <typename T>
void AppendReal(T value, std::string& out) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "Infinity" : "-Infinity";
    return;
  }
  std::string text = absl::StrCat(value);
  T back;
  bool read = false;
  if constexpr (std::is_same_v<T, float>) {
    read = absl::SimpleAtof(text, &back);
  } else {
    read = absl::SimpleAtod(text, &back);
  }
  if (!read || back != value) {
    text = absl::StrFormat("%.*g", std::numeric_limits<T>::max_digits10, value);
  }
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  out += text;
}

void AppendElement(const Tensor& t, int64_t i, bool bytes, std::string& out) {
  switch (t.dtype()) {
    case tensorflow::DT_FLOAT:
      return AppendReal(t.flat<float>()[i], out);
    case tensorflow::DT_DOUBLE:
      return AppendReal(t.flat<double>()[i], out);
    case tensorflow::DT_INT64:
      return absl::StrAppend(&out, t.flat<int64_t>()[i]);
    case tensorflow::DT_INT32:
      return absl::StrAppend(&out, t.flat<int32_t>()[i]);
    case tensorflow::DT_INT16:
      return absl::StrAppend(&out, t.flat<int16_t>()[i]);
    case tensorflow::DT_INT8:
      return absl::StrAppend(&out, t.flat<int8_t>()[i]);
    case tensorflow::DT_UINT8:
      return absl::StrAppend(&out, t.flat<uint8_t>()[i]);
    case tensorflow::DT_BOOL:
      out += t.flat<bool>()[i] ? "true" : "false";
      return;
    case tensorflow::DT_STRING: {
      const std::string& s = t.strings()[static_cast<size_t>(i)];
      if (bytes) {
        absl::StrAppend(&out, "{\"b64\": \"", absl::Base64Escape(s), "\"}");
      } else {
        out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
      }
      return;
    }
    default:
      return;  // Refused by CheckWritable.
  }
}

absl::Status CheckWritable(const std::string& name, const Tensor& t) {
  if (HasJsonForm(t.dtype())) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("Failed to write JSON value for tensor type: ",
                                               DataTypeName(t.dtype()), " (output '", name, "')"));
}

// Elements [first, first + count) of `t` laid out as `dims` (nested lists).
void AppendNested(const Tensor& t, std::span<const int64_t> dims, int64_t first, bool bytes,
                  std::string& out) {
  if (dims.empty()) return AppendElement(t, first, bytes, out);
  int64_t stride = 1;
  for (size_t d = 1; d < dims.size(); ++d) stride *= dims[d];
  out += '[';
  for (int64_t i = 0; i < dims[0]; ++i) {
    if (i > 0) out += ", ";
    AppendNested(t, dims.subspan(1), first + i * stride, bytes, out);
  }
  out += ']';
}

struct NamedOutput {
  std::string name;
  Tensor tensor;
  bool bytes;  // Written as {"b64": ...}.
};

absl::StatusOr<std::vector<NamedOutput>> DecodeOutputs(
    const tensorflow::serving::PredictResponse& response) {
  std::vector<NamedOutput> outputs;
  for (const auto& [name, proto] : response.outputs()) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(proto));
    RECSHIP_RETURN_IF_ERROR(CheckWritable(name, t));
    const bool bytes = t.dtype() == tensorflow::DT_STRING && absl::EndsWith(name, "_bytes");
    outputs.push_back({name, std::move(t), bytes});
  }
  if (outputs.empty()) return absl::InvalidArgumentError("Cannot convert empty tensor map to JSON");
  // Sorted by name, for answers that do not depend on a map's order.
  std::sort(outputs.begin(), outputs.end(),
            [](const NamedOutput& a, const NamedOutput& b) { return a.name < b.name; });
  return outputs;
}

std::string Key(const std::string& name) {
  return json(name).dump(-1, ' ', false, json::error_handler_t::replace) + ": ";
}

absl::StatusOr<std::string> RowJson(const std::vector<NamedOutput>& outputs) {
  const int64_t batch =
      outputs.front().tensor.shape().empty() ? -1 : outputs.front().tensor.shape()[0];
  for (const NamedOutput& o : outputs) {
    if (o.tensor.shape().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Tensor name: ", o.name, " has no shape information "));
    }
    if (o.tensor.shape()[0] != batch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Tensor name: ", o.name, " has inconsistent batch size: ", o.tensor.shape()[0],
          " expecting: ", batch));
    }
  }
  std::string out = "{\"predictions\": [";
  for (int64_t row = 0; row < batch; ++row) {
    if (row > 0) out += ", ";
    if (outputs.size() > 1) out += '{';
    for (size_t k = 0; k < outputs.size(); ++k) {
      const NamedOutput& o = outputs[k];
      std::span<const int64_t> dims(o.tensor.shape());
      const int64_t per_row = batch == 0 ? 0 : o.tensor.num_elements() / batch;
      if (outputs.size() > 1) out += (k > 0 ? ", " : "") + Key(o.name);
      AppendNested(o.tensor, dims.subspan(1), row * per_row, o.bytes, out);
    }
    if (outputs.size() > 1) out += '}';
  }
  out += "]}";
  return out;
}

std::string ColumnJson(const std::vector<NamedOutput>& outputs) {
  std::string out = "{\"outputs\": ";
  if (outputs.size() > 1) out += '{';
  for (size_t k = 0; k < outputs.size(); ++k) {
    const NamedOutput& o = outputs[k];
    if (outputs.size() > 1) out += (k > 0 ? ", " : "") + Key(o.name);
    AppendNested(o.tensor, o.tensor.shape(), 0, o.bytes, out);
  }
  if (outputs.size() > 1) out += '}';
  out += '}';
  return out;
}

}  // namespace

absl::StatusOr<std::string> PredictResponseJson(
    const tensorflow::serving::PredictResponse& response, bool row_format) {
  RECSHIP_ASSIGN_OR_RETURN(std::vector<NamedOutput> outputs, DecodeOutputs(response));
  if (row_format) return RowJson(outputs);
  return ColumnJson(outputs);
}

}  // namespace recship
