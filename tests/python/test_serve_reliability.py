"""What `recship serve` promises under hostile requests and unlucky operators,
judged with TensorFlow Serving's Python client and, where TensorFlow runs the
same graph, by TensorFlow: request memory is bounded per request and per
process whatever the concurrency, bag shapes and indices are checked before
any kernel runs, unparseable bytes are INVALID_ARGUMENT, and a version copied
into place (or broken, then mended) is loaded by retrying."""

import shutil
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf

from ctr_model import export, make_batch, predict_tf1
from recship_server import outputs_of, predict_request

MODEL = "ctr"
MIB = 1 << 20


@pytest.fixture(scope="module")
def version(recship, model_dir, tmp_path_factory):
    """A standalone export, version 2."""
    return Path(export(recship, model_dir, tmp_path_factory.mktemp("export") / "base",
                       "--global-step", 2))


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss(pid):
    """Makes VmHWM start again from the current RSS (Linux 4.0 and later)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def storm(server, requests):
    """Sends every request at once from its own thread; the codes, by name."""
    codes, messages = [], []
    lock = threading.Lock()

    def send(request):
        try:
            server.stub.Predict(request, timeout=120)
            code, message = "OK", ""
        except grpc.RpcError as error:
            code, message = error.code().name, error.details()
        with lock:
            codes.append(code)
            messages.append(message)

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes, messages


def test_a_bags_rows_must_be_the_batch_and_cost_nothing(version, serve):
    """A batch of 3 whose bag claims 30,000,000 rows made the server pool (and
    TensorFlow allocate) about 1 GB before ConcatV2 refused the shapes."""
    server = serve("--model_name", MODEL, "--model_base_path", version.parent)
    feed, _ = make_batch(3, np.random.default_rng(3))
    columns = feed["clicked_items_dense_shape"][1]
    hostile = dict(feed, clicked_items_dense_shape=np.array([30_000_000, columns], np.int64))
    pid = server.process.pid
    reset_peak_rss(pid)
    before = status_kib(pid, "VmRSS")
    codes, messages = storm(server, [predict_request(MODEL, hostile)] * 16)
    assert codes == ["INVALID_ARGUMENT"] * 16, messages
    assert "'clicked_items_dense_shape' says 30000000 rows" in messages[0]
    assert "batch of 3" in messages[0]
    grown_mib = (status_kib(pid, "VmHWM") - before) / 1024
    assert grown_mib < 64, f"16 refused requests took {grown_mib:.0f} MiB"
    assert outputs_of(server.predict(MODEL, feed))["prediction"].shape == (3, 1)


def test_concurrent_heavy_requests_stay_within_the_memory_budgets(version, serve):
    """16 valid requests that each need about 30 MiB of tensors, at once,
    against budgets of 8 MiB per request and 32 MiB for the process: every one
    is refused with RESOURCE_EXHAUSTED and the peak RSS stays under the
    process budget plus the requests' own bytes (gRPC's buffer and the parsed
    message), where unbounded they would take about 500 MiB."""
    server = serve("--model_name", MODEL, "--model_base_path", version.parent,
                   "--max_request_memory_mib", 8, "--max_memory_mib", 32)
    small, _ = make_batch(64, np.random.default_rng(64))
    assert outputs_of(server.predict(MODEL, small))["prediction"].shape == (64, 1)
    heavy, _ = make_batch(40_000, np.random.default_rng(40))
    request = predict_request(MODEL, heavy)
    request_mib = request.ByteSize() / MIB
    pid = server.process.pid
    reset_peak_rss(pid)
    before = status_kib(pid, "VmRSS")
    codes, messages = storm(server, [request] * 16)
    assert set(codes) == {"RESOURCE_EXHAUSTED"}, messages
    assert any("--max_request_memory_mib 8" in m for m in messages), messages
    grown_mib = (status_kib(pid, "VmHWM") - before) / 1024
    bound = 32 + 16 * 2 * request_mib + 48  # budget, messages, allocator slack
    assert grown_mib < bound, f"peak grew {grown_mib:.0f} MiB (bound {bound:.0f})"
    # The budgets came back: a request that fits is served again.
    assert outputs_of(server.predict(MODEL, small))["prediction"].shape == (64, 1)


def test_bag_indices_outside_the_dense_shape_are_refused_like_tensorflow(version, serve):
    """TensorFlow refuses these inside SparseSegmentMean; recship refuses them
    before any kernel, naming the input. A row of 2^32 + 2 used to wrap to
    row 2 in the graph's int32 cast and answer OK."""
    server = serve("--model_name", MODEL, "--model_base_path", version.parent)
    feed, _ = make_batch(3, np.random.default_rng(5))
    feed.update(clicked_items_indices=np.array([[0, 0], [2, 0]], np.int64),
                clicked_items_values=np.array([5, 7], np.int64),
                clicked_items_dense_shape=np.array([3, 1], np.int64))
    np.testing.assert_allclose(outputs_of(server.predict(MODEL, feed))["prediction"],
                               predict_tf1(version, feed), rtol=1e-5, atol=1e-7)
    for row, column in [(2**32 + 2, 0), (3, 0), (-1, 0), (0, 1)]:
        bad = dict(feed, clicked_items_indices=np.array([[0, 0], [row, column]], np.int64))
        with pytest.raises(grpc.RpcError) as error:
            server.predict(MODEL, bad)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'clicked_items_indices'" in error.value.details()
        assert f"[{row}, {column}], outside dense_shape [3, 1]" in error.value.details()
        if column == 0:  # TensorFlow ignores the column index.
            with pytest.raises(tf.errors.InvalidArgumentError):
                predict_tf1(version, bad)


def test_unparseable_request_bytes_are_invalid_argument(version, serve):
    server = serve("--model_name", MODEL, "--model_base_path", version.parent)
    feed, _ = make_batch(4, np.random.default_rng(4))
    payload = predict_request(MODEL, feed).SerializeToString()
    for method in ["Predict", "GetModelMetadata"]:
        for junk in [b"\xff" * 64, payload[: len(payload) // 2], payload[:-3]]:
            with pytest.raises(grpc.RpcError) as error:
                server.raw_call(f"/tensorflow.serving.PredictionService/{method}", junk)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
            assert f"PredictionService/{method}" in error.value.details()
            assert "not a valid protobuf message" in error.value.details()
    assert outputs_of(server.predict(MODEL, feed))["prediction"].shape == (4, 1)


def wait_for_version(server, version, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return server.predict(MODEL, make_batch(2, np.random.default_rng(2))[0],
                                  version=version)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
            assert time.monotonic() < deadline, f"version {version} never loaded:\n{server.log()}"
            time.sleep(0.1)


def test_a_version_copied_into_place_is_loaded(version, serve, tmp_path):
    """`cp -r` makes the folder first and fills it later."""
    base = tmp_path / "base"
    shutil.copytree(version, base / "2")
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", 0.2, "--load_retry_interval_micros", 500_000)
    (base / "9").mkdir()
    time.sleep(2.5)
    shutil.copytree(version, base / "9", dirs_exist_ok=True)
    assert wait_for_version(server, 9, timeout=10).model_spec.version.value == 9
    assert "version 9: waiting for its saved_model.pb" in server.log()


def test_a_failed_load_is_retried_then_given_up_until_the_files_change(version, serve, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(version, base / "2")
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", 0.1, "--max_num_load_retries", 2,
                   "--load_retry_interval_micros", 200_000)
    staging = tmp_path / "staging"
    shutil.copytree(version, staging)
    (staging / "saved_model.pb").write_bytes(b"not a SavedModel")
    broken = base / "5"
    staging.rename(broken)  # Published whole, as recship and TensorFlow do.
    server.wait_for_log(r"version 5 failed to load: .*giving up after 3 attempts")
    log = server.log()
    assert "version 5 failed to load (attempt 1 of 3)" in log
    assert "version 5 failed to load (attempt 2 of 3)" in log
    time.sleep(1)
    assert server.log().count("version 5 failed to load") == 3, "retried after giving up"
    # Version 2 served all along; mending the files brings version 5.
    assert server.predict(MODEL, make_batch(2, np.random.default_rng(1))[0]).model_spec.version.value == 2
    shutil.copy(version / "saved_model.pb", broken / "saved_model.pb")
    assert wait_for_version(server, 5, timeout=10).model_spec.version.value == 5
