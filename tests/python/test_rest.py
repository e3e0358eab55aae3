"""`recship serve --rest_api_port`: TensorFlow Serving's REST API, called over
HTTP (urllib) and judged by TensorFlow Serving's gRPC client on the same
server, by numpy and by TensorFlow: model status and metadata JSON parse into
TensorFlow Serving's own protos and equal the gRPC answers; predictions in
the row and columnar formats equal gRPC's; bad requests get TensorFlow
Serving's HTTP codes and {"error": ...}; random bodies never crash it."""

import base64
import json
import random
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from ctr_model import export, make_batch, numpy_predictions
from recship_server import assert_close, outputs_of
from test_tf_written_saved_model import build_tf1_graph, feed as tf1_feed

MODEL = "ctr"


def http(server, method, path, body=None, raw=None):
    """(HTTP code, parsed JSON body) of one request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://{server.rest_address}{path}", data=data,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Type"] == "application/json"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def write_strings_model(base):
    """A model with a string input: echo (the strings) and echo_bytes (the
    same, written as base64 by the REST API)."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        words = tf.compat.v1.placeholder(tf.string, [None], name="words")
        outputs = {"echo": tf.identity(words), "echo_bytes": tf.identity(words)}
        builder = tf.compat.v1.saved_model.Builder(str(base / "1"))
        builder.add_meta_graph_and_variables(sess, ["serve"], {
            "serving_default": tf.compat.v1.saved_model.predict_signature_def(
                {"words": words}, outputs)})
        builder.save()


def write_tf1_model(base):
    """The TF1 ranking model (ids, dense -> prob, mean), and what TensorFlow
    computes on its feed."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        inputs, outputs = build_tf1_graph()
        sess.run(tf.compat.v1.global_variables_initializer())
        expected = sess.run(outputs, {inputs[k]: v for k, v in tf1_feed().items()})
        builder = tf.compat.v1.saved_model.Builder(str(base / "1"))
        builder.add_meta_graph_and_variables(sess, ["serve"], {
            "serving_default": tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)})
        builder.save()
    return expected


@pytest.fixture(scope="module")
def rest_server(recship, model_dir, tmp_path_factory):
    """One server with REST on: ctr (versions 1 and 2, label 'stable' = 1),
    the TF1 model and the strings model."""
    from recship_server import Server

    root = tmp_path_factory.mktemp("rest")
    for step in (1, 2):
        export(recship, model_dir, root / MODEL, "--checkpoint", model_dir / f"model.ckpt-{step}",
               "--global-step", step)
    tf1_expected = write_tf1_model(root / "tf1")
    write_strings_model(root / "strings")
    config = root / "models.config"
    config.write_text(f"""model_config_list {{
  config {{ name: "{MODEL}" base_path: "{root / MODEL}" model_version_policy {{ all {{}} }}
           version_labels {{ key: "stable" value: 1 }} }}
  config {{ name: "tf1" base_path: "{root / 'tf1'}" }}
  config {{ name: "strings" base_path: "{root / 'strings'}" }}
}}""")
    server = Server(recship.path, ["--model_config_file", config, "--rest_api_port", -1,
                                   "--max_request_mib", 1], root / "serve.log")
    server.tf1_expected = tf1_expected
    yield server
    assert server.stop() == 0, server.log()


def test_status_equals_grpc_get_model_status(rest_server):
    for path, spec in [(f"/v1/models/{MODEL}", {}), (f"/v1/models/{MODEL}/versions/1", {"version": 1}),
                       (f"/v1/models/{MODEL}/labels/stable", {"label": "stable"})]:
        code, body = http(rest_server, "GET", path)
        assert code == 200, body
        got = json_format.ParseDict(body, get_model_status_pb2.GetModelStatusResponse())
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = MODEL
        if "version" in spec:
            request.model_spec.version.value = spec["version"]
        if "label" in spec:
            request.model_spec.version_label = spec["label"]
        stub = model_service_pb2_grpc.ModelServiceStub(rest_server.channel)
        assert got == stub.GetModelStatus(request, timeout=30), path
    code, body = http(rest_server, "GET", f"/v1/models/{MODEL}")
    assert [v["version"] for v in body["model_version_status"]] == ["2", "1"]
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    assert body["model_version_status"][0]["status"] == {"error_code": "OK", "error_message": ""}


def test_metadata_equals_grpc_get_model_metadata(rest_server):
    code, body = http(rest_server, "GET", f"/v1/models/{MODEL}/versions/1/metadata")
    assert code == 200, body
    assert body["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    response, signatures = rest_server.metadata(MODEL, version=1)
    assert json_format.MessageToDict(signatures, preserving_proto_field_name=True) == \
        json_format.MessageToDict(json_format.ParseDict(body["metadata"]["signature_def"],
                                                        type(signatures)()),
                                  preserving_proto_field_name=True)
    assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]


def test_columnar_predict_equals_grpc_and_numpy(rest_server, model_dir):
    feed, bags = make_batch(16, np.random.default_rng(16))
    inputs = {name: value.tolist() for name, value in feed.items()}
    for path, step in [(f"/v1/models/{MODEL}:predict", 2),
                       (f"/v1/models/{MODEL}/versions/1:predict", 1),
                       (f"/v1/models/{MODEL}/labels/stable:predict", 1)]:
        code, body = http(rest_server, "POST", path, {"inputs": inputs})
        assert code == 200, body
        got = np.array(body["outputs"], np.float32)
        version = None if step == 2 else 1
        want = outputs_of(rest_server.predict(MODEL, feed, version=version))["prediction"]
        np.testing.assert_array_equal(got, want)  # Floats are written to read back exactly.
        assert_close(got, numpy_predictions(model_dir / f"model.ckpt-{step}", feed, bags))


def test_row_predict_equals_tensorflow(rest_server):
    feed = tf1_feed()
    instances = [{"ids": int(i), "dense": d.tolist()} for i, d in zip(feed["ids"], feed["dense"])]
    code, body = http(rest_server, "POST", "/v1/models/tf1:predict",
                      {"instances": instances, "signature_name": "serving_default"})
    assert code == 200, body
    assert len(body["predictions"]) == len(instances)
    assert sorted(body["predictions"][0]) == ["mean", "prob"]
    for name in ("mean", "prob"):
        got = np.array([row[name] for row in body["predictions"]], np.float32)
        np.testing.assert_allclose(got, rest_server.tf1_expected[name], rtol=1e-5, atol=1e-6)
    # Columnar, several outputs: an object of them.
    code, body = http(rest_server, "POST", "/v1/models/tf1:predict",
                      {"inputs": {k: v.tolist() for k, v in feed.items()}})
    assert code == 200 and sorted(body["outputs"]) == ["mean", "prob"], body


def test_strings_plain_and_base64(rest_server):
    words = [b"hello", b"\xff\x00binary", "naïve".encode()]
    instances = [{"b64": base64.b64encode(w).decode()} for w in words]
    code, body = http(rest_server, "POST", "/v1/models/strings:predict", {"instances": instances})
    assert code == 200, body
    assert [base64.b64decode(row["echo_bytes"]["b64"]) for row in body["predictions"]] == words
    assert body["predictions"][0]["echo"] == "hello"
    code, body = http(rest_server, "POST", "/v1/models/strings:predict",
                      {"inputs": ["a", "b"]})
    assert code == 200 and body["outputs"]["echo"] == ["a", "b"], body


@pytest.mark.parametrize("method, path, body, raw, code, words", [
    ("POST", f"/v1/models/{MODEL}:predict", None, b"{\"inputs\": [1,", 400, "JSON Parse error"),
    ("POST", f"/v1/models/{MODEL}:predict", None, b"", 400, "document is empty"),
    ("POST", f"/v1/models/{MODEL}:predict", [1, 2], None, 400, "Is not object"),
    ("POST", f"/v1/models/{MODEL}:predict", {"instances": [1], "inputs": [1]}, None, 400,
     "only one of"),
    ("POST", f"/v1/models/{MODEL}:predict", {"foo": 1}, None, 400, "Missing 'inputs'"),
    ("POST", "/v1/models/tf1:predict", {"inputs": {"ids": [1.5], "dense": [[1, 2, 3, 4]]}},
     None, 400, "is not of expected type: int64"),
    ("POST", "/v1/models/tf1:predict", {"inputs": {"ids": [1, 2], "dense": [[1, 2], [3]]}},
     None, 400, "unexpected size"),
    ("POST", "/v1/models/tf1:predict", {"inputs": {"ids": [1]}}, None, 400,
     "Missing named input: dense"),
    ("POST", "/v1/models/tf1:predict", {"inputs": {"ids": [1], "dense": [[1, 2, 3, 4]]},
                                        "signature_name": "nope"}, None, 400,
     'Serving signature name: "nope" not found'),
    ("POST", "/v1/models/strings:predict", {"inputs": [{"b64": "@@@"}]}, None, 400, "base64"),
    ("POST", "/v1/models/nope:predict", {"inputs": [1]}, None, 404, "Servable not found"),
    ("POST", f"/v1/models/{MODEL}/versions/9:predict", {"inputs": [1]}, None, 404,
     f"Specific({MODEL}, 9)"),
    ("POST", f"/v1/models/{MODEL}/labels/nope:predict", {"inputs": [1]}, None, 400,
     "Unrecognized servable version label: nope"),
    ("POST", f"/v1/models/{MODEL}:classify", {"examples": []}, None, 501, "classify"),
    ("GET", f"/v1/models/{MODEL}:predict", None, None, 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}/metadata", {}, None, 400, "Malformed request"),
    ("PUT", f"/v1/models/{MODEL}", {}, None, 400, "Malformed request"),
    ("GET", "/v1/models", None, None, 400, "Missing model name"),
    ("GET", "/v1/models/nope", None, None, 404, "Could not find any versions of model nope"),
    ("GET", "/healthz", None, None, 404, "/v1/"),
    ("POST", f"/v1/models/{MODEL}:predict", None, b"[" * 2_000_000, 413, "larger than"),
])
def test_bad_requests_get_tensorflow_servings_codes(rest_server, method, path, body, raw, code,
                                                    words):
    got_code, got = http(rest_server, method, path, body, raw)
    assert (got_code, list(got)) == (code, ["error"]), got
    assert words in got["error"], got


def test_deep_or_random_bodies_never_crash_the_server(rest_server):
    rng = random.Random(5)
    pieces = [b"{", b"}", b"[", b"]", b'"inputs"', b'"instances"', b":", b",", b"1", b"-1e999",
              b'"b64"', b"null", b"true", b'"\\u0000"', b"\xff", b"1.5", b'{"b64": "QQ=="}']
    bodies = [b"[" * 100_000 + b"]" * 100_000, b'{"inputs": ' + b"[" * 50_000 + b"1" +
              b"]" * 50_000 + b"}"]
    bodies += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(300)]
    for i, raw in enumerate(bodies):
        model = ["tf1", "strings", MODEL][i % 3]
        code, got = http(rest_server, "POST", f"/v1/models/{model}:predict", raw=raw)
        assert code in (200, 400, 501) and (code == 200 or "error" in got), (raw[:80], got)
    code, _ = http(rest_server, "GET", f"/v1/models/{MODEL}")
    assert code == 200
