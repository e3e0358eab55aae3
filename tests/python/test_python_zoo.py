"""Exporting a JSON spec from Python writes the same bytes as `recship
export` with the same options (the version pinned), and a Python model_fn
that builds the CTR example layer by layer writes the same graph as the
built-in architecture."""

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_DIR
from recship import layers, ops, zoo
from recship.estimator import EstimatorSpec, Feature, ServingInputReceiver
from recship.model_export import DistributedExporter, StandaloneExporter

SPECS = ["ctr", "deepfm", "mmoe"]


@pytest.fixture(scope="module")
def model_dirs(recship, tmp_path_factory):
    out = {}
    for name in SPECS:
        model_dir = tmp_path_factory.mktemp(f"zoo_{name}") / "model"
        recship.ok("synth", "--model", REPO_DIR / "examples" / f"{name}.json", "--out", model_dir,
                   "--ids", 2000, "--steps", 2)
        out[name] = model_dir
    return out


def assert_same_files(a: Path, b: Path):
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*"))
    names_b = sorted(str(p.relative_to(b)) for p in b.rglob("*"))
    assert names_a == names_b
    assert names_a, f"{a} is empty"
    for name in names_a:
        if (a / name).is_file():
            assert filecmp.cmp(a / name, b / name, shallow=False), f"{name} differs"


# (recship export flags, the same options as Python keywords)
STANDALONE_OPTIONS = {
    "plain": ([], {}),
    "shared": (["--shared-embedding"], {"shared_embedding": True}),
    "float16": (["--embedding-dtype", "float16"], {"embedding_dtype": "float16"}),
    "filtered": (["--min-frequency", 3, "--max-age", "3600s"],
                 {"min_frequency": 3, "max_age_seconds": 3600}),
}


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("options", sorted(STANDALONE_OPTIONS))
def test_standalone_spec_export_matches_the_cli_byte_for_byte(recship, model_dirs, tmp_path, name,
                                                              options):
    flags, kwargs = STANDALONE_OPTIONS[options]
    spec = REPO_DIR / "examples" / f"{name}.json"
    recship.ok("export", "--model", spec, "--model-dir", model_dirs[name], "--export-dir-base",
               tmp_path / "cli", "--global-step", 5, *flags)
    path = StandaloneExporter(zoo.model_fn(spec), model_dirs[name], tmp_path / "py",
                              **kwargs).export_saved_model(zoo.serving_input_receiver_fn(spec),
                                                           global_step=5)
    assert path == str(tmp_path / "py" / "5")
    assert_same_files(tmp_path / "cli", tmp_path / "py")


# Every keyword of DistributedExporter against its flag. The export base is
# named "rec", the model_name the Python exporter defaults to.
DISTRIBUTED_OPTIONS = {
    "parallel": (["--global-step-as-timestamp", "--num-ps", 3, "--include-graphs", "entry",
                  "ps_1", "ps_2"],
                 {"include_graphs": ["entry", "ps_1", "ps_2"], "global_step_as_timestamp": True,
                  "num_ps": 3}),
    "remote_gpu": (["--with-remote-gpu", "--clear-entry-devices", "--pin-versions",
                    "--shared-embedding"],
                   {"with_remote_gpu": True, "clear_entry_devices": True, "pin_versions": True,
                    "shared_embedding": True}),
    "dense_only": (["--dense-only", "--allow-gpu"], {"dense_only": True, "allow_gpu": True}),
    "compressed": (["--embedding-dtype", "int8", "--min-frequency", 2],
                   {"embedding_dtype": "int8", "min_frequency": 2}),
}


@pytest.mark.parametrize("options", sorted(DISTRIBUTED_OPTIONS))
def test_distributed_spec_export_matches_the_cli_byte_for_byte(recship, model_dirs, tmp_path,
                                                               options):
    flags, kwargs = DISTRIBUTED_OPTIONS[options]
    spec = json.loads((REPO_DIR / "examples" / "deepfm.json").read_text())
    model_dir = model_dirs["deepfm"]
    step = [] if kwargs.get("global_step_as_timestamp") else ["--global-step", 7]
    recship.ok("export", "--mode", "distributed", "--model", REPO_DIR / "examples" / "deepfm.json",
               "--model-dir", model_dir, "--export-dir-base", tmp_path / "cli",
               "--model_name", "rec", *step, *flags)
    # A dict spec; model_name is the export base's name when not given.
    exporter = DistributedExporter(zoo.model_fn(spec), model_dir, tmp_path / "rec", **kwargs)
    paths = exporter.export_saved_model(zoo.serving_input_receiver_fn(spec),
                                        global_step=7 if step else None)
    if options == "parallel":
        assert [Path(p).relative_to(tmp_path / "rec").parts for p in paths] == [
            ("ps_1", "2"), ("ps_2", "2"), ("entry", "2")]
        assert exporter.last_summary["version"] == 2
    assert_same_files(tmp_path / "cli", tmp_path / "rec")


def ctr_in_python(features, mode, config):
    """examples/ctr.json's dnn, written with the Python API."""
    user = layers.HashTable("user_id", dim=8, num_shards=4)
    item = layers.HashTable("item_id", dim=8, num_shards=4)
    with ops.name_scope("input_layer"):
        x = ops.concat([layers.hash_embedding_bag(user, features["user_id"]),
                        layers.hash_embedding_bag(item, features["clicked_items"], "mean"),
                        layers.hash_embedding_bag(item, features["item_id"]),
                        features["context"]], axis=1)
    with ops.name_scope("mlp"):
        x = layers.dense(x, 32, "relu", name="dense_0")
        x = layers.dense(x, 16, "relu", name="dense_1")
        logits = layers.dense(x, 1, name="logits")
    with ops.name_scope("head"):
        prediction = ops.identity(ops.sigmoid(logits), name="prediction")
    return EstimatorSpec(mode, predictions={"prediction": prediction})


def ctr_inputs_in_python():
    user_id = ops.placeholder("int64", [None], name="user_id")
    bag = [ops.placeholder("int64", shape, name=f"clicked_items_{part}")
           for part, shape in [("indices", [None, 2]), ("values", [None]), ("dense_shape", [2])]]
    item_id = ops.placeholder("int64", [None], name="item_id")
    context = ops.placeholder("float32", [None, 4], name="context")
    features = {"user_id": user_id, "clicked_items": Feature(*bag), "item_id": item_id,
                "context": context}
    inputs = {"user_id": user_id, "clicked_items_indices": bag[0], "clicked_items_values": bag[1],
              "clicked_items_dense_shape": bag[2], "item_id": item_id, "context": context}
    return ServingInputReceiver(features, inputs)


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_a_python_model_fn_builds_the_zoo_graph_byte_for_byte(recship, model_dirs, tmp_path,
                                                              mode):
    recship.ok("export", "--mode", mode, "--model", REPO_DIR / "examples" / "ctr.json",
               "--model-dir", model_dirs["ctr"], "--export-dir-base", tmp_path / "cli",
               "--global-step", 9)
    if mode == "standalone":
        exporter = StandaloneExporter(ctr_in_python, model_dirs["ctr"], tmp_path / "ctr")
    else:
        exporter = DistributedExporter(ctr_in_python, model_dirs["ctr"], tmp_path / "ctr")
    exporter.export_saved_model(ctr_inputs_in_python, global_step=9)
    assert_same_files(tmp_path / "cli", tmp_path / "ctr")


def test_a_python_model_fn_can_build_on_a_zoo_model(model_dirs, tmp_path):
    spec = REPO_DIR / "examples" / "ctr.json"
    base_fn = zoo.model_fn(spec)

    def calibrated(features, mode, config):
        spec_out = base_fn(features, mode, config)
        p = spec_out.predictions["prediction"]
        return EstimatorSpec(mode, {"prediction": p, "odds": p / (1.0 - p)})

    path = StandaloneExporter(calibrated, model_dirs["ctr"], tmp_path).export_saved_model(
        zoo.serving_input_receiver_fn(spec), global_step=1)
    from zoo_model import make_batch, predict_tf1
    feed = make_batch(json.loads(spec.read_text()), 8, np.random.default_rng(1))
    got = predict_tf1(path, feed, ["prediction", "odds"])
    np.testing.assert_allclose(got["odds"], got["prediction"] / (1 - got["prediction"]),
                               rtol=1e-5)


def test_spec_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"features\[0\]"):
        zoo.model_fn({"name": "x", "tables": [], "features": [{"name": "a", "type": "id"}],
                      "architecture": {"type": "dnn", "hidden_units": [4]}})
    with pytest.raises(FileNotFoundError, match="missing.json"):
        zoo.model_fn(tmp_path / "missing.json")
