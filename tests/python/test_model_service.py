"""`recship serve`'s ModelService, called with TensorFlow Serving's Python
client: GetModelStatus reports each version's state (and a failed load's
error), HandleReloadConfigRequest and --model_config_file_poll_wait_seconds
add and remove models while requests to the others keep being answered."""

import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf

from ctr_model import export, make_batch, numpy_predictions
from recship_server import assert_close, outputs_of, predict_request

MODEL = "ctr"
OK = grpc.StatusCode.OK.value[0]
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED.value[0]


@pytest.fixture(scope="module")
def bases(recship, model_dir, tmp_path_factory):
    """Two export bases of the CTR model: 'a' with versions 1 and 2, 'b' with
    version 1."""
    root = tmp_path_factory.mktemp("bases")
    for name, steps in (("a", (1, 2)), ("b", (1,))):
        for step in steps:
            export(recship, model_dir, root / name, "--checkpoint",
                   model_dir / f"model.ckpt-{step}", "--global-step", step)
    return root


def config_text(models):
    """A ModelServerConfig in text format: {name: (base path, policy text)}."""
    entries = "".join(f'config {{ name: "{name}" base_path: "{base}" {policy} }}\n'
                      for name, (base, policy) in models.items())
    return f"model_config_list {{\n{entries}}}\n"


def test_status_of_every_version_one_version_and_a_label(bases, tmp_path, serve):
    config = tmp_path / "models.config"
    config.write_text(config_text({MODEL: (bases / "a", """
        model_version_policy { all {} } version_labels { key: "stable" value: 1 }""")}))
    server = serve("--model_config_file", config)
    assert server.model_status(MODEL) == [(2, "AVAILABLE", OK, ""), (1, "AVAILABLE", OK, "")]
    assert server.model_status(MODEL, version=1) == [(1, "AVAILABLE", OK, "")]
    assert server.model_status(MODEL, label="stable") == [(1, "AVAILABLE", OK, "")]
    with pytest.raises(grpc.RpcError) as error:
        server.model_status(MODEL, version=9)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == f"Could not find version 9 of model {MODEL}"
    with pytest.raises(grpc.RpcError) as error:
        server.model_status("nope")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == "Could not find any versions of model nope"


def test_a_version_that_failed_to_load_reports_its_error(bases, serve, tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    model.export(str(tmp_path / "keras" / "1"), verbose=False)
    config = tmp_path / "models.config"
    config.write_text(config_text({"keras": (tmp_path / "keras", ""), MODEL: (bases / "b", "")}))
    server = serve("--model_config_file", config, "--max_num_load_retries", 0)
    [(version, state, code, message)] = server.model_status("keras")
    assert (version, state, code) == (1, "END", UNIMPLEMENTED)
    assert "StatefulPartitionedCall" in message and "calls function '__inference_" in message
    # Health per model (SERVING 1, NOT_SERVING 2); the server's is both.
    assert (server.health("keras"), server.health(MODEL), server.health("")) == (2, 1, 2)


class Load:
    """Client threads predicting `model` until stopped; every failure kept."""

    def __init__(self, server, model, want, feed, threads=2):
        self.errors, self.answered = [], 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(server, model, want, feed))
                         for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, server, model, want, feed):
        while not self._stop.is_set():
            try:
                assert_close(outputs_of(server.predict(model, feed))["prediction"], want)
                self.answered += 1
            except Exception as error:  # noqa: BLE001 - every failure counts
                self.errors.append(error)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_reload_adds_and_removes_models_while_the_others_serve(bases, model_dir, tmp_path,
                                                              serve):
    server = serve("--model_name", MODEL, "--model_base_path", bases / "a")
    feed, bags = make_batch(8, np.random.default_rng(8))
    want = {step: numpy_predictions(model_dir / f"model.ckpt-{step}", feed, bags)
            for step in (1, 2)}
    load = Load(server, MODEL, want[2], feed)
    try:
        response = server.reload(config_text({MODEL: (bases / "a", ""),
                                              "other": (bases / "b", "")}))
        assert response.status.error_code == OK
        # Loaded before the reload answered.
        assert_close(outputs_of(server.predict("other", feed))["prediction"], want[1])
        assert server.model_status("other") == [(1, "AVAILABLE", OK, "")]
        assert server.health("other") == 1

        response = server.reload(config_text({"other": (bases / "b", "")}))
        assert response.status.error_code == OK
        time.sleep(0.2)
    finally:
        load.stop()
    assert load.answered > 0
    # The removed model's requests fail only after the reload removed it.
    assert all(e.code() == grpc.StatusCode.NOT_FOUND for e in load.errors), load.errors[:3]
    assert server.model_status(MODEL) == [(2, "END", OK, "")]
    assert server.health(MODEL) == 2
    with pytest.raises(grpc.RpcError) as error:
        server.predict(MODEL, feed)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND

    # An invalid config changes nothing and says why.
    with pytest.raises(grpc.RpcError) as error:
        server.reload(config_text({"other": (bases / "b", "")}).replace('"other"', '""'))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert server.model_status("other") == [(1, "AVAILABLE", OK, "")]


def test_the_config_file_is_read_again_and_applied(bases, model_dir, tmp_path, serve):
    config = tmp_path / "models.config"
    config.write_text(config_text({MODEL: (bases / "a", "")}))
    server = serve("--model_config_file", config, "--model_config_file_poll_wait_seconds", 0.2)
    feed, bags = make_batch(8, np.random.default_rng(9))
    want = numpy_predictions(model_dir / "model.ckpt-2", feed, bags)
    load = Load(server, MODEL, want, feed)
    try:
        config.write_text(config_text({MODEL: (bases / "a", ""), "other": (bases / "b", "")}))
        server.wait_for_log(r"new config applied", timeout=30)
        assert server.model_status("other") == [(1, "AVAILABLE", OK, "")]
        config.write_text("model_config_list { oops")
        server.wait_for_log(r"keeping the models served: .*models.config", timeout=30)
    finally:
        load.stop()
    assert load.answered > 0 and not load.errors, load.errors[:3]
    assert server.model_status("other") == [(1, "AVAILABLE", OK, "")]


def test_labels_name_available_versions_over_grpc_and_reloads(recship, bases, model_dir,
                                                              tmp_path, serve):
    config = tmp_path / "models.config"
    labelled = lambda labels: config_text({MODEL: (bases / "a", "model_version_policy { all {} } "
                                           + " ".join(f'version_labels {{ key: "{k}" value: {v} }}'
                                                      for k, v in labels.items()))})
    # A label naming a version that is not there refuses to start ...
    config.write_text(labelled({"stable": 1, "nightly": 3}))
    result = recship.fails("serve", "--model_config_file", config)
    assert "version 3 of model ctr" in result.stderr and "'nightly'" in result.stderr
    # ... unless new labels may name unavailable versions.
    server = serve("--model_config_file", config, "--allow_version_labels_for_unavailable_models")
    feed, bags = make_batch(4, np.random.default_rng(4))
    response = server.stub.Predict(predict_request(MODEL, feed, label="stable"), timeout=30)
    assert response.model_spec.version.value == 1
    assert_close(outputs_of(response)["prediction"],
                 numpy_predictions(model_dir / "model.ckpt-1", feed, bags))
    with pytest.raises(grpc.RpcError) as error:
        server.stub.Predict(predict_request(MODEL, feed, label="nightly"), timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    # Moving an existing label to a version that is not there is refused even
    # so, and the label keeps its version.
    with pytest.raises(grpc.RpcError) as error:
        server.reload(labelled({"stable": 3, "nightly": 3}))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    response = server.stub.Predict(predict_request(MODEL, feed, label="stable"), timeout=30)
    assert response.model_spec.version.value == 1
    assert server.reload(labelled({"stable": 2})).status.error_code == OK
    response = server.stub.Predict(predict_request(MODEL, feed, label="stable"), timeout=30)
    assert response.model_spec.version.value == 2
