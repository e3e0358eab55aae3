"""recship.serving: the model server started in the Python process answers
TensorFlow Serving's own client, REST, and recship's numpy client the same as
numpy computes; the client also calls a `recship serve` process. Errors are
recship.errors exceptions."""

import json
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from conftest import REPO_DIR
from recship import errors, zoo
from recship.model_export import DistributedExporter, StandaloneExporter
from recship.serving import ModelServer, predict
from recship_server import Server, outputs_of, predict_request
from test_distributed import free_port
from zoo_model import load_spec, make_batch, numpy_predictions

SPEC_PATH = REPO_DIR / "examples" / "ctr.json"
SPEC = load_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def exported(recship, tmp_path_factory):
    root = tmp_path_factory.mktemp("py_serving")
    recship.ok("synth", "--model", SPEC_PATH, "--out", root / "model", "--ids", 500, "--steps", 1)
    StandaloneExporter(zoo.model_fn(SPEC_PATH), root / "model", root / "standalone") \
        .export_saved_model(zoo.serving_input_receiver_fn(SPEC_PATH), global_step=4)
    DistributedExporter(zoo.model_fn(SPEC_PATH), root / "model", root / "ctr") \
        .export_saved_model(zoo.serving_input_receiver_fn(SPEC_PATH), global_step=4)
    return root


@pytest.fixture(scope="module")
def feed():
    return make_batch(SPEC, 16, np.random.default_rng(5))


@pytest.fixture(scope="module")
def want(exported, feed):
    return numpy_predictions(SPEC, exported / "model" / "model.ckpt-1", feed)["prediction"]


def test_an_in_process_server_answers_like_numpy_over_every_api(exported, feed, want):
    with ModelServer("ctr", exported / "standalone", rest_api_port=-1) as server:
        mine = predict(server, "ctr", feed)
        with grpc.insecure_channel(server.address) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            theirs = outputs_of(stub.Predict(predict_request("ctr", feed), timeout=30))
        body = json.dumps({"inputs": {k: v.tolist() for k, v in feed.items()}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.rest_port}/v1/models/ctr:predict", body)
        rest = json.loads(urllib.request.urlopen(request, timeout=30).read())["outputs"]
    assert set(mine) == {"prediction"} and mine["prediction"].dtype == np.float32
    np.testing.assert_array_equal(mine["prediction"], theirs["prediction"])
    np.testing.assert_array_equal(np.array(rest, np.float32), mine["prediction"])
    np.testing.assert_allclose(mine["prediction"], want, rtol=1e-5, atol=1e-6)


def test_concurrent_calls_from_python_threads(exported, feed, want):
    results = [None] * 8
    with ModelServer("ctr", exported / "standalone") as server:
        def call(i):
            results[i] = predict(server, "ctr", feed)["prediction"]
        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for got in results:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_distributed_layout_served_in_one_process(exported, feed, want):
    port = free_port()
    addresses = ",".join(f"ps_{i}=127.0.0.1:{port}" for i in range(4))
    with ModelServer("ctr", layout_base_path=exported / "ctr", port=port,
                     remote_addresses=addresses) as server:
        got = predict(server, "ctr", feed)
        shard = predict(server, "ctr:ps_1", {"user_id": np.array([1, 5], np.int64),
                                             "item_id": np.zeros(0, np.int64)},
                        signature_name="lookup")
    np.testing.assert_allclose(got["prediction"], want, rtol=1e-5, atol=1e-6)
    assert shard["user_id"].shape == (2, 8)


def test_the_client_calls_a_recship_serve_process(exported, feed, want, recship, tmp_path):
    server = Server(recship.path, ["--model_name", "ctr", "--model_base_path",
                                   exported / "standalone"], tmp_path / "serve.log")
    try:
        got = predict(server.address, "ctr", feed, version=4, output_filter=["prediction"])
    finally:
        assert server.stop() == 0
    np.testing.assert_allclose(got["prediction"], want, rtol=1e-5, atol=1e-6)


def test_model_status_and_the_log_tell_what_loaded(exported, tmp_path, capfd):
    with ModelServer("ctr", exported / "standalone") as server:
        assert server.model_status("ctr") == {4: ("AVAILABLE", "")}
    with ModelServer("gone", tmp_path / "no_such_base") as server:
        with pytest.raises(errors.NotFoundError, match="gone"):
            server.model_status("gone")
    log = capfd.readouterr().err
    assert "recship.serving: model 'gone': cannot list model base path" in log, log
    assert "no_such_base" in log
    with ModelServer("ctr", exported / "standalone", log=False):
        pass
    assert capfd.readouterr().err == ""


def test_errors_are_recship_exceptions_naming_the_cause(exported, feed, tmp_path):
    with ModelServer("ctr", exported / "standalone") as server:
        with pytest.raises(errors.NotFoundError, match="nope"):
            predict(server, "nope", feed)
        bad = dict(feed, user_id=feed["user_id"].astype(np.float32))
        with pytest.raises(errors.InvalidArgumentError, match="user_id"):
            predict(server, "ctr", bad)
        with pytest.raises(errors.InvalidArgumentError, match=r"inputs\['context'\]"):
            predict(server, "ctr", dict(feed, context=np.ones(2, np.complex64)))
        address = server.address
    with pytest.raises(errors.UnavailableError):
        predict(address, "ctr", feed, timeout=2)
    with pytest.raises(errors.NotFoundError, match="no_such.config"):
        ModelServer(model_config_file=tmp_path / "no_such.config")
    with pytest.raises(errors.InvalidArgumentError, match="model_base_path"):
        ModelServer("ctr")


def test_serve_forever_serves_until_ctrl_c(exported, feed, want):
    script = textwrap.dedent("""
        import sys
        from recship.serving import ModelServer
        server = ModelServer("ctr", sys.argv[1])
        print(server.address, flush=True)
        server.serve_forever()
        print("stopped", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script, str(exported / "standalone")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = process.stdout.readline().strip()
        got = predict(address, "ctr", feed)
        np.testing.assert_allclose(got["prediction"], want, rtol=1e-5, atol=1e-6)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip() == "stopped"
    with pytest.raises(errors.UnavailableError):
        predict(address, "ctr", feed, timeout=2)


def test_a_waiting_call_lets_other_threads_run(exported, feed, recship, tmp_path):
    # A stopped server never answers: the call waits out its deadline with
    # the GIL released, and a counting thread keeps counting meanwhile.
    server = Server(recship.path, ["--model_name", "ctr", "--model_base_path",
                                   exported / "standalone"], tmp_path / "serve.log")
    counted = []
    stop = threading.Event()

    def count():
        n = 0
        while not stop.is_set():
            n += 1
        counted.append(n)

    server.process.send_signal(signal.SIGSTOP)
    try:
        counter = threading.Thread(target=count)
        counter.start()
        with pytest.raises(errors.DeadlineExceededError):
            predict(server.address, "ctr", feed, timeout=1)
        stop.set()
        counter.join()
    finally:
        server.process.send_signal(signal.SIGCONT)
        assert server.stop() == 0
    # Held for the second, the GIL would allow one switch interval (5 ms) of counting.
    assert counted[0] > 2_000_000, counted
