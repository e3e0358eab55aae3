"""`recship serve --monitoring_config_file`: Prometheus' text format on the
REST port, read with prometheus_client's own parser, under TensorFlow
Serving's metric names (request count and latency, load and warmup latency)
and recship's (table rows and bytes, versions loaded, remote calls). Counts
are checked against the requests the test sent and the rows the checkpoint
holds (TensorFlow's reader)."""

import socket
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families

from ctr_model import NUM_PS, SPEC, make_batch
from test_rest import http

MODEL = "ctr"
TABLES = ["item_id", "user_id"]
DIM = 8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(server, path="/monitoring/prometheus/metrics"):
    """Every sample of the endpoint: [(sample name, labels, value)]."""
    with urllib.request.urlopen(f"http://{server.rest_address}{path}", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def matching(samples, name, **labels):
    """Values of the samples named `name` whose labels include these. The
    parser names a counter's samples <name>_total (TensorFlow Serving's names
    have no suffix)."""
    return [v for n, l, v in samples
            if n in (name, name + "_total") and all(l.get(k) == w for k, w in labels.items())]


def value(samples, name, **labels):
    """The one sample of `name` with these labels."""
    found = matching(samples, name, **labels)
    assert len(found) == 1, (name, labels, [s for s in samples if s[0].startswith(name)])
    return found[0]


@pytest.fixture(scope="module")
def layout_server(recship, model_dir, tmp_path_factory):
    """One process serving a distributed export (entry and every shard),
    the entry calling the shards on its own port."""
    from recship_server import Server

    root = tmp_path_factory.mktemp("metrics")
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base",
               root / "layout", "--mode", "distributed", "--checkpoint",
               model_dir / "model.ckpt-2", "--global-step", 2)
    config = root / "monitoring.config"
    config.write_text("prometheus_config { enable: true path: "
                      '"/monitoring/prometheus/metrics" }\n')
    port = free_port()
    server = Server(recship.path, ["--layout_base_path", root / "layout", "--model_name", MODEL,
                                   "--remote_address_template", f"127.0.0.1:{port}",
                                   "--rest_api_port", -1, "--monitoring_config_file", config],
                    root / "serve.log", port=port)
    server.layout = root / "layout"
    yield server
    assert server.stop() == 0, server.log()


def test_requests_are_counted_by_model_status_and_entrypoint(layout_server):
    before = scrape(layout_server)
    feed, _ = make_batch(8, np.random.default_rng(3))
    grpc_calls, rest_calls = 5, 3
    for _ in range(grpc_calls):
        layout_server.predict(MODEL, feed)
    for _ in range(rest_calls):
        code, _ = http(layout_server, "POST", f"/v1/models/{MODEL}:predict",
                       {"inputs": {k: v.tolist() for k, v in feed.items()}})
        assert code == 200
    with pytest.raises(grpc.RpcError):
        layout_server.predict("nope", feed)
    after = scrape(layout_server)

    def delta(name, **labels):
        return sum(matching(after, name, **labels)) - sum(matching(before, name, **labels))

    count = ":tensorflow:serving:request_count"
    assert delta(count, model_name=MODEL, status="OK") == grpc_calls + rest_calls
    assert delta(count, model_name="nope", status="NOT_FOUND") == 1
    latency = ":tensorflow:serving:request_latency"
    for entrypoint, calls in (("GRPC", grpc_calls), ("REST", rest_calls)):
        labels = dict(model_name=MODEL, API="predict", entrypoint=entrypoint)
        assert delta(latency + "_count", **labels) == calls
        buckets = [(float(l["le"]), v) for n, l, v in after
                   if n == latency + "_bucket" and all(l[k] == w for k, w in labels.items())]
        assert len(buckets) == 34 and buckets == sorted(buckets), "cumulative buckets in order"
        assert buckets[-1] == (float("inf"), value(after, latency + "_count", **labels))
        assert value(after, latency + "_sum", **labels) > 0
    # Each entry request called every shard once, and none failed.
    remote = ":recship:remote_call_latency_count"
    for shard in range(NUM_PS):
        assert delta(remote, model_name=f"{MODEL}:ps_{shard}") == grpc_calls + rest_calls
    assert not matching(after, ":recship:remote_call_errors")


def test_tables_versions_and_loads_match_the_checkpoint(layout_server, model_dir):
    families = scrape(layout_server)
    reader = tf.train.load_checkpoint(str(model_dir / "model.ckpt-2"))
    for shard in range(NUM_PS):
        name = f"{MODEL}:ps_{shard}"
        assert value(families, ":recship:versions_loaded", model_name=name) == 1
        for table in TABLES:
            rows = len(reader.get_tensor(f"{table}/shard_{shard}-keys"))
            labels = dict(model_name=name, version="2", table=table)
            assert value(families, ":recship:table_rows", **labels) == rows
            assert value(families, ":recship:table_bytes", memory="mapped", **labels) == \
                rows * DIM * 4
        path = str(layout_server.layout / f"ps_{shard}" / "2")
        assert value(families, ":tensorflow:cc:saved_model:load_attempt_count", model_path=path,
                     status="success") == 1
        assert value(families, ":tensorflow:cc:saved_model:load_latency", model_path=path) > 0
    assert value(families, ":recship:versions_loaded", model_name=MODEL) == 1


def test_a_warmup_replay_is_timed(recship, model_dir, tmp_path, serve):
    export = ["export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base",
              tmp_path / "base", "--checkpoint", model_dir / "model.ckpt-2"]
    recship.ok(*export, "--global-step", 1)
    recship.ok("warmup", "--saved-model", tmp_path / "base" / "1", "--out", tmp_path / "warmup",
               "--count", 3)
    recship.ok(*export, "--global-step", 2, "--warmup-file", tmp_path / "warmup")
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enable: true }\n")
    server = serve("--model_name", MODEL, "--model_base_path", tmp_path / "base",
                   "--rest_api_port", -1, "--monitoring_config_file", config)
    samples = scrape(server)
    warmup = ":tensorflow:serving:model_warmup_latency"
    path = str(tmp_path / "base" / "2")
    assert value(samples, warmup + "_count", model_path=path, status="OK") == 1
    assert value(samples, warmup + "_sum", model_path=path, status="OK") > 0


def test_prometheus_needs_the_rest_port_and_a_valid_config(recship, tmp_path):
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enable: true }\n")
    result = recship.fails("serve", "--model_base_path", tmp_path, "--monitoring_config_file",
                           config)
    assert "--rest_api_port" in result.stderr
    config.write_text("prometheus_config { enable: true path: 'metrics' }\n")
    result = recship.fails("serve", "--model_base_path", tmp_path, "--rest_api_port", -1,
                           "--monitoring_config_file", config)
    assert str(config) in result.stderr and "must start with '/'" in result.stderr
    config.write_text("prometheus_config { oops }\n")
    result = recship.fails("serve", "--model_base_path", tmp_path, "--monitoring_config_file",
                           config)
    assert str(config) in result.stderr and "MonitoringConfig" in result.stderr
