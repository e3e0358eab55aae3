"""SavedModels that TensorFlow writes, served by `recship serve`.

A TensorFlow 1 graph saved with its defaulted attrs stripped (as TensorFlow 2
writes every graph) loads and predicts what TensorFlow predicts: recship fills
the attrs from the op definitions, as TensorFlow's loader does. A Keras
`model.export()` needs function calls, which recship's runtime does not run:
its load fails naming the op, the node and the function."""

import grpc
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import attr_value_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from recship_server import outputs_of

VOCAB = 50
OP_TABLE = Path(__file__).resolve().parents[2] / "src" / "graph" / "op_table.cc"
# TensorFlow Serving's REGISTER_OP("TfServingRemotePredict"), which stock
# TensorFlow does not register.
REMOTE_PREDICT_DEFAULTS = {"target_address": 's: ""', "model_name": 's: ""',
                           "model_version": "i: -1", "fail_op_on_rpc_error": "b: true",
                           "max_rpc_deadline_millis": "i: 30000",
                           "signature_name": 's: "serving_default"'}


def recship_op_table():
    """(ops, {(op, attr): AttrValue}) as src/graph/op_table.cc lists them."""
    text = OP_TABLE.read_text()
    ops = re.findall(r'^    \{"(\w+)", Attrs\(', text, re.M)
    defaults = {}
    for op, attr, value in re.findall(r'^    \{"(\w+)", "(\w+)", "(.*)"\},$', text, re.M):
        defaults[(op, attr)] = text_format.Parse(value.replace('\\"', '"'),
                                                 attr_value_pb2.AttrValue())
    return ops, defaults


def test_the_op_tables_defaults_are_tensorflows():
    ops, defaults = recship_op_table()
    assert len(ops) > 50 and len(defaults) > 50
    want = {}
    for op in ops:
        if op == "TfServingRemotePredict":
            for attr, value in REMOTE_PREDICT_DEFAULTS.items():
                want[(op, attr)] = text_format.Parse(value, attr_value_pb2.AttrValue())
            continue
        op_def = op_def_registry.get(op)
        assert op_def is not None, f"{op} is not a TensorFlow op"
        for attr in op_def.attr:
            if attr.HasField("default_value"):
                want[(op, attr.name)] = attr.default_value
    assert sorted(defaults) == sorted(want)
    for key, value in want.items():
        assert defaults[key] == value, f"{key}: {defaults[key]} != {value}"


def build_tf1_graph():
    """A small ranking model: an embedding gathered from a resource
    variable, a dense input, an MLP; the ops of recship's set with defaulted
    attrs (MatMul's transpose_*, GatherV2's batch_dims, Mean's keep_dims,
    ConcatV2's Tidx, Squeeze's squeeze_dims, VarHandleOp's container...)."""
    rng = np.random.default_rng(7)
    ids = tf.compat.v1.placeholder(tf.int64, [None], name="ids")
    dense = tf.compat.v1.placeholder(tf.float32, [None, 4], name="dense")

    def variable(name, shape):
        return tf.compat.v1.get_variable(
            name, initializer=rng.standard_normal(shape).astype(np.float32), use_resource=True)

    emb = variable("emb", [VOCAB, 8])
    w1, b1 = variable("w1", [12, 16]), variable("b1", [16])
    w2 = variable("w2", [16, 1])
    rows = tf.gather(emb.read_value(), tf.math.floormod(ids, VOCAB))
    x = tf.concat([rows, dense], axis=1)
    hidden = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1.read_value()), b1.read_value()))
    logit = tf.squeeze(tf.matmul(hidden, w2.read_value()), axis=[1])
    return {"ids": ids, "dense": dense}, {"prob": tf.sigmoid(logit),
                                          "mean": tf.reduce_mean(hidden, axis=1)}


def feed():
    rng = np.random.default_rng(8)
    return {"ids": rng.integers(0, 10_000, 32).astype(np.int64),
            "dense": rng.standard_normal((32, 4)).astype(np.float32)}


@pytest.fixture(scope="module")
def tf1_model(tmp_path_factory):
    """(base path, what TensorFlow's session computes on feed())."""
    base = tmp_path_factory.mktemp("tf1")
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session() as sess:
        inputs, outputs = build_tf1_graph()
        sess.run(tf.compat.v1.global_variables_initializer())
        expected = sess.run(outputs, {inputs[k]: v for k, v in feed().items()})
        builder = tf.compat.v1.saved_model.Builder(str(base / "1"))
        signature = tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)
        builder.add_meta_graph_and_variables(sess, ["serve"], {"serving_default": signature},
                                             strip_default_attrs=True)
        builder.save()
    return base, expected


def test_the_tf1_model_leaves_defaulted_attrs_out(tf1_model):
    base, _ = tf1_model
    saved = saved_model_pb2.SavedModel.FromString((base / "1" / "saved_model.pb").read_bytes())
    nodes = saved.meta_graphs[0].graph_def.node
    matmuls = [n for n in nodes if n.op == "MatMul"]
    handles = [n for n in nodes if n.op == "VarHandleOp"]
    assert matmuls and handles
    assert all("transpose_a" not in n.attr for n in matmuls)
    assert all("container" not in n.attr for n in handles)


def test_recship_serves_a_stripped_tf1_model_as_tensorflow_computes_it(serve, tf1_model):
    base, expected = tf1_model
    server = serve("--model_name", "tf1", "--model_base_path", base)
    got = outputs_of(server.predict("tf1", feed()))
    assert sorted(got) == ["mean", "prob"]
    for name in ("prob", "mean"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_keras_export_is_refused_naming_op_node_and_function(serve, tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    model.export(str(tmp_path / "keras" / "1"), verbose=False)
    server = serve("--model_name", "keras", "--model_base_path", tmp_path / "keras")
    with pytest.raises(grpc.RpcError) as error:
        server.predict("keras", {"keras_tensor": np.zeros((1, 3), np.float32)})
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    log = server.log()
    assert "lacks its required attr" not in log
    line = next(l for l in log.splitlines() if "failed to load" in l)
    assert "op StatefulPartitionedCall is not in recship's supported op set" in line, line
    assert "node 'StatefulPartitionedCall" in line, line
    assert "calls function '__inference_" in line, line
