"""A CTR training folder written by TensorFlow itself, exported by recship.

A TensorFlow 1 style trainer keeps each embedding-table shard in a
tf.lookup.experimental.MutableHashTable named `<t>/shard_<i>` and checkpoints
everything with tf.compat.v1.train.Saver (DESIGN.md, contract 1). Here real
TensorFlow writes such a folder for examples/ctr.json (two steps, optimizer
slots, freqs and timestamps beside the tables, Adagrad accumulators beside the
dense variables), `recship export` exports it in copy and shared mode, and both
of TensorFlow's loaders must predict what numpy computes from the values this
test wrote: known, unseen, negative, zero and extreme ids, and empty bags.
"""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from test_standalone_export import SPEC, export, make_batch

NUM_PS = 4
DIM = 8
TABLES = ["user_id", "item_id"]
DENSE = {"mlp/dense_0/kernel": (28, 32), "mlp/dense_0/bias": (32,),
         "mlp/dense_1/kernel": (32, 16), "mlp/dense_1/bias": (16,),
         "mlp/logits/kernel": (16, 1), "mlp/logits/bias": (1,)}
INT64_MIN, INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
# Ids in make_batch's "known" range that the tables leave out on purpose.
HOLES = {"user_id": [-7, 2, 11], "item_id": [-13, 5, 17]}
STEPS = [1, 2]


def table_ids(name, rng):
    """Every id of -20..20 but the holes, half of [-4000, 4000), and the int64 extremes."""
    small = [x for x in range(-20, 21) if x not in HOLES[name]]
    sample = rng.choice(np.arange(-4000, 4000), 4000, replace=False)
    ids = np.unique(np.concatenate([small, sample, [INT64_MIN, INT64_MAX]]).astype(np.int64))
    ids = ids[~np.isin(ids, HOLES[name])]
    assert 0 in ids and -3 in ids
    return ids


def make_values(rng, ids):
    """One step's values: {name: array} for dense variables, {table: {id: row}}."""
    dense = {}
    for name, shape in DENSE.items():
        scale = 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.1
        dense[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
    tables = {t: dict(zip(ids[t].tolist(), rng.standard_normal((len(ids[t]), DIM))
                          .astype(np.float32))) for t in TABLES}
    return dense, tables


def shard_of(ids):
    return np.mod(ids, NUM_PS)  # floor-mod: never negative, as contract 1 says


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two training folders written by TensorFlow: one Saver with TensorFlow's
    default absolute paths in `checkpoint`, one with save_relative_paths.
    Returns (absolute dir, relative dir, values of the last step)."""
    root = tmp_path_factory.mktemp("tf_ctr")
    rng = np.random.default_rng(7)
    ids = {t: table_ids(t, rng) for t in TABLES}
    steps = {step: make_values(rng, ids) for step in STEPS}
    assert np.array_equal(tf.math.floormod(ids["user_id"], NUM_PS).numpy(), shard_of(ids["user_id"]))

    graph = tf.Graph()
    with graph.as_default():
        feeds = {}  # placeholder -> function(step values) -> array

        def assigned(name, shape, dtype, value_of):
            var = tf.compat.v1.get_variable(name, shape, dtype,
                                            initializer=tf.compat.v1.zeros_initializer())
            ph = tf.compat.v1.placeholder(dtype, shape)
            feeds[ph] = value_of
            return var.assign(ph)

        updates = []
        for name, shape in DENSE.items():
            updates.append(assigned(name, shape, tf.float32, lambda v, n=name: v[0][n]))
            # What tf.compat.v1.train.AdagradOptimizer names its dense slots.
            updates.append(assigned(name + "/Adagrad", shape, tf.float32,
                                    lambda v, n=name: np.abs(v[0][n]) + 0.1))
        for t in TABLES:
            for shard in range(NUM_PS):
                keys = ids[t][shard_of(ids[t]) == shard]
                n = len(keys)
                table = tf.lookup.experimental.MutableHashTable(
                    tf.int64, tf.float32, default_value=tf.zeros([DIM]), name=f"{t}/shard_{shard}")
                key_ph = tf.compat.v1.placeholder(tf.int64, [None])
                value_ph = tf.compat.v1.placeholder(tf.float32, [None, DIM])
                feeds[key_ph] = lambda v, k=keys: k
                feeds[value_ph] = lambda v, t=t, k=keys: np.stack([v[1][t][x] for x in k.tolist()])
                updates.append(table.insert(key_ph, value_ph))
                prefix = f"{t}/shard_{shard}"
                updates.append(assigned(f"{prefix}-slot-adagrad", (n, DIM), tf.float32,
                                        lambda v, n=n: np.full((n, DIM), 0.5, np.float32)))
                updates.append(assigned(f"{prefix}-freqs", (n,), tf.int64,
                                        lambda v, n=n: np.arange(n, dtype=np.int64)))
                updates.append(assigned(f"{prefix}-timestamps", (n,), tf.int64,
                                        lambda v, n=n: np.full(n, 1700000000, np.int64)))
        global_step = tf.compat.v1.train.get_or_create_global_step()
        step_ph = tf.compat.v1.placeholder(tf.int64, [])
        updates.append(global_step.assign(step_ph))
        absolute = tf.compat.v1.train.Saver()
        relative = tf.compat.v1.train.Saver(save_relative_paths=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step in STEPS:
                feed = {ph: f(steps[step]) for ph, f in feeds.items()}
                feed[step_ph] = step
                sess.run(updates, feed)
                absolute.save(sess, str(root / "abs" / "model.ckpt"), global_step=step)
                relative.save(sess, str(root / "rel" / "model.ckpt"), global_step=step)

    last = steps[STEPS[-1]]
    for folder in ["abs", "rel"]:
        check_what_tensorflow_wrote(root / folder, ids, last)
    return root / "abs", root / "rel", last


def check_what_tensorflow_wrote(model_dir, ids, values):
    """The names, dtypes, shapes and values TensorFlow's Saver wrote: contract 1."""
    prefix = tf.train.latest_checkpoint(str(model_dir))
    assert prefix == str(model_dir / f"model.ckpt-{STEPS[-1]}")
    state = tf.train.get_checkpoint_state(str(model_dir))
    assert len(state.all_model_checkpoint_paths) == len(STEPS)
    shapes = dict(tf.train.list_variables(prefix))
    want = {n: list(s) for n, s in DENSE.items()}
    want.update({n + "/Adagrad": list(s) for n, s in DENSE.items()})
    want["global_step"] = []
    for t in TABLES:
        for shard in range(NUM_PS):
            n = int(np.sum(shard_of(ids[t]) == shard))
            p = f"{t}/shard_{shard}"
            want.update({f"{p}-keys": [n], f"{p}-values": [n, DIM], f"{p}-slot-adagrad": [n, DIM],
                         f"{p}-freqs": [n], f"{p}-timestamps": [n]})
    assert shapes == want
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    assert reader.get_tensor("global_step") == STEPS[-1] and dtypes["global_step"] == tf.int64
    for name in DENSE:
        assert np.array_equal(reader.get_tensor(name), values[0][name])
    for t in TABLES:
        table = {}
        for shard in range(NUM_PS):
            assert dtypes[f"{t}/shard_{shard}-keys"] == tf.int64
            assert dtypes[f"{t}/shard_{shard}-values"] == tf.float32
            keys = reader.get_tensor(f"{t}/shard_{shard}-keys")
            assert np.all(shard_of(keys) == shard)
            table.update(zip(keys.tolist(), reader.get_tensor(f"{t}/shard_{shard}-values")))
        assert table.keys() == values[1][t].keys()
        assert all(np.array_equal(table[k], values[1][t][k]) for k in table)


def edge_batch(rng):
    """Hand-picked rows: zero, negative, extreme, unseen and hole ids; empty
    bags first, in the middle and last; a bag of unseen ids only."""
    users = [0, -3, INT64_MIN, INT64_MAX, -1, -7, -10**15, 10**18, 4, -4, 2, 20]
    items = [INT64_MAX, 0, -13, INT64_MIN, -10**15, 5, -4, 3, 10**18, -20, 17, 0]
    bags = [[], [0, 0, -3], [INT64_MIN, INT64_MAX], [-10**15, 10**18], [-13, 5, 17], [],
            [1, -1, 2, -2, 3, -3, 4, -4], [INT64_MIN], [-13], [0], [7, -7, 10**12], []]
    indices = np.array([[r, j] for r, bag in enumerate(bags) for j in range(len(bag))], np.int64)
    return {
        "user_id": np.array(users, np.int64),
        "item_id": np.array(items, np.int64),
        "context": rng.standard_normal((len(users), 4)).astype(np.float32),
        "clicked_items_indices": indices,
        "clicked_items_values": np.array([x for bag in bags for x in bag], np.int64),
        "clicked_items_dense_shape": np.array([len(bags), max(map(len, bags))], np.int64),
    }, bags


def batches():
    """(name, feed, bags): make_batch's batches of 1 and 1000, and the edge batch."""
    out = [(f"batch {n}", *make_batch(n, np.random.default_rng(100 + n))) for n in (1, 1000)]
    return out + [("edge batch", *edge_batch(np.random.default_rng(9)))]


def numpy_predictions(values, feed, bags):
    """The CTR model in numpy (float64) from the values written to TensorFlow."""
    dense, tables = values
    zero = np.zeros(DIM, np.float32)
    lookup = lambda t, ids: np.stack([tables[t].get(int(i), zero) for i in ids])
    pooled = np.stack([np.mean([tables["item_id"].get(int(i), zero) for i in bag], 0)
                       if bag else zero for bag in bags])
    x = np.concatenate([lookup("user_id", feed["user_id"]), pooled,
                        lookup("item_id", feed["item_id"]), feed["context"]], 1)
    x = x.astype(np.float64)
    for layer in ["mlp/dense_0", "mlp/dense_1"]:
        x = np.maximum(x @ dense[f"{layer}/kernel"] + dense[f"{layer}/bias"], 0)
    logits = x @ dense["mlp/logits/kernel"] + dense["mlp/logits/bias"]
    return 1 / (1 + np.exp(-logits))


def predict_tf1(path, feeds):
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(path))
        signature = meta_graph.signature_def["serving_default"]
        assert signature.method_name == "tensorflow/serving/predict"
        return [sess.run(signature.outputs["prediction"].name,
                         {signature.inputs[k].name: v for k, v in feed.items()})
                for feed in feeds]


def predict_tf2(path, feeds):
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return [serve(**{k: tf.constant(v) for k, v in feed.items()})["prediction"].numpy()
            for feed in feeds]


@pytest.fixture(scope="module")
def exports(recship, trained, tmp_path_factory):
    model_dir = trained[0]
    base = tmp_path_factory.mktemp("tf_ctr_exports")
    return {shared: export(recship, model_dir, base / ("shared" if shared else "copy"),
                           *(["--shared-embedding"] if shared else []))
            for shared in (False, True)}


def test_tensorflow_checkpoint_state_paths(trained):
    """What TensorFlow's Saver put in `checkpoint`: absolute by default, or
    relative with save_relative_paths; recship must read both."""
    absolute, relative, _ = trained
    state = (absolute / "checkpoint").read_text()
    assert f'model_checkpoint_path: "{absolute}/model.ckpt-{STEPS[-1]}"' in state
    state = (relative / "checkpoint").read_text()
    assert f'model_checkpoint_path: "model.ckpt-{STEPS[-1]}"' in state


@pytest.mark.parametrize("loader", [predict_tf1, predict_tf2], ids=["tf1_loader", "tf2_loader"])
@pytest.mark.parametrize("shared", [False, True], ids=["copy", "shared"])
def test_export_of_tf_checkpoint_predicts_like_numpy(trained, exports, shared, loader):
    values = trained[2]
    cases = batches()
    got = loader(exports[shared], [feed for _, feed, _ in cases])
    for (name, feed, bags), prediction in zip(cases, got):
        want = numpy_predictions(values, feed, bags)
        assert want.shape == (len(bags), 1)
        np.testing.assert_allclose(prediction, want, rtol=1e-5, atol=1e-6, err_msg=name)
        if len(bags) > 1:
            assert np.std(want) > 1e-3, f"{name}: predictions should vary with the inputs"


def test_export_of_tf_checkpoint_holds_only_serving_tensors(exports):
    want = set(DENSE) | {f"{t}/shard_{i}-{part}" for t in TABLES for i in range(NUM_PS)
                         for part in ("keys", "values")}
    for shared, path in exports.items():
        names = {name for name, _ in tf.train.list_variables(f"{path}/variables/variables")}
        assert not [n for n in names if "slot" in n or "Adagrad" in n], f"shared={shared}"
        assert names == want, f"shared={shared}"


def test_export_of_moved_folder_with_relative_state(recship, trained, tmp_path):
    """A folder whose TensorFlow-written state holds relative paths is moved
    before the export: the paths resolve against the folder's new place."""
    moved = tmp_path / "moved"
    shutil.copytree(trained[1], moved)
    path = export(recship, moved, tmp_path / "export", "--shared-embedding")
    shutil.rmtree(moved)
    name, feed, bags = batches()[-1]
    np.testing.assert_allclose(predict_tf1(path, [feed])[0],
                               numpy_predictions(trained[2], feed, bags), rtol=1e-5, atol=1e-6)
