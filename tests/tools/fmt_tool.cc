// recship_fmt_tool: a small command-line bridge to recship's format library,
// driven by the Python interop tests (tests/python) so that real TensorFlow
// can judge what recship writes and recship can read what TensorFlow writes.
//
//   write-bundle PREFIX SPEC.json       tensors from a JSON spec into a bundle
//   read-bundle PREFIX OUTDIR           OUTDIR/manifest.json + one file per tensor
//   write-tfrecord OUT IN.json          IN.json: a list of base64 records
//   read-tfrecord IN                    prints a JSON list of base64 records
//   write-test-savedmodel EXPORT_BASE VERSION [--w=1.5,-2,3.25]
//                                       a TF1-style SavedModel computing y = x + w
//
// Errors go to stderr and give a non-zero exit.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/dtype.h"
#include "recship/format/saved_model.h"
#include "recship/format/tensor.h"
#include "recship/format/tensor_bundle.h"
#include "recship/format/tfrecord.h"
#include "recship/tensorflow/core/framework/attr_value.pb.h"
#include "recship/tensorflow/core/framework/graph.pb.h"
#include "recship/tensorflow/core/framework/node_def.pb.h"
#include "recship/tensorflow/core/protobuf/meta_graph.pb.h"
#include "recship/tensorflow/core/protobuf/saved_model.pb.h"
#include "recship/tensorflow/core/protobuf/saver.pb.h"

namespace recship::tools {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Streamed tensors are appended in pieces of this size, so memory stays
// bounded whatever the tensor's size.
constexpr size_t kChunkBytes = 4 << 20;

absl::StatusOr<json> ReadJsonFile(const std::string& path) {
  RECSHIP_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": bad JSON"));
  return parsed;
}

absl::Status WriteWholeFile(const std::string& path, const std::string& text) {
  RECSHIP_ASSIGN_OR_RETURN(auto file, WritableFile::Create(path));
  RECSHIP_RETURN_IF_ERROR(file->Append(text));
  return file->Close();
}

// Decodes a spec's strings: plain JSON strings (UTF-8) or base64.
absl::StatusOr<std::vector<std::string>> SpecStrings(const json& spec) {
  bool base64 = spec.value("encoding", std::string("plain")) == "base64";
  std::vector<std::string> out;
  for (const auto& item : spec.at("strings")) {
    std::string s = item.get<std::string>();
    if (base64) {
      std::string decoded;
      if (!absl::Base64Unescape(s, &decoded)) {
        return absl::InvalidArgumentError(absl::StrCat("bad base64 string '", s, "'"));
      }
      s = std::move(decoded);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Streams the raw bytes of `data_file` into the open tensor in chunks.
absl::Status StreamFile(BundleWriter& writer, const std::string& data_file) {
  RECSHIP_ASSIGN_OR_RETURN(auto file, OpenRandomAccessFile(data_file));
  std::string chunk;
  for (uint64_t done = 0; done < file->size();) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, file->size() - done));
    chunk.resize(n);
    RECSHIP_RETURN_IF_ERROR(file->Read(done, n, chunk.data()));
    RECSHIP_RETURN_IF_ERROR(writer.Append(chunk));
    done += n;
  }
  return absl::OkStatus();
}

// SPEC: {"num_shards": N, "tensors": [{"name", "dtype", "shape", "shard",
//         "data_file" | "strings" (+ "encoding": "base64"|"plain")}]}.
// A relative data_file is taken relative to the spec's folder.
absl::Status WriteBundle(const std::string& prefix, const std::string& spec_path) {
  RECSHIP_ASSIGN_OR_RETURN(json spec, ReadJsonFile(spec_path));
  BundleWriter::Options options;
  options.num_shards = spec.value("num_shards", 1);
  RECSHIP_ASSIGN_OR_RETURN(auto writer, BundleWriter::Create(prefix, options));
  for (const auto& t : spec.at("tensors")) {
    std::string name = t.at("name").get<std::string>();
    RECSHIP_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(t.at("dtype").get<std::string>()));
    TensorShape shape = t.at("shape").get<TensorShape>();
    int shard = t.value("shard", 0);
    if (dtype == tensorflow::DT_STRING) {
      RECSHIP_ASSIGN_OR_RETURN(std::vector<std::string> strings, SpecStrings(t));
      RECSHIP_RETURN_IF_ERROR(
          writer->Add(name, Tensor::FromStrings(shape, std::move(strings)), shard));
      continue;
    }
    fs::path data_file = t.at("data_file").get<std::string>();
    if (data_file.is_relative()) data_file = fs::path(spec_path).parent_path() / data_file;
    RECSHIP_RETURN_IF_ERROR(writer->BeginTensor(name, dtype, shape, shard));
    RECSHIP_RETURN_IF_ERROR(StreamFile(*writer, data_file.string()));
    RECSHIP_RETURN_IF_ERROR(writer->EndTensor());
  }
  return writer->Finish();
}

// OUTDIR/manifest.json lists {name, dtype, shape, file}; numeric tensors are
// written as raw little-endian bytes, string tensors as a JSON list of base64.
absl::Status ReadBundle(const std::string& prefix, const std::string& out_dir) {
  RECSHIP_ASSIGN_OR_RETURN(auto reader, BundleReader::Open(prefix));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", out_dir, ": ", ec.message()));
  json manifest = json::array();
  int index = 0;
  for (const BundleEntry& entry : reader->entries()) {
    RECSHIP_ASSIGN_OR_RETURN(Tensor tensor, reader->Read(entry.name));
    std::string file =
        absl::StrCat("t", index++, tensor.dtype() == tensorflow::DT_STRING ? ".json" : ".bin");
    std::string contents;
    if (tensor.dtype() == tensorflow::DT_STRING) {
      json strings = json::array();
      for (const std::string& s : tensor.strings()) strings.push_back(absl::Base64Escape(s));
      contents = strings.dump();
    } else {
      contents.assign(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size());
    }
    RECSHIP_RETURN_IF_ERROR(WriteWholeFile((fs::path(out_dir) / file).string(), contents));
    manifest.push_back({{"name", entry.name},
                        {"dtype", DataTypeName(entry.dtype)},
                        {"shape", entry.shape},
                        {"file", file}});
  }
  return WriteWholeFile((fs::path(out_dir) / "manifest.json").string(), manifest.dump(2));
}

absl::Status WriteTFRecords(const std::string& out, const std::string& in) {
  RECSHIP_ASSIGN_OR_RETURN(json records, ReadJsonFile(in));
  RECSHIP_ASSIGN_OR_RETURN(auto writer, TFRecordWriter::Create(out));
  for (const auto& item : records) {
    std::string record;
    if (!absl::Base64Unescape(item.get<std::string>(), &record)) {
      return absl::InvalidArgumentError(absl::StrCat(in, ": a record is not base64"));
    }
    RECSHIP_RETURN_IF_ERROR(writer->Write(record));
  }
  return writer->Close();
}

absl::Status ReadTFRecords(const std::string& in) {
  RECSHIP_ASSIGN_OR_RETURN(auto reader, TFRecordReader::Open(in));
  json records = json::array();
  std::string record;
  for (absl::Status s = reader->Read(&record); !absl::IsOutOfRange(s); s = reader->Read(&record)) {
    RECSHIP_RETURN_IF_ERROR(s);
    records.push_back(absl::Base64Escape(record));
  }
  std::cout << records.dump() << "\n";
  return absl::OkStatus();
}

// ------------------------------------------------------ the test SavedModel

tensorflow::AttrValue TypeAttr(DataType dtype) {
  tensorflow::AttrValue v;
  v.set_type(dtype);
  return v;
}

tensorflow::AttrValue TypeListAttr(DataType dtype) {
  tensorflow::AttrValue v;
  v.mutable_list()->add_type(dtype);
  return v;
}

tensorflow::AttrValue StringAttr(const std::string& s) {
  tensorflow::AttrValue v;
  v.set_s(s);
  return v;
}

tensorflow::AttrValue ShapeAttr(const std::vector<int64_t>& dims) {
  tensorflow::AttrValue v;
  v.mutable_shape();  // A scalar shape still sets the field.
  for (int64_t d : dims) v.mutable_shape()->add_dim()->set_size(d);
  return v;
}

tensorflow::AttrValue BoolAttr(bool b) {
  tensorflow::AttrValue v;
  v.set_b(b);
  return v;
}

tensorflow::AttrValue EmptyListAttr() {
  tensorflow::AttrValue v;
  v.mutable_list();
  return v;
}

tensorflow::NodeDef* AddNode(tensorflow::GraphDef& graph, const std::string& name,
                             const std::string& op, const std::vector<std::string>& inputs) {
  tensorflow::NodeDef* node = graph.add_node();
  node->set_name(name);
  node->set_op(op);
  for (const std::string& input : inputs) node->add_input(input);
  return node;
}

// A string Const: a scalar when `scalar`, else a vector of `values`.
void AddStringConst(tensorflow::GraphDef& graph, const std::string& name,
                    const std::vector<std::string>& values, bool scalar) {
  tensorflow::NodeDef* node = AddNode(graph, name, "Const", {});
  (*node->mutable_attr())["dtype"] = TypeAttr(tensorflow::DT_STRING);
  tensorflow::AttrValue value;
  tensorflow::TensorProto* tensor = value.mutable_tensor();
  tensor->set_dtype(tensorflow::DT_STRING);
  tensor->mutable_tensor_shape();
  if (!scalar)
    tensor->mutable_tensor_shape()->add_dim()->set_size(static_cast<int64_t>(values.size()));
  for (const std::string& s : values) tensor->add_string_val(s);
  (*node->mutable_attr())["value"] = value;
}

tensorflow::TensorInfo Info(const std::string& name, DataType dtype,
                            const std::vector<int64_t>& dims) {
  tensorflow::TensorInfo info;
  info.set_name(name);
  info.set_dtype(dtype);
  for (int64_t d : dims) info.mutable_tensor_shape()->add_dim()->set_size(d);
  return info;
}

// The graph of a TensorFlow 1 export: y = x + w, with `w` restored from
// variables/ by the saver's RestoreV2 and saved by its SaveV2.
tensorflow::GraphDef BuildTestGraph() {
  using tensorflow::DT_FLOAT;
  using tensorflow::DT_STRING;
  tensorflow::GraphDef graph;
  graph.mutable_versions()->set_producer(1087);
  graph.mutable_versions()->set_min_consumer(0);

  auto* x = AddNode(graph, "x", "Placeholder", {});
  (*x->mutable_attr())["dtype"] = TypeAttr(DT_FLOAT);
  (*x->mutable_attr())["shape"] = ShapeAttr({-1, 3});

  auto* w = AddNode(graph, "w", "VarHandleOp", {});
  (*w->mutable_attr())["container"] = StringAttr("");
  (*w->mutable_attr())["shared_name"] = StringAttr("w");
  (*w->mutable_attr())["debug_name"] = StringAttr("w");
  (*w->mutable_attr())["dtype"] = TypeAttr(DT_FLOAT);
  (*w->mutable_attr())["shape"] = ShapeAttr({3});
  (*w->mutable_attr())["allowed_devices"] = EmptyListAttr();

  auto* read = AddNode(graph, "w/Read/ReadVariableOp", "ReadVariableOp", {"w"});
  (*read->mutable_attr())["dtype"] = TypeAttr(DT_FLOAT);

  auto* y = AddNode(graph, "y", "AddV2", {"x", "w/Read/ReadVariableOp"});
  (*y->mutable_attr())["T"] = TypeAttr(DT_FLOAT);

  // The saver: the checkpoint prefix is fed into save/Const.
  AddStringConst(graph, "save/filename/input", {"model"}, /*scalar=*/true);
  for (const auto& [name, input] : {std::pair{"save/filename", "save/filename/input"},
                                    std::pair{"save/Const", "save/filename"}}) {
    auto* node = AddNode(graph, name, "PlaceholderWithDefault", {input});
    (*node->mutable_attr())["dtype"] = TypeAttr(DT_STRING);
    (*node->mutable_attr())["shape"] = ShapeAttr({});
  }

  AddStringConst(graph, "save/SaveV2/tensor_names", {"w"}, /*scalar=*/false);
  AddStringConst(graph, "save/SaveV2/shape_and_slices", {""}, /*scalar=*/false);
  auto* save = AddNode(graph, "save/SaveV2", "SaveV2",
                       {"save/Const", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices",
                        "w/Read/ReadVariableOp"});
  (*save->mutable_attr())["dtypes"] = TypeListAttr(DT_FLOAT);
  auto* saved =
      AddNode(graph, "save/control_dependency", "Identity", {"save/Const", "^save/SaveV2"});
  (*saved->mutable_attr())["T"] = TypeAttr(DT_STRING);

  AddStringConst(graph, "save/RestoreV2/tensor_names", {"w"}, /*scalar=*/false);
  AddStringConst(graph, "save/RestoreV2/shape_and_slices", {""}, /*scalar=*/false);
  auto* restore =
      AddNode(graph, "save/RestoreV2", "RestoreV2",
              {"save/Const", "save/RestoreV2/tensor_names", "save/RestoreV2/shape_and_slices"});
  (*restore->mutable_attr())["dtypes"] = TypeListAttr(DT_FLOAT);
  auto* restored = AddNode(graph, "save/Identity", "Identity", {"save/RestoreV2"});
  (*restored->mutable_attr())["T"] = TypeAttr(DT_FLOAT);
  auto* assign =
      AddNode(graph, "save/AssignVariableOp", "AssignVariableOp", {"w", "save/Identity"});
  (*assign->mutable_attr())["dtype"] = TypeAttr(DT_FLOAT);
  (*assign->mutable_attr())["validate_shape"] = BoolAttr(false);
  AddNode(graph, "save/restore_all", "NoOp", {"^save/AssignVariableOp"});
  return graph;
}

absl::StatusOr<std::vector<float>> ParseFloats(absl::string_view text) {
  std::vector<float> out;
  for (absl::string_view piece : absl::StrSplit(text, ',')) {
    float f;
    if (!absl::SimpleAtof(piece, &f)) {
      return absl::InvalidArgumentError(absl::StrCat("bad float '", piece, "' in --w"));
    }
    out.push_back(f);
  }
  if (out.size() != 3) return absl::InvalidArgumentError("--w needs exactly 3 values");
  return out;
}

absl::Status WriteTestSavedModel(const std::string& export_base, const std::string& version_text,
                                 const std::vector<float>& w) {
  int64_t version;
  if (!absl::SimpleAtoi(version_text, &version)) {
    return absl::InvalidArgumentError(absl::StrCat("bad version '", version_text, "'"));
  }
  RECSHIP_ASSIGN_OR_RETURN(SavedModelWriter writer, SavedModelWriter::Begin(export_base, version));

  RECSHIP_ASSIGN_OR_RETURN(auto variables, BundleWriter::Create(writer.variables_prefix()));
  RECSHIP_RETURN_IF_ERROR(variables->Add("w", Tensor::FromVector<float>({3}, w)));
  RECSHIP_RETURN_IF_ERROR(variables->Finish());

  tensorflow::SavedModel saved_model;
  saved_model.set_saved_model_schema_version(1);
  tensorflow::MetaGraphDef* meta_graph = saved_model.add_meta_graphs();
  meta_graph->mutable_meta_info_def()->add_tags(kServeTag);
  *meta_graph->mutable_graph_def() = BuildTestGraph();

  tensorflow::SaverDef* saver = meta_graph->mutable_saver_def();
  saver->set_filename_tensor_name("save/Const:0");
  saver->set_save_tensor_name("save/control_dependency:0");
  saver->set_restore_op_name("save/restore_all");
  saver->set_max_to_keep(5);
  saver->set_keep_checkpoint_every_n_hours(10000.0f);
  saver->set_version(tensorflow::SaverDef::V2);

  tensorflow::SignatureDef& signature =
      (*meta_graph->mutable_signature_def())[kDefaultServingSignatureKey];
  signature.set_method_name(kPredictMethodName);
  (*signature.mutable_inputs())["x"] = Info("x:0", tensorflow::DT_FLOAT, {-1, 3});
  (*signature.mutable_outputs())["y"] = Info("y:0", tensorflow::DT_FLOAT, {-1, 3});

  RECSHIP_RETURN_IF_ERROR(writer.WriteSavedModel(saved_model));
  RECSHIP_ASSIGN_OR_RETURN(std::string path, writer.Commit());
  std::cout << path << "\n";
  return absl::OkStatus();
}

int Usage() {
  std::cerr << "usage: recship_fmt_tool write-bundle PREFIX SPEC.json\n"
               "       recship_fmt_tool read-bundle PREFIX OUTDIR\n"
               "       recship_fmt_tool write-tfrecord OUT IN.json\n"
               "       recship_fmt_tool read-tfrecord IN\n"
               "       recship_fmt_tool write-test-savedmodel EXPORT_BASE VERSION [--w=A,B,C]\n";
  return 2;
}

absl::Status Run(const std::vector<std::string>& args) {
  const std::string& cmd = args[0];
  if (cmd == "write-bundle" && args.size() == 3) return WriteBundle(args[1], args[2]);
  if (cmd == "read-bundle" && args.size() == 3) return ReadBundle(args[1], args[2]);
  if (cmd == "write-tfrecord" && args.size() == 3) return WriteTFRecords(args[1], args[2]);
  if (cmd == "read-tfrecord" && args.size() == 2) return ReadTFRecords(args[1]);
  if (cmd == "write-test-savedmodel" && (args.size() == 3 || args.size() == 4)) {
    std::vector<float> w = {1.5f, -2.0f, 3.25f};
    if (args.size() == 4) {
      if (!absl::StartsWith(args[3], "--w=")) return absl::InvalidArgumentError("expected --w=");
      RECSHIP_ASSIGN_OR_RETURN(w, ParseFloats(absl::string_view(args[3]).substr(4)));
    }
    return WriteTestSavedModel(args[1], args[2], w);
  }
  return absl::InvalidArgumentError("usage");
}

}  // namespace
}  // namespace recship::tools

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return recship::tools::Usage();
  absl::Status status;
  try {
    status = recship::tools::Run(args);
  } catch (const nlohmann::json::exception& e) {  // A missing or mistyped spec field.
    status = absl::InvalidArgumentError(absl::StrCat("JSON: ", e.what()));
  }
  if (absl::IsInvalidArgument(status) && status.message() == "usage") {
    return recship::tools::Usage();
  }
  if (!status.ok()) {
    std::cerr << "recship_fmt_tool " << args[0] << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}
