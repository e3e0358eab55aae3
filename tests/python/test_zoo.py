"""Every architecture of the model zoo (examples/*.json), judged by TensorFlow
and numpy: synthesized, exported standalone and distributed; the standalone
SavedModel and each ps_i load in stock TensorFlow; served by recship (the
standalone exports from one process, every shard from another, the entries
from a third), the predictions equal TensorFlow's and numpy's."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_DIR
from recship_server import Server, assert_close, outputs_of
from zoo_model import load_spec, make_batch, numpy_predictions, predict_tf1, read_table

ARCHITECTURES = ["ctr", "wide_deep", "deepfm", "dcn_v2", "mmoe", "shared_bottom"]
IDS = 2000


class Model:
    """One architecture: its spec, training folder and exports."""

    def __init__(self, recship, name, root):
        self.spec_path = REPO_DIR / "examples" / f"{name}.json"
        self.spec = load_spec(self.spec_path)
        self.name = self.spec["name"]
        self.model_dir = root / "model"
        recship.ok("synth", "--model", self.spec_path, "--out", self.model_dir, "--ids", IDS)
        self.checkpoint = self.model_dir / "model.ckpt-2"
        out = recship.ok("export", "--model", self.spec_path, "--model-dir", self.model_dir,
                         "--export-dir-base", root / "standalone", "--global-step", 1,
                         "--json").stdout
        self.standalone = json.loads(out)["paths"][0]
        out = recship.ok("export", "--model", self.spec_path, "--model-dir", self.model_dir,
                         "--export-dir-base", root / "distributed", "--mode", "distributed",
                         "--global-step", 1, "--json").stdout
        self.sub_models = {s["name"]: s["path"] for s in json.loads(out)["sub_models"]}
        self.outputs = ([t["name"] for t in self.spec["architecture"]["tasks"]]
                        if "tasks" in self.spec["architecture"] else ["prediction"])

    def shards(self):
        return sorted(n for n in self.sub_models if n.startswith("ps_"))


@pytest.fixture(scope="module")
def zoo(recship, tmp_path_factory):
    return {name: Model(recship, name, tmp_path_factory.mktemp(name)) for name in ARCHITECTURES}


def write_config(path, models):
    """A ModelServerConfig text file serving {name: base_path}."""
    entries = "".join(f'  config {{ name: "{name}" base_path: "{base}" '
                      f'model_platform: "tensorflow" }}\n' for name, base in models.items())
    path.write_text(f"model_config_list {{\n{entries}}}\n")
    return path


@pytest.fixture(scope="module")
def servers(recship, zoo, tmp_path_factory):
    logs = tmp_path_factory.mktemp("zoo_servers")
    standalone = {m.name: m.standalone.rsplit("/", 1)[0] for m in zoo.values()}
    shards = {f"{m.name}:{ps}": m.sub_models[ps].rsplit("/", 1)[0]
              for m in zoo.values() for ps in m.shards()}
    entries = {m.name: m.sub_models["entry"].rsplit("/", 1)[0] for m in zoo.values()}
    started = []
    try:
        for name, models in [("standalone", standalone), ("shards", shards)]:
            config = write_config(logs / f"{name}.config", models)
            started.append(Server(recship.path, ["--model_config_file", config],
                                  logs / f"{name}.log"))
        config = write_config(logs / "entries.config", entries)
        started.append(Server(recship.path, ["--model_config_file", config,
                                             "--remote_address_template", started[1].address],
                              logs / "entries.log"))
        yield {"standalone": started[0], "entry": started[2]}
    finally:
        codes = [s.stop() for s in started]
    assert codes == [0] * len(codes), [s.log() for s in started]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_standalone_in_tensorflow_equals_numpy(zoo, name):
    model = zoo[name]
    rng = np.random.default_rng(1)
    for batch in [1, 300]:
        feed = make_batch(model.spec, batch, rng)
        want = numpy_predictions(model.spec, model.checkpoint, feed)
        got = predict_tf1(model.standalone, feed, model.outputs)
        assert sorted(got) == sorted(want)
        for output in want:
            assert got[output].shape == want[output].shape
            assert_close(got[output], want[output])
        # The inputs matter: the synthetic weights make predictions vary.
        if batch > 1:
            assert np.ptp(want[model.outputs[0]]) > 1e-3


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_shard_in_tensorflow_looks_up_its_checkpoint_rows(zoo, name):
    model = zoo[name]
    reader = tf.train.load_checkpoint(str(model.checkpoint))
    tables = {t["name"]: t for t in model.spec["tables"]}
    ids = np.concatenate([np.arange(-30, 30), [10**12, -10**12]]).astype(np.int64)
    assert model.shards() == [f"ps_{i}" for i in range(max(t["num_shards"]
                                                            for t in tables.values()))]
    for ps in model.shards():
        shard = int(ps[3:])
        with tf.compat.v1.Session(graph=tf.Graph()) as sess:
            meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], model.sub_models[ps])
            lookup = meta.signature_def["lookup"]
            on_shard = {n for n, t in tables.items() if shard < t["num_shards"]}
            assert set(lookup.inputs) == on_shard
            got = sess.run({n: lookup.outputs[n].name for n in on_shard},
                           {lookup.inputs[n].name: ids for n in on_shard})
        for table in on_shard:
            rows = read_table(reader, table, tables[table]["num_shards"])
            zero = np.zeros(tables[table]["dim"])
            want = np.stack([rows.get(int(i), zero) if i % tables[table]["num_shards"] == shard
                             else zero for i in ids])
            np.testing.assert_allclose(got[table], want, rtol=0, atol=0)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_served_standalone_and_distributed_equal_tensorflow_and_numpy(zoo, servers, name):
    model = zoo[name]
    rng = np.random.default_rng(2)
    for batch in [1, 64]:
        feed = make_batch(model.spec, batch, rng)
        want = numpy_predictions(model.spec, model.checkpoint, feed)
        tf_out = predict_tf1(model.standalone, feed, model.outputs)
        for layout in ["standalone", "entry"]:
            got = outputs_of(servers[layout].predict(model.name, feed))
            assert sorted(got) == sorted(want), layout
            for output in want:
                assert_close(got[output], want[output])
                assert_close(got[output], tf_out[output])
