"""The CTR model of examples/ctr.json, as the interop tests use it: exporting
it, feeding it edge-case batches, and predicting with numpy (from the
checkpoint's own tensors) and with TensorFlow's TF1 and TF2 loaders."""

import numpy as np
import tensorflow as tf

import zoo_model
from conftest import REPO_DIR

SPEC = REPO_DIR / "examples" / "ctr.json"
NUM_PS = 4
DIM = 8


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
        "clicked_items_dense_shape": np.array([batch, max(map(len, bags), default=0)], np.int64),
    }, bags


def numpy_predictions(checkpoint, feed, bags=None, tables=None, any_sharding=False):
    """Predictions from the checkpoint's tensors (zoo_model's numpy model); `tables`
    overrides rows by table name. The bags are read from the feed."""
    return zoo_model.numpy_predictions(zoo_model.load_spec(SPEC), checkpoint, feed,
                                       tables, any_sharding)["prediction"]


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
    """The version path: the second field of the line `standalone PATH BYTES SECONDS`."""
    out = recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                     "--export-dir-base", base, "--mode", "standalone", *flags).stdout
    return out.split()[1]
