"""`recship warmup` and the exporter's --warmup-file, judged by TensorFlow:
the records parse as TensorFlow Serving PredictionLogs whose requests match
the signature, and TensorFlow runs the model on them."""

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from conftest import REPO_DIR

SPEC = REPO_DIR / "examples" / "ctr.json"


@pytest.fixture(scope="module")
def exported(recship, tmp_path_factory):
    root = tmp_path_factory.mktemp("warmup")
    recship.ok("synth", "--model", SPEC, "--out", root / "model", "--ids", 400, "--num-ps", 4)
    path = recship.ok("export", "--model", SPEC, "--model-dir", root / "model",
                      "--export-dir-base", root / "export", "--global-step", 1).stdout.split()[1]
    return root, path


def read_logs(path):
    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs


def load(path):
    sess = tf.compat.v1.Session(graph=tf.Graph())
    meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(path))
    return sess, meta_graph.signature_def["serving_default"]


def test_generated_warmup_matches_the_signature_and_runs(recship, exported):
    root, path = exported
    out = root / "warmup"
    recship.ok("warmup", "--saved-model", path, "--out", out, "--count", 20, "--batch", 6)
    logs = read_logs(out)
    assert len(logs) == 20
    sess, signature = load(path)
    keys = set()
    for table in ["user_id", "item_id"]:
        for shard in range(4):
            keys.update(tf.train.load_checkpoint(str(root / "model" / "model.ckpt-2"))
                        .get_tensor(f"{table}/shard_{shard}-keys").tolist())
    seen = {"known": 0, "unknown": 0, "empty_bags": 0}
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        assert set(request.inputs) == set(signature.inputs)
        feed = {}
        for name, proto in request.inputs.items():
            info = signature.inputs[name]
            assert proto.dtype == info.dtype, name
            value = tf.make_ndarray(proto)
            dims = [d.size for d in info.tensor_shape.dim]
            assert value.ndim == len(dims) and all(d in (-1, s) for d, s in zip(dims, value.shape))
            feed[info.name] = value
        ids = tf.make_ndarray(request.inputs["user_id"])
        seen["known"] += sum(int(i) in keys for i in ids)
        seen["unknown"] += sum(int(i) not in keys for i in ids)
        indices = tf.make_ndarray(request.inputs["clicked_items_indices"])
        shape = tf.make_ndarray(request.inputs["clicked_items_dense_shape"])
        assert len(indices) == len(tf.make_ndarray(request.inputs["clicked_items_values"]))
        assert shape[0] == 6 and np.all(indices[:, 0] < shape[0]) and np.all(indices[:, 1] < shape[1])
        assert np.all(np.diff(indices[:, 0] * shape[1] + indices[:, 1]) > 0), "row-major order"
        seen["empty_bags"] += 6 - len(set(indices[:, 0].tolist()))
        prediction = sess.run(signature.outputs["prediction"].name, feed)
        assert prediction.shape == (6, 1) and np.all(np.isfinite(prediction))
    assert seen["known"] > 0 and seen["unknown"] > 0 and seen["empty_bags"] > 0, seen


def test_warmup_from_json_and_shipped_by_the_exporter(recship, exported, tmp_path):
    root, path = exported
    requests = [{"user_id": [0, -3], "item_id": [4, 5], "context": [[1, 2, 3, 4], [0, 0, 0, 0.5]],
                 "clicked_items_indices": [[0, 0], [0, 1]], "clicked_items_values": [7, -2],
                 "clicked_items_dense_shape": [2, 2]}]
    given = tmp_path / "requests.json"
    given.write_text(json.dumps(requests))
    out = tmp_path / "warmup"
    recship.ok("warmup", "--saved-model", path, "--out", out, "--inputs", given)
    (log,) = read_logs(out)
    inputs = log.predict_log.request.inputs
    np.testing.assert_array_equal(tf.make_ndarray(inputs["user_id"]), [0, -3])
    np.testing.assert_array_equal(tf.make_ndarray(inputs["context"]),
                                  np.array(requests[0]["context"], np.float32))
    assert inputs["clicked_items_values"].dtype == tf.int64.as_datatype_enum

    version = recship.ok("export", "--model", SPEC, "--model-dir", root / "model",
                         "--export-dir-base", tmp_path / "export", "--warmup-file", out,
                         "--global-step", 3).stdout.split()[1]
    shipped = f"{version}/assets.extra/tf_serving_warmup_requests"
    assert open(shipped, "rb").read() == out.read_bytes()


def test_warmup_errors_name_the_problem(recship, exported, tmp_path):
    root, path = exported
    given = tmp_path / "requests.json"
    given.write_text(json.dumps([{"user_id": [1]}]))
    missing = recship.fails("warmup", "--saved-model", path, "--out", tmp_path / "w",
                            "--inputs", given)
    assert "lacks input" in missing.stderr and str(given) in missing.stderr
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a tfrecord file at all")
    failed = recship.fails("export", "--model", SPEC, "--model-dir", root / "model",
                           "--export-dir-base", tmp_path / "export", "--warmup-file", bad)
    assert str(bad) in failed.stderr
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").iterdir())
    recship.fails("warmup", "--saved-model", path, "--out", tmp_path / "w", "--signature", "nope")
