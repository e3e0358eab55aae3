"""`recship inspect` on SavedModels and checkpoints that TensorFlow wrote says
what TensorFlow says: saved_model.pb parsed with TensorFlow's own protos,
`saved_model_cli show --all`'s signature blocks, and tf.train.list_variables.
`--verify` passes on good files and names the file of a corrupt data shard."""

import collections
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2


class Scorer(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(11)
        self.weights = tf.Variable(rng.standard_normal(3).astype(np.float32), name="weights")
        self.table = tf.Variable(rng.integers(-9, 9, (4, 2)), name="table")
        self.vocab = tf.Variable([b"a", b"\xc3\xa9"], name="vocab")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.string, name="tag")])
    def score(self, x, tag):
        return {"y": x * self.weights, "rows": tf.shape(x)[0], "tag": tag}

    @tf.function(input_signature=[tf.TensorSpec(None, tf.int64, name="ids")])
    def lookup(self, ids):
        return tf.gather(self.table, ids)


def make_tf2_model(path):
    module = Scorer()
    tf.saved_model.save(module, str(path),
                        signatures={"serving_default": module.score, "lookup": module.lookup})


def make_tf1_model(path):
    rng = np.random.default_rng(12)
    graph = tf.Graph()
    with graph.as_default():
        features = tf.compat.v1.placeholder(tf.float32, [None, 4], name="features")
        ids = tf.compat.v1.placeholder(tf.int64, [None], name="ids")
        kernel = tf.compat.v1.get_variable(
            "dense/kernel", initializer=rng.standard_normal((4, 2)).astype(np.float32))
        bias = tf.compat.v1.get_variable("dense/bias", initializer=np.zeros(2, np.float32))
        scores = tf.nn.sigmoid(tf.matmul(features, kernel) + bias, name="scores")
        step = tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={
                "serving_default": tf.compat.v1.saved_model.predict_signature_def(
                    {"features": features, "ids": ids}, {"scores": scores, "step": step}),
                "classify": tf.compat.v1.saved_model.classification_signature_def(
                    tf.compat.v1.placeholder(tf.string, name="examples"),
                    tf.constant(["a", "b"]), scores),
            })
            builder.save()


@pytest.fixture(scope="module", params=["tf2_module", "tf1_builder"])
def tf_saved_model(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "model"
    (make_tf2_model if request.param == "tf2_module" else make_tf1_model)(path)
    return str(path)


def inspect_json(recship, path, *flags):
    return json.loads(recship.ok("inspect", path, "--json", *flags).stdout)


def read_saved_model_proto(path):
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(Path(path, "saved_model.pb").read_bytes())
    return saved_model


def tensor_info_expected(info):
    shape = None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]
    return {"name": info.name, "dtype": types_pb2.DataType.Name(info.dtype), "shape": shape}


def assert_variables_match(bundle_json, prefix):
    """recship's tensor list equals tf.train.list_variables and TF's dtype map."""
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    got = {t["name"]: (t["shape"], t["dtype"]) for t in bundle_json["tensors"]}
    expected = {name: (shape, dtypes[name].name) for name, shape in tf.train.list_variables(prefix)}
    assert got == expected


def test_inspect_json_matches_tf_protos(recship, tf_saved_model):
    got = inspect_json(recship, tf_saved_model)
    proto = read_saved_model_proto(tf_saved_model)
    assert got["kind"] == "saved_model"
    assert len(got["meta_graphs"]) == len(proto.meta_graphs)
    for got_meta, meta in zip(got["meta_graphs"], proto.meta_graphs):
        assert got_meta["tags"] == list(meta.meta_info_def.tags)
        assert got_meta["nodes"] == len(meta.graph_def.node)
        assert got_meta["ops"] == dict(collections.Counter(n.op for n in meta.graph_def.node))
        expected_signatures = {
            key: {"method_name": sig.method_name,
                  "inputs": {k: tensor_info_expected(v) for k, v in sig.inputs.items()},
                  "outputs": {k: tensor_info_expected(v) for k, v in sig.outputs.items()}}
            for key, sig in meta.signature_def.items()}
        assert got_meta["signatures"] == expected_signatures
        assert "serving_default" in got_meta["signatures"]
    assert_variables_match(got["variables"], os.path.join(tf_saved_model, "variables", "variables"))


def signature_blocks(text):
    """{'MetaGraphDef ...' or "signature_def['k']:": [lines]} from show --all style text."""
    blocks, current = {}, None
    for line in text.splitlines():
        if line.startswith("MetaGraphDef with tag-set:"):
            blocks[line] = []
            current = None
        elif line.startswith("signature_def["):
            current = blocks.setdefault(line, [])
        elif current is not None and line.startswith("  "):
            current.append(line)
        else:
            current = None
    return blocks


def test_inspect_text_matches_saved_model_cli(recship, saved_model_cli, tf_saved_model):
    cli = saved_model_cli.ok("show", "--dir", tf_saved_model, "--all").stdout
    expected = signature_blocks(cli)
    assert any(key.startswith("signature_def['serving_default']") for key in expected), cli
    got = recship.ok("inspect", tf_saved_model).stdout
    assert signature_blocks(got) == expected


def test_inspect_checkpoint_matches_list_variables(recship, tmp_path):
    rng = np.random.default_rng(13)
    variables = {"embedding": tf.Variable(rng.standard_normal((10, 4)).astype(np.float32)),
                 "step": tf.Variable(np.int64(5)),
                 "empty": tf.Variable(np.zeros((0, 3), np.float64))}
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "ckpt"))

    got = inspect_json(recship, prefix)
    assert got["kind"] == "checkpoint"
    assert got["num_shards"] == 1
    assert_variables_match(got, prefix)
    # The .index path names the same checkpoint.
    assert inspect_json(recship, prefix + ".index")["tensors"] == got["tensors"]

    text = recship.ok("inspect", prefix).stdout
    for name, shape in tf.train.list_variables(prefix):
        assert name in text


def test_verify_passes_on_good_files(recship, tf_saved_model):
    got = inspect_json(recship, tf_saved_model, "--verify")
    assert got["variables"]["verified"] is True
    recship.ok("inspect", tf_saved_model, "--verify")  # Text mode too.


def flip_byte(path, offset):
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0x01
    Path(path).write_bytes(bytes(data))


def test_verify_names_corrupt_checkpoint_shard(recship, tmp_path):
    rng = np.random.default_rng(14)
    prefix = tf.train.Checkpoint(v=tf.Variable(rng.standard_normal(1000).astype(np.float32))
                                 ).write(str(tmp_path / "ckpt"))
    shard = prefix + ".data-00000-of-00001"
    recship.ok("inspect", prefix, "--verify")
    # Data are densely packed, so every byte of a shard belongs to some tensor.
    flip_byte(shard, os.path.getsize(shard) // 2)
    # TensorFlow agrees it is corrupt.
    with pytest.raises(tf.errors.OpError, match="Checksum does not match"):
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)

    recship.ok("inspect", prefix)  # Listing reads only the index.
    for flags in (["--verify"], ["--verify", "--json"]):
        result = recship.fails("inspect", prefix, *flags)
        assert shard in result.stderr
        assert "crc32c" in result.stderr


def test_verify_names_corrupt_saved_model_variables(recship, tf_saved_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tf_saved_model, copy)
    shard = copy / "variables" / "variables.data-00000-of-00001"
    flip_byte(shard, 0)
    result = recship.fails("inspect", copy, "--verify")
    assert str(shard) in result.stderr
