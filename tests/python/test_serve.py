"""`recship serve`, judged by TensorFlow Serving's official Python client and
by TensorFlow running the same SavedModel in-process: predictions, metadata,
version swaps under load, warmup failures, bad requests, health and SIGTERM."""

import json
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from conftest import REPO_DIR
from ctr_model import export, make_batch, numpy_predictions, predict_tf1
from recship_server import assert_close, outputs_of, predict_request

MODEL = "ctr"


def export_version(recship, model_dir, base, step, *flags):
    return export(recship, model_dir, base, "--checkpoint", model_dir / f"model.ckpt-{step}",
                  "--global-step", step, *flags)


@pytest.mark.parametrize("shared", [False, True], ids=["copy", "shared"])
def test_predictions_equal_tensorflow_and_numpy(recship, model_dir, tmp_path, serve, shared):
    base = tmp_path / "export"
    path = export_version(recship, model_dir, base, 2, *(["--shared-embedding"] if shared else []))
    server = serve("--model_name", MODEL, "--model_base_path", base)
    for batch in [1, 64, 1000]:
        feed, bags = make_batch(batch, np.random.default_rng(batch))
        response = server.predict(MODEL, feed)
        assert response.model_spec.name == MODEL
        assert response.model_spec.version.value == 2
        assert response.model_spec.signature_name == "serving_default"
        got = outputs_of(response)["prediction"]
        assert got.shape == (batch, 1) and got.dtype == np.float32
        assert_close(got, predict_tf1(path, feed))
        assert_close(got, numpy_predictions(model_dir / "model.ckpt-2", feed, bags))


def test_batch_zero(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    path = export_version(recship, model_dir, base, 2)
    server = serve("--model_name", MODEL, "--model_base_path", base)
    feed, _ = make_batch(0, np.random.default_rng(0))
    got = outputs_of(server.predict(MODEL, feed))["prediction"]
    assert got.shape == (0, 1)
    assert predict_tf1(path, feed).shape == (0, 1)


def test_tensorflow_written_saved_model(serve):
    """examples/saved_model was written by TensorFlow itself (TF2 + compat.v1),
    with save-path ops outside recship's set that serving never runs."""
    base = REPO_DIR / "examples" / "saved_model"
    server = serve("--model_name", "tfmodel", "--model_base_path", base)
    version = max(int(p.name) for p in base.iterdir() if p.name.isdigit())
    _, signatures = server.metadata("tfmodel")
    signature = signatures.signature_def["serving_default"]
    (key, info), = signature.inputs.items()
    shape = [d.size if d.size > 0 else 3 for d in info.tensor_shape.dim]
    feed = {key: np.random.default_rng(1).standard_normal(shape).astype(np.float32)}
    got = outputs_of(server.predict("tfmodel", feed))
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(base / str(version)))
        want = sess.run({k: v.name for k, v in signature.outputs.items()},
                        {info.name: feed[key]})
    assert got.keys() == want.keys()
    for name in want:
        assert_close(got[name], want[name])


def test_metadata_and_output_filter(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    path = export_version(recship, model_dir, base, 2)
    server = serve("--model_name", MODEL, "--model_base_path", base)
    response, signatures = server.metadata(MODEL)
    assert response.model_spec.version.value == 2
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
    assert dict(signatures.signature_def) == dict(meta_graph.signature_def)
    feed, _ = make_batch(4, np.random.default_rng(4))
    filtered = server.predict(MODEL, feed, output_filter=["prediction"])
    assert list(filtered.outputs) == ["prediction"]
    with pytest.raises(grpc.RpcError) as error:
        server.predict(MODEL, feed, output_filter=["nope"])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_new_version_takes_over_without_a_failed_request(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    export_version(recship, model_dir, base, 1)
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", 0.1)
    feed, bags = make_batch(16, np.random.default_rng(16))
    want = {step: numpy_predictions(model_dir / f"model.ckpt-{step}", feed, bags)
            for step in (1, 2)}
    assert not np.allclose(want[1], want[2]), "the two checkpoints should predict differently"
    seen, errors, stop = [], [], threading.Event()
    by_thread = [[] for _ in range(3)]

    def client(mine):
        while not stop.is_set():
            try:
                response = server.predict(MODEL, feed)
                version = response.model_spec.version.value
                assert_close(outputs_of(response)["prediction"], want[version])
                seen.append(version)
                mine.append(version)
            except Exception as error:  # noqa: BLE001 - every failure counts
                errors.append(error)

    threads = [threading.Thread(target=client, args=(by_thread[i],)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        export_version(recship, model_dir, base, 2)
        server.wait_for_log(r"version 1 unloaded")
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert seen[0] == 1 and seen[-1] == 2 and 1 in seen and 2 in seen
    # A thread's requests are one after another: once one of them was
    # answered by version 2, every later one was sent after the swap.
    for versions in by_thread:
        assert 2 in versions and 1 not in versions[versions.index(2):], versions
    assert server.predict(MODEL, feed).model_spec.version.value == 2


def write_warmup(path, requests):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.CopyFrom(request)
            writer.write(log.SerializeToString())


def test_bad_warmup_fails_the_version_and_the_old_one_keeps_serving(recship, model_dir,
                                                                     tmp_path, serve):
    base = tmp_path / "export"
    export_version(recship, model_dir, base, 1)
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", 0.1)
    feed, _ = make_batch(4, np.random.default_rng(4))
    good = predict_request(MODEL, feed)
    bad_feed = dict(feed, user_id=feed["user_id"].astype(np.float32))
    warmup = tmp_path / "warmup"
    write_warmup(warmup, [good, predict_request(MODEL, bad_feed)])
    export_version(recship, model_dir, base, 2, "--warmup-file", warmup)
    server.wait_for_log(r"version 2 failed to load \(attempt 1 of 6\): .*warmup record 1.*user_id")
    assert server.predict(MODEL, feed).model_spec.version.value == 1
    assert server.health() == 1 and server.health(MODEL) == 1
    with pytest.raises(grpc.RpcError) as error:
        server.predict(MODEL, feed, version=2)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_good_warmup_is_replayed(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    feed, _ = make_batch(4, np.random.default_rng(4))
    warmup = tmp_path / "warmup"
    write_warmup(warmup, [predict_request(MODEL, feed)] * 3)
    export_version(recship, model_dir, base, 2, "--warmup-file", warmup)
    server = serve("--model_name", MODEL, "--model_base_path", base)
    assert "replayed 3 warmup requests" in server.log()


@pytest.fixture
def ctr_server(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    export_version(recship, model_dir, base, 2)
    return serve("--model_name", MODEL, "--model_base_path", base, "--max_batch_size", 100,
                 "--max_request_mib", 1)


def expect_error(call, code, *words):
    with pytest.raises(grpc.RpcError) as error:
        call()
    assert error.value.code() == code, error.value.details()
    for word in words:
        assert word in error.value.details(), error.value.details()


def test_bad_requests_get_tensorflow_servings_codes(ctr_server):
    server = ctr_server
    feed, _ = make_batch(4, np.random.default_rng(4))
    codes = grpc.StatusCode
    expect_error(lambda: server.predict("nope", feed), codes.NOT_FOUND, "nope")
    expect_error(lambda: server.predict(MODEL, feed, version=7), codes.NOT_FOUND, "7")
    expect_error(lambda: server.predict(MODEL, feed, signature="nope"),
                 codes.FAILED_PRECONDITION, "nope")
    missing = {k: v for k, v in feed.items() if k != "context"}
    expect_error(lambda: server.predict(MODEL, missing), codes.INVALID_ARGUMENT, "context")
    expect_error(lambda: server.predict(MODEL, dict(feed, extra=np.zeros(4))),
                 codes.INVALID_ARGUMENT, "extra")
    expect_error(lambda: server.predict(MODEL, dict(feed, user_id=feed["user_id"].astype(np.int32))),
                 codes.INVALID_ARGUMENT, "user_id", "int64")
    expect_error(lambda: server.predict(MODEL, dict(feed, context=np.zeros((4, 5), np.float32))),
                 codes.INVALID_ARGUMENT, "context", "[4, 5]")
    expect_error(lambda: server.predict(MODEL, dict(feed, user_id=np.zeros((4, 1), np.int64))),
                 codes.INVALID_ARGUMENT, "user_id")
    big, _ = make_batch(101, np.random.default_rng(101))
    expect_error(lambda: server.predict(MODEL, big), codes.INVALID_ARGUMENT, "101", "100")
    at_limit, _ = make_batch(100, np.random.default_rng(100))
    assert len(at_limit["clicked_items_values"]) > 100, "bag entries must not count as rows"
    assert outputs_of(server.predict(MODEL, at_limit))["prediction"].shape == (100, 1)
    # Rows that disagree across inputs fail inside the graph, not the server.
    expect_error(lambda: server.predict(MODEL, dict(feed, item_id=feed["item_id"][:3])),
                 codes.INVALID_ARGUMENT)
    # A bag entry for row 9 of a batch of 4.
    bad_bag = dict(feed, clicked_items_indices=np.array([[9, 0]], np.int64),
                   clicked_items_values=np.array([1], np.int64))
    expect_error(lambda: server.predict(MODEL, bad_bag), codes.INVALID_ARGUMENT)
    # tensor_content whose length does not match the shape.
    request = predict_request(MODEL, feed)
    request.inputs["context"].tensor_content = request.inputs["context"].tensor_content[:-4]
    expect_error(lambda: server.stub.Predict(request, timeout=30), codes.INVALID_ARGUMENT,
                 "context")
    # A shape that claims more elements than memory holds.
    request = predict_request(MODEL, feed)
    request.inputs["context"].tensor_shape.dim[0].size = 1 << 40
    expect_error(lambda: server.stub.Predict(request, timeout=30), codes.INVALID_ARGUMENT,
                 "context")
    # The server is unharmed.
    assert outputs_of(server.predict(MODEL, feed))["prediction"].shape == (4, 1)


def test_garbage_truncated_and_oversized_requests(ctr_server):
    server = ctr_server
    feed, _ = make_batch(4, np.random.default_rng(4))
    method = "/tensorflow.serving.PredictionService/Predict"
    payload = predict_request(MODEL, feed).SerializeToString()
    for junk in [b"\xff" * 64, payload[: len(payload) // 2], payload[:-3],
                 np.random.default_rng(0).bytes(4096)]:
        with pytest.raises(grpc.RpcError) as error:
            server.raw_call(method, junk)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    oversized = dict(feed, context=np.zeros((4, 1 << 17), np.float32))  # 2 MiB > 1 MiB limit
    expect_error(lambda: server.predict(MODEL, oversized), grpc.StatusCode.RESOURCE_EXHAUSTED)
    for rpc in ["Classify", "Regress", "MultiInference"]:
        with pytest.raises(grpc.RpcError) as error:
            server.raw_call(f"/tensorflow.serving.PredictionService/{rpc}", b"")
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert outputs_of(server.predict(MODEL, feed))["prediction"].shape == (4, 1)


def test_health_and_sigterm(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    export_version(recship, model_dir, base, 2)
    server = serve("--model_name", MODEL, "--model_base_path", base)
    assert server.health() == 1
    assert server.health(MODEL) == 1
    assert server.health("unknown") == "NOT_FOUND"
    assert "127.0.0.1:" in server.address
    assert server.stop() == 0
    log = server.log()
    assert "version 2 loaded in" in log and "SIGTERM" in log and "stopped" in log


def test_model_config_file_and_version_policies(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    for step in (1, 2):
        export_version(recship, model_dir, base, step)
    feed, bags = make_batch(8, np.random.default_rng(8))
    config = tmp_path / "models.config"
    config.write_text(f"""
model_config_list {{
  config {{ name: "every" base_path: "{base}" model_platform: "tensorflow"
           model_version_policy {{ all {{}} }} }}
  config {{ name: "first" base_path: "{base}"
           model_version_policy {{ specific {{ versions: 1 }} }} }}
  config {{ name: "latest" base_path: "{base}" }}
}}
""")
    server = serve("--model_config_file", config)
    for name, version, step in [("every", 1, 1), ("every", 2, 2), ("every", None, 2),
                                ("first", None, 1), ("latest", None, 2)]:
        response = server.predict(name, feed, version=version)
        assert response.model_spec.version.value == step
        assert_close(outputs_of(response)["prediction"],
                     numpy_predictions(model_dir / f"model.ckpt-{step}", feed, bags))
    expect_error(lambda: server.predict("latest", feed, version=1), grpc.StatusCode.NOT_FOUND)


def test_serve_refuses_bad_configuration(recship, tmp_path):
    config = tmp_path / "bad.config"
    config.write_text("model_config_list { config { name: 'x' base_path: '/tmp' }\n  oops }")
    result = recship.fails("serve", "--model_config_file", config)
    assert str(config) in result.stderr and "line 2" in result.stderr
    result = recship.fails("serve", "--model_name", "x")
    assert "--model_base_path" in result.stderr


def test_unsupported_op_fails_the_load_naming_node_and_op(recship, tmp_path, serve):
    base = tmp_path / "strings"
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        words = tf.compat.v1.placeholder(tf.string, [None], name="words")
        length = tf.strings.length(words, name="word_length")
        builder = tf.compat.v1.saved_model.Builder(str(base / "1"))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={
            "serving_default": tf.compat.v1.saved_model.predict_signature_def(
                {"words": words}, {"length": length})})
        builder.save()
    server = serve("--model_name", "strings", "--model_base_path", base)
    assert "word_length" in server.log() and "StringLength" in server.log()
    assert server.health("strings") == 2
    expect_error(lambda: server.predict("strings", {"words": np.array([b"a"])}),
                 grpc.StatusCode.NOT_FOUND)


def test_predict_command_prints_outputs(recship, model_dir, tmp_path, serve):
    base = tmp_path / "export"
    path = export_version(recship, model_dir, base, 2)
    server = serve("--model_name", MODEL, "--model_base_path", base)
    feed, _ = make_batch(3, np.random.default_rng(3))
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({k: v.tolist() for k, v in feed.items() if k != "context"}))
    result = recship.ok("predict", "--server", server.address, "--model-name", MODEL,
                        "--inputs-json", inputs, "--input",
                        f"context={json.dumps(feed['context'].tolist())}")
    printed = json.loads(result.stdout)
    assert printed["model_spec"]["version"] == 2
    assert_close(np.array(printed["outputs"]["prediction"], np.float32), predict_tf1(path, feed))
    failed = recship.fails("predict", "--server", server.address, "--model-name", MODEL,
                           "--input", "user_id=[1]")
    assert "missing input" in failed.stderr


def test_random_hostile_requests_never_crash_the_server(ctr_server):
    """Random mixes of missing, extra, mistyped, misshapen and out-of-range
    inputs: each gets an answer (never INTERNAL or a dead server)."""
    server = ctr_server
    rng = np.random.default_rng(2026)
    good, _ = make_batch(8, rng)
    dtypes = [np.int64, np.int32, np.float32, np.float64, np.bool_]
    answered = set()
    for _ in range(300):
        feed = {}
        for name, value in good.items():
            roll = rng.random()
            if roll < 0.1:
                continue  # missing
            if roll < 0.2:
                value = value.astype(rng.choice(dtypes))
            elif roll < 0.35:
                shape = tuple(int(d) for d in rng.integers(0, 5, rng.integers(0, 4)))
                value = rng.integers(-10, 10, shape).astype(value.dtype)
            elif roll < 0.5 and value.size:
                value = value.copy()
                value.flat[rng.integers(0, value.size)] = rng.choice(
                    [-(2**62), -1, 2**31, 2**62]).astype(value.dtype)
            feed[name] = value
        if rng.random() < 0.1:
            feed["surplus"] = np.zeros(3, np.float32)
        try:
            server.predict(MODEL, feed, timeout=30)
            answered.add("OK")
        except grpc.RpcError as error:
            assert error.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE,
                                        grpc.StatusCode.UNKNOWN), error.details()
            answered.add(error.code().name)
    assert "INVALID_ARGUMENT" in answered
    assert server.process.poll() is None
    assert outputs_of(server.predict(MODEL, good))["prediction"].shape == (8, 1)
