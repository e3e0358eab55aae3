"""The SavedModel recship writes (recship_fmt_tool write-test-savedmodel: a
TF1-style graph y = x + w with w restored from variables/) loads in
TensorFlow's v1 loader and in tf.saved_model.load, and gives x + w as numpy
computes it."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from recship_testlib import assert_same_array


@pytest.fixture(scope="module")
def model(tmp_path_factory, fmt_tool):
    """(export dir, w) for a model with random w, written by recship."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal(3).astype(np.float32)
    base = tmp_path_factory.mktemp("export")
    flag = "--w=" + ",".join(f"{v:.9g}" for v in w)  # 9 digits round-trip a float32.
    printed = fmt_tool.ok("write-test-savedmodel", base, 42, flag).stdout.strip()
    assert printed == str(base / "42")
    assert sorted(os.listdir(base)) == ["42"]  # Published, no temp- folder left.
    return printed, w


def inputs():
    rng = np.random.default_rng(4)
    return rng.standard_normal((5, 3)).astype(np.float32)


def test_variables_bundle_holds_w(model):
    export_dir, w = model
    reader = tf.train.load_checkpoint(os.path.join(export_dir, "variables", "variables"))
    assert_same_array(reader.get_tensor("w"), w, "w")


def test_every_node_carries_every_attr_of_its_op(model):
    export_dir, _ = model
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    graph = saved_model.meta_graphs[0].graph_def
    assert graph.versions.producer <= tf.version.GRAPH_DEF_VERSION
    for node in graph.node:
        op_def = op_def_registry.get(node.op)
        assert op_def is not None, f"{node.name}: unknown op {node.op}"
        wanted = {attr.name for attr in op_def.attr}
        assert wanted <= set(node.attr), f"{node.name} ({node.op}) lacks {wanted - set(node.attr)}"


def test_v1_loader_runs_signature_and_save_op(model, tmp_path):
    export_dir, w = model
    x = inputs()
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        signature = meta_graph.signature_def["serving_default"]
        assert signature.method_name == "tensorflow/serving/predict"
        y = sess.run(signature.outputs["y"].name, {signature.inputs["x"].name: x})
        assert_same_array(y, x + w, "y")

        # The saver's save op writes w back out; TensorFlow reads it.
        saver_def = meta_graph.saver_def
        resaved = str(tmp_path / "resaved")
        sess.run(saver_def.save_tensor_name, {saver_def.filename_tensor_name: resaved})
    assert_same_array(tf.train.load_checkpoint(resaved).get_tensor("w"), w, "resaved w")


def test_tf2_load_runs_serving_default(model):
    export_dir, w = model
    loaded = tf.saved_model.load(export_dir)
    serving = loaded.signatures["serving_default"]
    x = inputs()
    for batch in (x, x[:1] * 4):
        result = serving(x=tf.constant(batch))
        assert set(result) == {"y"}
        assert_same_array(result["y"].numpy(), batch + w, "y")
