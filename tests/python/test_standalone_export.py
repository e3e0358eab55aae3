"""StandaloneExporter, judged by TensorFlow: `recship synth` writes a CTR
training folder (examples/ctr.json), `recship export` exports it, and both of
TensorFlow's loaders must predict what numpy computes from the checkpoint's
own tensors, for unseen, negative and zero ids and empty bags."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_DIR

SPEC = REPO_DIR / "examples" / "ctr.json"
NUM_PS = 4
DIM = 8


@pytest.fixture(scope="module")
def model_dir(recship, tmp_path_factory):
    out = tmp_path_factory.mktemp("ctr") / "model"
    recship.ok("synth", "--model", SPEC, "--out", out, "--ids", 2000, "--num-ps", NUM_PS)
    return out


def read_table(reader, name):
    table = {}
    for shard in range(NUM_PS):
        keys = reader.get_tensor(f"{name}/shard_{shard}-keys")
        values = reader.get_tensor(f"{name}/shard_{shard}-values")
        assert np.all(np.mod(keys, NUM_PS) == shard), "synth put an id on the wrong shard"
        table.update({int(k): v for k, v in zip(keys, values)})
    return table


def make_batch(batch, rng):
    """Features for `batch` rows: known, unseen, negative and zero ids, empty bags."""
    known = np.concatenate([np.arange(-20, 21), rng.integers(-4000, 4000, 200)])
    pick = lambda n: np.where(rng.random(n) < 0.8, rng.choice(known, n),
                              rng.integers(10**9, 10**10, n)).astype(np.int64)
    bags = [list(pick(rng.integers(0, 4))) for _ in range(batch)]
    if batch > 1:
        bags[1] = []
        bags[0] = [0, 0, -3]
    indices = np.array([[r, j] for r, bag in enumerate(bags) for j in range(len(bag))],
                       np.int64).reshape(-1, 2)
    return {
        "user_id": pick(batch),
        "item_id": pick(batch),
        "context": rng.standard_normal((batch, 4)).astype(np.float32),
        "clicked_items_indices": indices,
        "clicked_items_values": np.array([x for bag in bags for x in bag], np.int64),
        "clicked_items_dense_shape": np.array([batch, max(map(len, bags))], np.int64),
    }, bags


def numpy_predictions(checkpoint, feed, bags):
    reader = tf.train.load_checkpoint(str(checkpoint))
    users, items = read_table(reader, "user_id"), read_table(reader, "item_id")
    zero = np.zeros(DIM, np.float32)
    lookup = lambda table, ids: np.stack([table.get(int(i), zero) for i in ids])
    pooled = np.stack([np.mean([items.get(int(i), zero) for i in bag], 0) if bag else zero
                       for bag in bags])
    x = np.concatenate([lookup(users, feed["user_id"]), pooled,
                        lookup(items, feed["item_id"]), feed["context"]], 1).astype(np.float64)
    for layer in ["mlp/dense_0", "mlp/dense_1"]:
        x = np.maximum(x @ reader.get_tensor(f"{layer}/kernel") + reader.get_tensor(f"{layer}/bias"), 0)
    logits = x @ reader.get_tensor("mlp/logits/kernel") + reader.get_tensor("mlp/logits/bias")
    return 1 / (1 + np.exp(-logits))


def predict_tf2(export, feed):
    model = tf.saved_model.load(str(export))
    outputs = model.signatures["serving_default"](**{k: tf.constant(v) for k, v in feed.items()})
    return outputs["prediction"].numpy()


def predict_tf1(export, feed):
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(export))
        signature = meta_graph.signature_def["serving_default"]
        assert signature.method_name == "tensorflow/serving/predict"
        return sess.run(signature.outputs["prediction"].name,
                        {signature.inputs[k].name: v for k, v in feed.items()})


def export(recship, model_dir, base, *flags):
    return recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                      "--export-dir-base", base, "--mode", "standalone", *flags).stdout.strip()


@pytest.mark.parametrize("shared", [False, True], ids=["copy", "shared"])
@pytest.mark.parametrize("batch", [1, 1000])
def test_export_predicts_like_numpy(recship, model_dir, tmp_path, shared, batch):
    path = export(recship, model_dir, tmp_path / "export",
                  *(["--shared-embedding"] if shared else []))
    feed, bags = make_batch(batch, np.random.default_rng(batch))
    want = numpy_predictions(model_dir / "model.ckpt-2", feed, bags)
    assert want.shape == (batch, 1)
    np.testing.assert_allclose(predict_tf2(path, feed), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_tf1(path, feed), want, rtol=1e-5, atol=1e-6)
    if batch > 1:
        assert np.std(want) > 1e-3, "predictions should vary with the inputs"


def test_export_holds_only_serving_tensors(recship, model_dir, tmp_path):
    path = export(recship, model_dir, tmp_path / "export")
    names = {name for name, _ in tf.train.list_variables(f"{path}/variables/variables")}
    assert names, "the export has no variables"
    assert not [n for n in names if n.endswith(("-freqs", "-timestamps")) or "-slot-" in n]
    assert not [n for n in names if n == "global_step"]
    checkpoint = {name for name, _ in tf.train.list_variables(str(model_dir / "model.ckpt-2"))}
    assert names == {n for n in checkpoint
                     if n.endswith(("-keys", "-values")) or n.startswith("mlp/")}


def test_shared_export_outlives_its_checkpoint(recship, model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    path = export(recship, copy, tmp_path / "export", "--shared-embedding", "--global-step", 7)
    feed, bags = make_batch(16, np.random.default_rng(3))
    want = numpy_predictions(copy / "model.ckpt-2", feed, bags)
    shutil.rmtree(copy)
    assert path.endswith("/7")
    np.testing.assert_allclose(predict_tf1(path, feed), want, rtol=1e-5, atol=1e-6)


def test_export_older_checkpoint_and_never_overwrite(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    path = export(recship, model_dir, base, "--checkpoint", model_dir / "model.ckpt-1",
                  "--global-step", 1)
    feed, bags = make_batch(8, np.random.default_rng(5))
    np.testing.assert_allclose(predict_tf1(path, feed),
                               numpy_predictions(model_dir / "model.ckpt-1", feed, bags),
                               rtol=1e-5, atol=1e-6)
    again = recship.fails("export", "--model", SPEC, "--model-dir", model_dir,
                          "--export-dir-base", base, "--global-step", 1)
    assert "already exists" in again.stderr
    assert sorted(p.name for p in base.iterdir()) == ["1"]


def test_export_errors_leave_nothing_behind(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    missing = recship.fails("export", "--model", SPEC, "--model-dir", tmp_path / "nothing",
                            "--export-dir-base", base)
    assert "no checkpoint" in missing.stderr
    # A spec whose table dim differs from the checkpoint's: a shape mismatch.
    spec = tmp_path / "wrong.json"
    spec.write_text(SPEC.read_text().replace('"dim": 8, "num_shards": 4}', '"dim": 6, "num_shards": 4}', 1))
    mismatch = recship.fails("export", "--model", spec, "--model-dir", model_dir,
                             "--export-dir-base", base)
    assert "user_id/shard_0-values" in mismatch.stderr
    assert not base.exists() or not any(base.iterdir())
