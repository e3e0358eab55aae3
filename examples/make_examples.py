"""Regenerates the examples that real TensorFlow wrote, for `recship inspect`.

  build/venv/bin/python examples/make_examples.py

model_dir/: a training folder in recship's checkpoint contract (DESIGN.md,
contract 1): dense variables, one embedding table on 2 shards with keys,
values and an optimizer slot, global_step, and the `checkpoint` state file.
saved_model/1/: a small TF1-style SavedModel with a serving_default signature
and a warmup file.
"""
import os
import shutil

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def make_model_dir(out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(7)
    tensors = {
        "mlp/dense_0/kernel": rng.standard_normal((12, 8)).astype(np.float32),
        "mlp/dense_0/bias": rng.standard_normal(8).astype(np.float32),
        "mlp/logits/kernel": rng.standard_normal((8, 1)).astype(np.float32),
        "mlp/logits/bias": np.zeros(1, np.float32),
        "global_step": np.int64(100),
    }
    ids = np.array([3, -7, 10, 12, 1, 8, 5], np.int64)
    for shard in range(2):
        keys = ids[np.mod(ids, 2) == shard]
        tensors[f"user_id/shard_{shard}-keys"] = keys
        tensors[f"user_id/shard_{shard}-values"] = rng.standard_normal((len(keys), 4)).astype(np.float32)
        tensors[f"user_id/shard_{shard}-slot-adagrad"] = np.full((len(keys), 4), 0.1, np.float32)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        variables = {name: tf.compat.v1.Variable(value, name=name.replace("-", "_"))
                     for name, value in tensors.items()}
        sess.run(tf.compat.v1.global_variables_initializer())
        saver = tf.compat.v1.train.Saver(variables)
        saver.save(sess, os.path.join(out, "model.ckpt"), global_step=100,
                   write_meta_graph=False)
        # Store the path relative to the folder, so the example works wherever
        # the repository is cloned.
        tf.compat.v1.train.update_checkpoint_state(out, "model.ckpt-100", ["model.ckpt-100"])


def make_saved_model(out):
    shutil.rmtree(out, ignore_errors=True)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.compat.v1.Variable([[0.5], [-1.0], [2.0], [0.25]], name="w")
        y = tf.sigmoid(tf.matmul(x, w), name="y")
        sess.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(os.path.join(out, "1"))
        signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": signature})
        builder.save()
    extra = os.path.join(out, "1", "assets.extra")
    os.makedirs(extra)
    from tensorflow.core.framework import tensor_pb2  # noqa: F401 (proto registry)
    with tf.io.TFRecordWriter(os.path.join(extra, "tf_serving_warmup_requests")) as writer:
        # A PredictionLog{predict_log{request{inputs{x}}}} built with raw protos,
        # so tensorflow-serving-api is not needed here.
        request = tf.make_tensor_proto(np.ones((2, 4), np.float32)).SerializeToString()
        entry = b"\n\x01x" + b"\x12" + _varint(len(request)) + request  # map entry: key=1, value=2
        predict_request = b"\x12" + _varint(len(entry)) + entry      # PredictRequest.inputs = 2
        predict_log = b"\n" + _varint(len(predict_request)) + predict_request  # PredictLog.request = 1
        writer.write(b"\x32" + _varint(len(predict_log)) + predict_log)  # PredictionLog.predict_log = 6


def _varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


if __name__ == "__main__":
    make_model_dir(os.path.join(HERE, "model_dir"))
    make_saved_model(os.path.join(HERE, "saved_model"))
