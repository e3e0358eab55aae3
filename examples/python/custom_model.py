#!/usr/bin/env python3
"""A model written against recship's Python API, trained in numpy, exported
and served.

  python examples/python/custom_model.py [--work DIR]

1. The model: a user id and a bag of item ids looked up in two hash
   embedding tables (two parameter-server shards each), a dense context, a
   dense layer, a custom gated-residual layer written from recship.ops, and
   a sigmoid output (model_fn, serving_input_receiver_fn).
2. A trainer in plain numpy takes a few steps and writes its training folder
   through recship.checkpoint, as any trainer could (train).
3. The exporters of recship.model_export write a standalone SavedModel and a
   distributed layout (entry + ps_0 + ps_1), as Monolith's do.
4. recship.serving serves both in this process, and the predictions are
   checked against the same model computed in numpy (exit status 1 if they
   differ).

The tests import this module as the judge of the Python package
(tests/python/test_python_export.py).
"""

import argparse
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np

from recship import checkpoint, layers, ops
from recship.estimator import EstimatorSpec, Feature, PredictOutput, ServingInputReceiver

DIM = 4
NUM_SHARDS = 2
USERS = np.arange(0, 400, dtype=np.int64)
ITEMS = np.arange(-50, 300, dtype=np.int64)
USER_TABLE = layers.HashTable("user", dim=DIM, num_shards=NUM_SHARDS)
ITEM_TABLE = layers.HashTable("item", dim=DIM, num_shards=NUM_SHARDS)
HIDDEN = 8
CONTEXT = 3


def gated_residual(x, name):
    """The custom layer: x * sigmoid(x · w + b) + 0.5 * x, its variables
    <scope>/<name>/w and /b, built only from recship.ops and layers.variable."""
    width = x.shape[1]
    with ops.name_scope(name):
        w = layers.variable("w", [width, width])
        b = layers.variable("b", [width])
        gate = ops.sigmoid(ops.bias_add(x @ w, b))
        return x * gate + 0.5 * x


def model_fn(features, mode, config):
    user = layers.hash_embedding_bag(USER_TABLE, features["user_id"])
    clicked = layers.hash_embedding_bag(ITEM_TABLE, features["clicked"], combiner="mean")
    x = ops.concat([user, clicked, features["context"]], axis=1)
    with ops.name_scope("tower"):
        h = layers.dense(x, HIDDEN, activation="relu", name="hidden")
        h = gated_residual(h, "gate")
        logit = layers.dense(h, 1, name="logit")
    ctr = ops.identity(ops.sigmoid(logit), name="ctr")
    return EstimatorSpec(mode, predictions={"ctr": ctr},
                         export_outputs={"logits": PredictOutput({"logit": logit})})


def serving_input_receiver_fn():
    user_id = ops.placeholder("int64", [None], name="user_id")
    indices = ops.placeholder("int64", [None, 2], name="clicked_indices")
    values = ops.placeholder("int64", [None], name="clicked_values")
    dense_shape = ops.placeholder("int64", [2], name="clicked_dense_shape")
    context = ops.placeholder(np.float32, [None, CONTEXT], name="context")
    inputs = {"user_id": user_id, "clicked_indices": indices, "clicked_values": values,
              "clicked_dense_shape": dense_shape, "context": context}
    features = {"user_id": user_id, "clicked": Feature(indices, values, dense_shape),
                "context": context}
    return ServingInputReceiver(features, inputs)


# --- numpy: the model's parameters, a trainer, and its predictions.

def init_params(rng):
    width = 2 * DIM + CONTEXT
    return {
        "user": {int(k): rng.standard_normal(DIM).astype(np.float32) for k in USERS},
        "item": {int(k): rng.standard_normal(DIM).astype(np.float32) for k in ITEMS},
        "tower/hidden/kernel": rng.standard_normal((width, HIDDEN)).astype(np.float32),
        "tower/hidden/bias": rng.standard_normal(HIDDEN).astype(np.float32),
        "tower/gate/w": rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32) / 3,
        "tower/gate/b": rng.standard_normal(HIDDEN).astype(np.float32),
        "tower/logit/kernel": rng.standard_normal((HIDDEN, 1)).astype(np.float32),
        "tower/logit/bias": np.zeros(1, np.float32),
    }


def _rows(table, ids):
    return np.stack([table.get(int(i), np.zeros(DIM, np.float32)) for i in ids]).astype(np.float64)


def _bag_means(table, feed):
    batch = int(feed["clicked_dense_shape"][0])
    sums = np.zeros((batch, DIM))
    counts = np.zeros(batch)
    for (row, _), i in zip(feed["clicked_indices"], feed["clicked_values"]):
        sums[row] += table.get(int(i), np.zeros(DIM, np.float32))
        counts[row] += 1
    return sums / np.maximum(counts, 1)[:, None]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def features_of(params, feed):
    """The input of the logit layer, float64 [batch, HIDDEN]."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items() if "/" in k}
    x = np.concatenate([_rows(params["user"], feed["user_id"]),
                        _bag_means(params["item"], feed), feed["context"]], 1)
    h = np.maximum(x @ p["tower/hidden/kernel"] + p["tower/hidden/bias"], 0)
    return h * sigmoid(h @ p["tower/gate/w"] + p["tower/gate/b"]) + 0.5 * h


def predict(params, feed):
    """{"ctr": [batch, 1], "logit": [batch, 1]} in float64."""
    h = features_of(params, feed)
    logit = h @ params["tower/logit/kernel"].astype(np.float64) + params["tower/logit/bias"]
    return {"ctr": sigmoid(logit), "logit": logit}


def make_batch(rng, batch):
    """Known, unseen and negative ids; bags of 0 to 3 items, the first empty."""
    def ids(known, n):
        return np.where(rng.random(n) < 0.8, rng.choice(known, n),
                        rng.integers(10**9, 10**10, n)).astype(np.int64)
    bags = [list(ids(ITEMS, rng.integers(0, 4))) for _ in range(batch)]
    bags[0] = []
    return {
        "user_id": ids(USERS, batch),
        "clicked_indices": np.array([[r, j] for r, bag in enumerate(bags) for j in range(len(bag))],
                                    np.int64).reshape(-1, 2),
        "clicked_values": np.array([i for bag in bags for i in bag], np.int64),
        "clicked_dense_shape": np.array([batch, max(map(len, bags))], np.int64),
        "context": rng.standard_normal((batch, CONTEXT)).astype(np.float32),
    }


def train_step(params, rng, learning_rate=0.5):
    """One step of logistic regression on the logit layer, on a random batch."""
    feed = make_batch(rng, 64)
    labels = (rng.random((64, 1)) < 0.3).astype(np.float64)
    h = features_of(params, feed)
    error = predict(params, feed)["ctr"] - labels
    params["tower/logit/kernel"] = (params["tower/logit/kernel"]
                                    - learning_rate * (h.T @ error) / 64).astype(np.float32)
    params["tower/logit/bias"] = (params["tower/logit/bias"]
                                  - learning_rate * error.mean(0)).astype(np.float32)


def write_checkpoint(model_dir, step, params):
    """One step of the training folder, tables sharded by floor_mod(id, NUM_SHARDS)."""
    with checkpoint.CheckpointWriter(model_dir, step) as writer:
        for table in ["user", "item"]:
            keys = np.array(sorted(params[table]), np.int64)
            for shard in range(NUM_SHARDS):
                mine = keys[np.mod(keys, NUM_SHARDS) == shard]
                values = np.stack([params[table][int(k)] for k in mine])
                writer.add_table_shard(table, shard, mine, values)
        for name, value in params.items():
            if "/" in name:
                writer.add_dense(name, value)
    return writer.prefix


def train(model_dir, steps, seed=0):
    """Writes a checkpoint after each step; returns the last step's parameters."""
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    for step in range(1, steps + 1):
        train_step(params, rng)
        write_checkpoint(model_dir, step, params)
    return params


# --- the whole path, as a script.

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export_and_serve(work: Path) -> float:
    """Trains, exports both ways, serves both; returns the largest difference
    from numpy."""
    from recship.model_export import DistributedExporter, StandaloneExporter
    from recship.serving import ModelServer, predict as serve_predict

    params = train(work / "model", steps=3)
    standalone = StandaloneExporter(model_fn, work / "model", work / "standalone")
    print("standalone:", standalone.export_saved_model(serving_input_receiver_fn))
    layout = DistributedExporter(model_fn, work / "model", work / "ctr")
    print("distributed:", " ".join(layout.export_saved_model(serving_input_receiver_fn)))

    feed = make_batch(np.random.default_rng(1), 8)
    want = predict(params, feed)["ctr"]
    port = free_port()
    shards = ",".join(f"ps_{i}=127.0.0.1:{port}" for i in range(NUM_SHARDS))
    with ModelServer("ctr", work / "standalone") as one, \
            ModelServer("ctr", layout_base_path=work / "ctr", port=port,
                        remote_addresses=shards) as entry:
        got = {"standalone": serve_predict(one, "ctr", feed)["ctr"],
               "distributed": serve_predict(entry, "ctr", feed)["ctr"]}
    worst = 0.0
    for name, value in got.items():
        difference = float(np.max(np.abs(value - want)))
        print(f"{name}: {value.ravel()[:4]} ... largest difference from numpy {difference:.1e}")
        worst = max(worst, difference)
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="folder to keep (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        worst = export_and_serve(work)
    if worst > 1e-5:
        print("FAILED: the served predictions differ from numpy")
        return 1
    print("OK: both layouts serve what numpy computes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
