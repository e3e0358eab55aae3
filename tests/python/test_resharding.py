"""Re-sharding at export: a checkpoint trained on K parameter servers (or
with rows spread over its shards in no particular order) serves on N shards
(`--num-ps N`, default the spec's num_shards). Judged with TensorFlow's own
checkpoint reader, every id of the checkpoint is in exactly ps_<floor_mod(id,
N)> with its row, and the entry with its N shards predicts what numpy
predicts from the checkpoint; stock TensorFlow loads every shard."""

import json

import numpy as np
import pytest
import tensorflow as tf

from ctr_model import SPEC, make_batch, numpy_predictions
from recship_server import assert_close, outputs_of
from test_distributed import Cluster, MODEL

TABLES = ["user_id", "item_id"]


def rows_of(prefix, table, shards):
    """{id: row} over the given shards of `table` in a checkpoint or export."""
    reader = tf.train.load_checkpoint(str(prefix))
    rows = {}
    for shard in shards:
        keys = reader.get_tensor(f"{table}/shard_{shard}-keys")
        values = reader.get_tensor(f"{table}/shard_{shard}-values")
        for key, row in zip(keys, values):
            assert int(key) not in rows, f"id {key} twice"
            rows[int(key)] = row
    return rows


def scatter_rows(model_dir, num_ps, write_bundle):
    """Rewrites the newest checkpoint with each table's rows moved to random
    shards (no routing at all), every per-row tensor moved alike."""
    reader = tf.train.load_checkpoint(str(model_dir))
    tensors = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    rng = np.random.default_rng(11)
    for table in TABLES:
        parts = sorted({name.split("-", 1)[1] for name in tensors
                        if name.startswith(f"{table}/shard_")})
        joined = {p: np.concatenate([tensors.pop(f"{table}/shard_{s}-{p}")
                                     for s in range(num_ps)]) for p in parts}
        home = rng.integers(0, num_ps, len(joined["keys"]))
        for s in range(num_ps):
            for p in parts:
                tensors[f"{table}/shard_{s}-{p}"] = joined[p][home == s]
    prefix = model_dir / "model.ckpt-9"
    write_bundle(prefix, tensors)
    (model_dir / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-9"\n')
    return prefix


@pytest.mark.parametrize("trained,served,scatter", [(2, None, False), (4, 3, False),
                                                    (4, 8, False), (3, 3, True)])
def test_any_checkpoint_serves_on_any_number_of_shards(recship, tmp_path, write_bundle, trained,
                                                       served, scatter):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 3000, "--num-ps", trained)
    checkpoint = (scatter_rows(model_dir, trained, write_bundle) if scatter
                  else model_dir / "model.ckpt-2")
    base = tmp_path / "export"
    flags = ["--num-ps", served] if served else []
    out = json.loads(recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                                "--export-dir-base", base, "--mode", "distributed",
                                "--shared-embedding", "--global-step", 5, "--json",
                                *flags).stdout)
    n = served or json.loads(SPEC.read_text())["tables"][0]["num_shards"]
    assert sorted(out["resharded_tables"]) == sorted(TABLES)
    assert [s["name"] for s in out["sub_models"]] == [f"ps_{i}" for i in range(n)] + ["entry"]
    assert not list(base.glob("temp-*")), "the re-sharded checkpoint was not removed"
    for table in TABLES:
        want = rows_of(checkpoint, table, range(trained))
        got = {}
        for i in range(n):
            shard = rows_of(base / f"ps_{i}" / "5" / "variables" / "variables", table, [i])
            assert all(key % n == i for key in shard), f"{table}: an id on ps_{i} routes elsewhere"
            got.update(shard)
        assert got.keys() == want.keys()
        for key, row in want.items():
            np.testing.assert_array_equal(got[key], row)
    tf.saved_model.load(str(base / "ps_0" / "5"))  # Stock TensorFlow loads a shard.

    cluster = Cluster(recship, base, tmp_path, num_ps=n)
    try:
        feed, bags = make_batch(256, np.random.default_rng(3))
        assert_close(outputs_of(cluster.entry.predict(MODEL, feed))["prediction"],
                     numpy_predictions(checkpoint, feed, bags, any_sharding=True))
    finally:
        cluster.stop()


def test_a_checkpoint_already_sharded_so_is_shared_not_rewritten(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 1000, "--num-ps", 3)
    out = json.loads(recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                                "--export-dir-base", tmp_path / "export", "--mode", "distributed",
                                "--shared-embedding", "--num-ps", 3, "--json").stdout)
    assert out["resharded_tables"] == []
    assert all(s["shared_by"] == "hard link" for s in out["sub_models"] if s["name"] != "entry")
