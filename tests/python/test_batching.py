"""`recship serve --enable_batching`: concurrent requests merged into one
session run (bags included) each get exactly the answer numpy computes for
them alone; a bad request in a batch fails alone with its own error; the
batching parameters file is checked; the metrics show batches of several
requests."""

import threading

import grpc
import numpy as np
import pytest

from ctr_model import export, make_batch, numpy_predictions
from recship_server import assert_close, outputs_of
from test_metrics import matching, scrape

MODEL = "ctr"


@pytest.fixture(scope="module")
def base(recship, model_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("batching") / "base"
    export(recship, model_dir, path, "--checkpoint", model_dir / "model.ckpt-2",
           "--global-step", 2)
    return path


def test_batched_requests_each_get_their_own_answer(base, model_dir, tmp_path, serve):
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 20000 }\n"
                          "num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 100 }\n")
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    server = serve("--model_name", MODEL, "--model_base_path", base, "--enable_batching",
                   "--batching_parameters_file", parameters, "--rest_api_port", -1,
                   "--monitoring_config_file", monitoring)
    rng = np.random.default_rng(11)
    # Sizes 1 to 9, bags of 0 to 3 ids each (make_batch), one request per thread.
    requests = [make_batch(int(rng.integers(1, 10)), rng) for _ in range(24)]
    want = [numpy_predictions(model_dir / "model.ckpt-2", feed, bags) for feed, bags in requests]
    bad = dict(requests[5][0])
    bad["clicked_items_dense_shape"] = np.array([1000, 4], np.int64)  # Not its batch.
    results = [None] * len(requests)
    start = threading.Barrier(len(requests) + 1)

    def call(i):
        start.wait()
        try:
            results[i] = outputs_of(server.predict(MODEL, bad if i == 5 else requests[i][0]))
        except grpc.RpcError as error:
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    for i, result in enumerate(results):
        if i == 5:
            assert isinstance(result, grpc.RpcError), result
            assert result.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "clicked_items_dense_shape" in result.details()
            continue
        assert not isinstance(result, grpc.RpcError), result
        assert result["prediction"].shape == (len(requests[i][1]), 1)
        assert_close(result["prediction"], want[i])
    samples = scrape(server)
    merged = [v for n, l, v in samples
              if n == ":recship:batch_requests_bucket" and float(l["le"]) == 1]
    count = matching(samples, ":recship:batch_requests_count", model_name=MODEL)
    assert count and merged and count[0] > merged[0], \
        "some batch merged more than one request"
    # Every good request went through a batch; the bad one, whose inputs
    # disagree on its rows, ran alone.
    assert matching(samples, ":recship:batch_requests_sum", model_name=MODEL)[0] == \
        len(requests) - 1


@pytest.mark.parametrize("text, words", [
    ("max_batch_size { value: 0 }", "max_batch_size must be positive"),
    ("batch_timeout_micros { value: -1 }", "must not be negative"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 4 allowed_batch_sizes: 2",
     "ascending"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 4", "must equal max_batch_size"),
    ("max_batch_size: 8", "BatchingParameters"),
])
def test_bad_batching_parameters_are_refused_naming_the_file(recship, base, tmp_path, text,
                                                            words):
    parameters = tmp_path / "batching.config"
    parameters.write_text(text + "\n")
    result = recship.fails("serve", "--model_base_path", base, "--enable_batching",
                           "--batching_parameters_file", parameters)
    assert str(parameters) in result.stderr and words in result.stderr, result.stderr


def test_batching_parameters_without_enable_batching_is_an_error(recship, base, tmp_path):
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 8 }\n")
    result = recship.fails("serve", "--model_base_path", base, "--batching_parameters_file",
                           parameters)
    assert "--enable_batching" in result.stderr
