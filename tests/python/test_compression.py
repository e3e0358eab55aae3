"""Compressed embeddings (`--embedding-dtype float16|bfloat16|int8`). Judged
independently of recship: numpy re-encodes the checkpoint's rows and must find
exactly the words the export stores; stock TensorFlow (both loaders) and
`recship serve` predict what numpy predicts from the decoded rows; against the
float32 model, predictions stay within each dtype's error budget. Distributed,
the entry with its compressed shards predicts the same, and TensorFlow serves
a shard's `lookup` signature as float rows."""

import json

import numpy as np
import pytest
import tensorflow as tf

from ctr_model import SPEC, make_batch, numpy_predictions, predict_tf1, predict_tf2
from recship_server import assert_close, outputs_of
from test_distributed import MODEL, Cluster

TABLES = ["user_id", "item_id"]
DIM = 8
# Max relative error of predictions against float32 (sigmoid outputs).
BUDGET = {"float16": 1e-3, "bfloat16": 4e-3, "int8": 2e-2}


def bfloat16_bits(x):
    """Round to nearest even, as TensorFlow and Eigen convert float32."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def encode(dtype, rows):
    """rows float32 [N, dim] -> the int32 words of format/embedding_dtype.h."""
    n, dim = rows.shape
    if dtype in ("float16", "bfloat16"):
        halves = np.zeros((n, (dim + 1) // 2 * 2), np.uint16)
        halves[:, :dim] = (rows.astype(np.float16).view(np.uint16) if dtype == "float16"
                           else bfloat16_bits(rows))
        return halves.view(np.int32)
    scale = (np.abs(rows).max(axis=1) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(scale[:, None] > 0, np.rint(rows / scale[:, None]), 0)
    packed = np.zeros((n, (dim + 3) // 4 * 4), np.int8)
    packed[:, :dim] = np.clip(q, -127, 127).astype(np.int8)
    return np.concatenate([scale.view(np.int32)[:, None], packed.view(np.int32)], axis=1)


def decode(dtype, words, dim):
    if dtype == "float16":
        return words.view(np.float16)[:, :dim].astype(np.float32)
    if dtype == "bfloat16":
        bits = words.view(np.uint16)[:, :dim].astype(np.uint32) << 16
        return bits.view(np.float32)
    scale = words[:, :1].copy().view(np.float32)
    return words[:, 1:].copy().view(np.int8)[:, :dim].astype(np.float32) * scale


def stored_tables(prefixes):
    """{table: {id: stored words}} over the exports' variables."""
    out = {t: {} for t in TABLES}
    for prefix in prefixes:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            table, _, rest = name.partition("/shard_")
            if table in out and rest.endswith("-keys"):
                values = reader.get_tensor(name[:-len("keys")] + "values")
                out[table].update(zip(map(int, reader.get_tensor(name)), values))
    return out


def checkpoint_tables(prefix):
    reader = tf.train.load_checkpoint(str(prefix))
    out = {}
    for table in TABLES:
        keys, rows = [], []
        for name in reader.get_variable_to_shape_map():
            if name.startswith(f"{table}/shard_") and name.endswith("-keys"):
                keys.append(reader.get_tensor(name))
                rows.append(reader.get_tensor(name[:-len("keys")] + "values"))
        out[table] = (np.concatenate(keys), np.concatenate(rows))
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int8"])
def test_compressed_exports_store_encoded_rows_and_predict_like_numpy(
        recship, serve, model_dir, tmp_path, dtype):
    checkpoint = model_dir / "model.ckpt-2"
    base = tmp_path / "export"
    out = json.loads(recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                                "--export-dir-base", base, "--embedding-dtype", dtype,
                                "--global-step", 3, "--json").stdout)
    assert out["embedding_dtype"] == dtype
    export = base / "3"

    # The stored words are numpy's encoding of the checkpoint's rows.
    stored = stored_tables([export / "variables" / "variables"])
    decoded = {}
    for table, (keys, rows) in checkpoint_tables(checkpoint).items():
        want = encode(dtype, rows)
        got = np.stack([stored[table][int(k)] for k in keys])
        assert got.dtype == np.int32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=table)
        decoded[table] = dict(zip(map(int, keys), decode(dtype, want, DIM)))

    inspect = json.loads(recship.ok("inspect", export, "--json").stdout)
    assert {t: v["embedding_dtype"] for t, v in
            inspect["meta_graphs"][0]["tables"].items()} == {t: dtype for t in TABLES}

    feed, bags = make_batch(256, np.random.default_rng(4))
    want = numpy_predictions(checkpoint, feed, bags, decoded)
    assert_close(predict_tf1(export, feed), want)
    assert_close(predict_tf2(export, feed), want)
    server = serve("--model_name", "ctr", "--model_base_path", base)
    assert_close(outputs_of(server.predict("ctr", feed))["prediction"], want)
    float32 = numpy_predictions(checkpoint, feed, bags)
    assert np.max(np.abs(want - float32) / np.abs(float32)) <= BUDGET[dtype]


def test_compressed_shards_serve_float_rows_to_the_entry(recship, model_dir, tmp_path):
    checkpoint = model_dir / "model.ckpt-2"
    base = tmp_path / "export"
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
               "--mode", "distributed", "--embedding-dtype", "int8", "--global-step", 4)
    decoded = {}
    for table, (keys, rows) in checkpoint_tables(checkpoint).items():
        decoded[table] = dict(zip(map(int, keys), decode("int8", encode("int8", rows), DIM)))

    # Stock TensorFlow serves a shard's lookup signature as float rows.
    shard = tf.saved_model.load(str(base / "ps_1" / "4"))
    ids = np.array([k for k in decoded["user_id"] if k % 4 == 1][:5] + [10**12 + 1], np.int64)
    rows = shard.signatures["lookup"](**{t: tf.constant(ids if t == "user_id" else ids[:0])
                                         for t in TABLES})["user_id"].numpy()
    np.testing.assert_array_equal(rows[:-1], [decoded["user_id"][int(k)] for k in ids[:-1]])
    np.testing.assert_array_equal(rows[-1], np.zeros(DIM, np.float32))

    cluster = Cluster(recship, base, tmp_path)
    try:
        feed, bags = make_batch(256, np.random.default_rng(6))
        assert_close(outputs_of(cluster.entry.predict(MODEL, feed))["prediction"],
                     numpy_predictions(checkpoint, feed, bags, decoded))
    finally:
        cluster.stop()


def test_an_unknown_embedding_dtype_names_the_flag(recship, model_dir, tmp_path):
    result = recship.run("export", "--model", SPEC, "--model-dir", model_dir,
                         "--export-dir-base", tmp_path / "export", "--embedding-dtype", "int4")
    assert result.returncode != 0 and "--embedding-dtype" in result.stderr, result.stderr
    assert not (tmp_path / "export").exists()
    # A delta stores rows as its version does: the flag is refused, naming it.
    result = recship.run("export", "--mode", "delta", "--model-dir", model_dir,
                         "--export-dir-base", tmp_path / "export", "--embedding-dtype", "int8")
    assert result.returncode == 1 and "--embedding-dtype does not apply" in result.stderr
    assert not (tmp_path / "export").exists()


def decoded_tables(checkpoint, dtype):
    """{table: {id: row as the export decodes it}} of a checkpoint."""
    return {table: dict(zip(map(int, keys), decode(dtype, encode(dtype, rows), DIM)))
            for table, (keys, rows) in checkpoint_tables(checkpoint).items()}


def test_deltas_and_pushes_carry_rows_as_the_version_stores_them(recship, serve, tmp_path,
                                                                 write_bundle):
    from test_deltas import (BASE_VERSION, export_delta, export_serve_and_sync,
                             predictions_become, probe_batch, train_step, wait_for)

    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 2000, "--num-ps", 4)
    base = tmp_path / "standalone"
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
               "--global-step", BASE_VERSION, "--embedding-dtype", "int8")
    server = serve("--model_name", "ctr", "--model_base_path", base,
                   "--file_system_poll_wait_seconds", "0.2")
    rng = np.random.default_rng(8)
    added, dropped = train_step(model_dir, 10, rng, write_bundle)
    (delta,) = export_delta(recship, model_dir, base)
    # 1% of 2000 rows changed, 12 added and 8 dropped per table: only rows
    # whose int8 encoding changed are carried.
    assert all(12 <= delta["tables"][t]["rows"] <= 12 + 4 * 6 for t in TABLES), delta
    wait_for(server, "delta-000001 applied")
    feed, bags = probe_batch(rng, added, dropped)
    checkpoint = model_dir / "model.ckpt-10"
    assert_close(outputs_of(server.predict("ctr", feed))["prediction"],
                 numpy_predictions(checkpoint, feed, bags, decoded_tables(checkpoint, "int8")))

    # Distributed, float16 shards, rows pushed by `recship sync`.
    model_dir = tmp_path / "model_sync"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 2000, "--num-ps", 4)
    cluster, sync, log = export_serve_and_sync(recship, model_dir, tmp_path, "--embedding-dtype",
                                               "float16")
    try:
        added, dropped = train_step(model_dir, 10, rng, write_bundle)
        feed, bags = probe_batch(rng, added, dropped)
        checkpoint = model_dir / "model.ckpt-10"
        predictions_become(cluster.entry, feed, numpy_predictions(
            checkpoint, feed, bags, decoded_tables(checkpoint, "float16")))
    finally:
        sync.terminate()
        assert sync.wait(10) == 0, log.read_text()
        cluster.stop()
