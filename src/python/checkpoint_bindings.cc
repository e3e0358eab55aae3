// Training checkpoints as numpy arrays (model/checkpoint.h): a writer that
// streams arrays into a bundle straight from their buffers, and a reader
// whose arrays share the bytes read (or mapped) rather than copying them.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "recship/core/file.h"
#include "recship/format/checkpoint_state.h"
#include "recship/model/checkpoint.h"
#include "src/python/bindings.h"
#include "src/python/numpy_tensor.h"

namespace recship::python {
namespace {

using namespace nb::literals;

// A CheckpointWriter that Python may abandon: dropping it unfinished removes
// what it wrote.
struct PyCheckpointWriter {
  std::unique_ptr<CheckpointWriter> writer;

  CheckpointWriter& Get() {
    if (!writer) {
      ThrowStatus(absl::FailedPreconditionError("the checkpoint writer is finished or closed"));
    }
    return *writer;
  }
};

Tensor ArrayTensor(nb::handle value, const std::string& what) {
  return ValueOrThrow(TensorFromPython(value, what));
}

std::optional<Tensor> OptionalTensor(nb::handle value, const std::string& what) {
  if (value.is_none()) return std::nullopt;
  return ArrayTensor(value, what);
}

void AddTableShard(PyCheckpointWriter& w, const std::string& table, int shard, nb::handle keys,
                   nb::handle values, nb::handle freqs, nb::handle timestamps,
                   std::optional<nb::dict> slots, int data_shard) {
  CheckpointWriter::TableShard data;
  data.keys = ArrayTensor(keys, TableShardTensorName(table, shard, "keys"));
  data.values = ArrayTensor(values, TableShardTensorName(table, shard, "values"));
  data.freqs = OptionalTensor(freqs, TableShardTensorName(table, shard, "freqs"));
  data.timestamps = OptionalTensor(timestamps, TableShardTensorName(table, shard, "timestamps"));
  if (slots) {
    for (auto [name, value] : *slots) {
      std::string slot = nb::cast<std::string>(name);
      data.slots[slot] =
          ArrayTensor(value, TableShardTensorName(table, shard, absl::StrCat("slot-", slot)));
    }
  }
  CheckpointWriter& writer = w.Get();
  absl::Status status;
  {
    nb::gil_scoped_release release;
    status = writer.AddTableShard(table, shard, data, data_shard);
  }
  CheckOk(status);
}

void BindWriter(nb::module_& m) {
  nb::class_<PyCheckpointWriter>(m, "_CheckpointWriter")
      .def(
          "__init__",
          [](PyCheckpointWriter* w, const std::string& model_dir, int64_t step,
             int num_data_shards) {
            CheckpointWriter::Options options{.num_data_shards = num_data_shards};
            new (w) PyCheckpointWriter{
                ValueOrThrow(CheckpointWriter::Create(model_dir, step, options))};
          },
          "model_dir"_a, "step"_a, "num_data_shards"_a = 1)
      .def(
          "add_dense",
          [](PyCheckpointWriter& w, const std::string& name, nb::handle value, int data_shard) {
            Tensor tensor = ArrayTensor(value, name);
            CheckpointWriter& writer = w.Get();
            absl::Status status;
            {
              nb::gil_scoped_release release;
              status = writer.AddDense(name, tensor, data_shard);
            }
            CheckOk(status);
          },
          "name"_a, "value"_a, "data_shard"_a = 0)
      .def("add_table_shard", &AddTableShard, "table"_a, "shard"_a, "keys"_a, "values"_a,
           nb::kw_only(), "freqs"_a = nb::none(), "timestamps"_a = nb::none(),
           "slots"_a = nb::none(), "data_shard"_a = 0)
      .def("finish",
           [](PyCheckpointWriter& w) {
             CheckpointWriter& writer = w.Get();
             absl::StatusOr<std::string> prefix;
             {
               nb::gil_scoped_release release;
               prefix = writer.Finish();
             }
             w.writer.reset();
             return ValueOrThrow(std::move(prefix));
           })
      .def("close", [](PyCheckpointWriter& w) { w.writer.reset(); });
}

nb::dict EntryMap(const CheckpointReader& reader, bool shapes) {
  nb::dict out;
  for (const BundleEntry& e : reader.bundle().entries()) {
    if (shapes) {
      out[e.name.c_str()] = nb::cast(e.shape);
    } else {
      out[e.name.c_str()] = DataTypeName(e.dtype);
    }
  }
  return out;
}

nb::object GetTensor(const CheckpointReader& reader, const std::string& name, bool mmap) {
  absl::StatusOr<Tensor> tensor;
  {
    nb::gil_scoped_release release;
    tensor = mmap ? reader.bundle().Map(name) : reader.bundle().Read(name);
  }
  Tensor value = ValueOrThrow(std::move(tensor));
  return TensorToNumpy(value, value.is_view());
}

void BindReader(nb::module_& m) {
  nb::class_<CheckpointReader>(m, "_CheckpointReader")
      .def_static(
          "open",
          [](const std::string& prefix) {
            absl::StatusOr<std::unique_ptr<CheckpointReader>> opened;
            {
              nb::gil_scoped_release release;
              opened = CheckpointReader::Open(prefix);
            }
            return ValueOrThrow(std::move(opened));
          },
          "prefix"_a)
      .def_prop_ro("prefix", &CheckpointReader::prefix)
      .def_prop_ro("global_step", &CheckpointReader::global_step)
      .def_prop_ro("tables", &CheckpointReader::tables)
      .def("has_tensor", [](const CheckpointReader& r,
                            const std::string& name) { return r.bundle().Find(name) != nullptr; })
      .def("get_variable_to_shape_map", [](const CheckpointReader& r) { return EntryMap(r, true); })
      .def("get_variable_to_dtype_map",
           [](const CheckpointReader& r) { return EntryMap(r, false); })
      .def("get_tensor", &GetTensor, "name"_a, "mmap"_a = false);
  m.def(
      "latest_checkpoint",
      [](const std::string& model_dir) -> std::optional<std::string> {
        absl::StatusOr<std::string> latest = LatestCheckpoint(model_dir);
        if (absl::IsNotFound(latest.status())) return std::nullopt;
        return ValueOrThrow(std::move(latest));
      },
      "checkpoint_dir"_a,
      "The prefix of the newest checkpoint in `checkpoint_dir`, or None when it has none "
      "(tf.train.latest_checkpoint).");
}

}  // namespace

void BindCheckpoint(nb::module_& m) {
  BindWriter(m);
  BindReader(m);
}

}  // namespace recship::python
