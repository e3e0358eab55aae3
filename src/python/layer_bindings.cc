// The layers of model/layers.h as Python functions: variables restored from
// the checkpoint by name, dense layers, embeddings and sharded hash
// embedding tables with bag pooling.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/model/layers.h"
#include "src/python/bindings.h"
#include "src/python/current_scope.h"
#include "src/python/graph_values.h"

namespace recship::python {
namespace {

using namespace nb::literals;

Activation ActivationOf(std::optional<std::string> name) {
  return ValueOrThrow(ParseActivation(name.value_or("none")));
}

void BindHashTable(nb::module_& m) {
  nb::class_<HashTableSpec>(m, "HashTable",
                            "An embedding table keyed by int64 id, trained on `num_shards` "
                            "parameter servers (id x on shard floor_mod(x, num_shards)). Its "
                            "rows come from the checkpoint's <name>/shard_<i>-keys and -values.")
      .def(
          "__init__",
          [](HashTableSpec* t, std::string name, int64_t dim, int num_shards) {
            new (t) HashTableSpec{std::move(name), dim, num_shards};
          },
          "name"_a, "dim"_a, "num_shards"_a = 1)
      .def_ro("name", &HashTableSpec::name)
      .def_ro("dim", &HashTableSpec::dim)
      .def_ro("num_shards", &HashTableSpec::num_shards)
      .def("__repr__", [](const HashTableSpec& t) {
        return absl::StrCat("HashTable('", t.name, "', dim=", t.dim, ", num_shards=", t.num_shards,
                            ")");
      });
}

void BindTableLayers(nb::module_& m) {
  m.def(
      "hash_embedding_lookup",
      [](const HashTableSpec& table, const Output& ids) {
        const Scope& s = CurrentScope();
        return Checked(s, HashEmbeddingLookup(s, table, ids));
      },
      "table"_a, "ids"_a,
      "The vectors of `ids` (int64, any shape S) as float [S..., dim]; unseen ids give "
      "zeros. Distributed exports look them up on the shards.");
  m.def(
      "hash_embedding_bag",
      [](const HashTableSpec& table, nb::handle feature, const std::string& combiner) {
        const Scope& s = CurrentScope();
        Combiner c = ValueOrThrow(ParseCombiner(combiner));
        return Checked(s, HashEmbeddingBag(s, table, FeatureOf(feature), c));
      },
      "table"_a, "feature"_a, "combiner"_a = "sum",
      nb::sig("def hash_embedding_bag(table: HashTable, feature: Output | Feature, "
              "combiner: str = 'sum') -> Output"),
      "One vector per row: a single id's (an Output), or a bag's (a Feature) pooled with "
      "`combiner` (sum, mean or sqrtn); an empty bag gives zeros. float [batch, dim].");
}

void BindDenseLayers(nb::module_& m) {
  m.def(
      "variable",
      [](const std::string& name, std::vector<int64_t> shape, nb::handle dtype) {
        const Scope& s = CurrentScope();
        return Checked(s, Variable(s, name, ParseDtype(dtype), shape));
      },
      "name"_a, "shape"_a, "dtype"_a = "float32",
      "The value of variable <scope>/<name>, restored from the checkpoint tensor of that "
      "name.");
  m.def(
      "dense",
      [](const Output& x, int64_t units, std::optional<std::string> activation,
         const std::string& name) {
        const Scope& s = CurrentScope();
        return Checked(s, Dense(s, x, units, ActivationOf(activation), name));
      },
      "inputs"_a, "units"_a, "activation"_a = nb::none(), "name"_a = "dense",
      "activation(x · kernel + bias), with variables <scope>/<name>/kernel [in, units] and "
      "<scope>/<name>/bias [units] (tf.compat.v1.layers.dense's names).");
  m.def(
      "embedding",
      [](const Output& ids, int64_t vocab, int64_t dim, const std::string& name) {
        const Scope& s = CurrentScope();
        return Checked(s, Embedding(s, ids, vocab, dim, name));
      },
      "ids"_a, "vocab_size"_a, "dim"_a, "name"_a = "embedding",
      "Rows of the float variable <scope>/<name>/embeddings [vocab_size, dim].");
  m.def(
      "activate",
      [](const Output& x, std::optional<std::string> activation) {
        const Scope& s = CurrentScope();
        return Checked(s, Activate(s, x, ActivationOf(activation)));
      },
      "x"_a, "activation"_a, "x through an activation named none, relu, sigmoid, tanh or softmax.");
}

}  // namespace

void BindLayers(nb::module_& m) {
  BindHashTable(m);
  BindTableLayers(m);
  BindDenseLayers(m);
}

}  // namespace recship::python
