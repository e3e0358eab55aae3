"""`recship serve --layout_base_path --layout_filter`: one process hosts a
chosen subset of a distributed layout's sub-models. Two processes split the
CTR layout (ps_0 + ps_2 in one; ps_1 + ps_3 + the entry in the other, whose
entry calls both) and predict what the standalone export predicts in
TensorFlow; each process serves exactly the sub-models its filters choose."""

import grpc
import numpy as np
import pytest
import tensorflow as tf

from ctr_model import DIM, NUM_PS, export, make_batch, predict_tf1
from recship_server import Server, assert_close, outputs_of
from test_distributed import MODEL, TABLES, export_distributed, free_port

ALL = [MODEL] + [f"{MODEL}:ps_{i}" for i in range(NUM_PS)]


@pytest.fixture(scope="module")
def layout(recship, model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("layout") / "export"
    paths = export_distributed(recship, model_dir, base, "--global-step-as-timestamp")
    assert sorted(paths) == ["entry"] + [f"ps_{i}" for i in range(NUM_PS)]
    standalone = export(recship, model_dir, tmp_path_factory.mktemp("standalone") / "export",
                        "--global-step", 2)
    return base, standalone


def serve_layout(recship, base, log_path, port, *flags):
    return Server(recship.path, ["--layout_base_path", base, "--model_name", MODEL, *flags],
                  log_path, port=port)


@pytest.fixture
def split(recship, layout, tmp_path):
    """(even, odd): even hosts ps_0, ps_2; odd hosts ps_1, ps_3 and the entry."""
    base, _ = layout
    even_port, odd_port = free_port(), free_port()
    while odd_port == even_port:
        odd_port = free_port()
    even = serve_layout(recship, base, tmp_path / "even.log", even_port,
                        "--layout_filter", "ps_{i}; i % 2 == 0")
    addresses = ",".join(f"ps_{i}=127.0.0.1:{even_port if i % 2 == 0 else odd_port}"
                         for i in range(NUM_PS))
    try:
        odd = serve_layout(recship, base, tmp_path / "odd.log", odd_port,
                           "--layout_filter=ps_{i}; i % 2 == 1", "--layout_filter=entry",
                           "--remote_addresses", addresses)
    except BaseException:
        even.stop()
        raise
    yield even, odd
    codes = [odd.stop(), even.stop()]
    assert codes == [0, 0], [even.log(), odd.log()]


def lookup_feed(shard, reader):
    """Ids of `shard` (three known, one unseen) and their checkpoint rows."""
    feed, want = {}, {}
    for table in TABLES:
        keys = reader.get_tensor(f"{table}/shard_{shard}-keys")[:3]
        values = reader.get_tensor(f"{table}/shard_{shard}-values")[:3]
        feed[table] = np.concatenate([keys, [10**12 * NUM_PS + shard]]).astype(np.int64)
        want[table] = np.concatenate([values, np.zeros((1, DIM), np.float32)])
    return feed, want


def assert_serves_exactly(server, hosted, model_dir):
    reader = tf.train.load_checkpoint(str(model_dir / "model.ckpt-2"))
    for name in ALL:
        if name in hosted:
            assert server.health(name) == 1, f"{name} is not SERVING:\n{server.log()}"
        else:
            assert server.health(name) == "NOT_FOUND", name
        if name == MODEL:
            feed, _ = make_batch(2, np.random.default_rng(1))
            call = lambda: server.predict(MODEL, feed)
        else:
            feed, want = lookup_feed(int(name.rsplit("_", 1)[1]), reader)
            call = lambda: server.predict(name, feed, signature="lookup")
        if name in hosted:
            outputs = outputs_of(call())
            if name != MODEL:
                for table in TABLES:
                    np.testing.assert_array_equal(outputs[table], want[table])
        else:
            with pytest.raises(grpc.RpcError) as error:
                call()
            assert error.value.code() == grpc.StatusCode.NOT_FOUND, (name, error.value.details())
            assert name in error.value.details()


def test_two_processes_split_the_layout_and_predict_like_standalone(split, layout, model_dir):
    even, odd = split
    _, standalone = layout
    rng = np.random.default_rng(11)
    for batch in [1, 1000]:
        feed, _ = make_batch(batch, rng)
        got = outputs_of(odd.predict(MODEL, feed))["prediction"]
        assert got.shape[0] == batch
        assert_close(got, predict_tf1(standalone, feed))
    # Ids of the even shards only (on the other process), and of the odd only (its own).
    for shard_parity in [0, 1]:
        feed, _ = make_batch(5, rng)
        ids = np.array([4 * k + shard_parity + 2 * (k % 2) for k in range(5)], np.int64)
        feed["user_id"], feed["item_id"] = ids, ids[::-1].copy()
        feed["clicked_items_values"] = np.resize(ids, len(feed["clicked_items_values"]))
        got = outputs_of(odd.predict(MODEL, feed))["prediction"]
        assert_close(got, predict_tf1(standalone, feed))

    assert_serves_exactly(even, {f"{MODEL}:ps_0", f"{MODEL}:ps_2"}, model_dir)
    assert_serves_exactly(odd, {MODEL, f"{MODEL}:ps_1", f"{MODEL}:ps_3"}, model_dir)
    assert "serving" in even.log() and f"as '{MODEL}:ps_2'" in even.log()


def test_no_filter_serves_the_whole_layout(recship, layout, model_dir, tmp_path):
    base, standalone = layout
    port = free_port()
    server = serve_layout(recship, base, tmp_path / "all.log", port,
                          "--remote_address_template", f"127.0.0.1:{port}")
    try:
        assert_serves_exactly(server, set(ALL), model_dir)
        feed, _ = make_batch(64, np.random.default_rng(12))
        assert_close(outputs_of(server.predict(MODEL, feed))["prediction"],
                     predict_tf1(standalone, feed))
    finally:
        assert server.stop() == 0, server.log()


def test_layout_flag_errors(recship, layout):
    base, _ = layout
    serve = lambda *flags: recship.fails("serve", "--port", 0, *flags, timeout=30).stderr

    bad = serve("--layout_base_path", base, "--model_name", MODEL,
                "--layout_filter", "entry", "--layout_filter", "ps_{i}; i % 2 = 0")
    assert "'ps_{i}; i % 2 = 0'" in bad and "column 15" in bad and "'='" in bad, bad
    deep = "ps_{i}; " + "(" * 1000 + "i == 1" + ")" * 1000
    assert "nest more than" in serve("--layout_base_path", base, "--model_name", MODEL,
                                     "--layout_filter", deep)
    none = serve("--layout_base_path", base, "--model_name", MODEL,
                 "--layout_filter", "ps_{i}; i >= 4", "--layout_filter", "dense_0")
    assert "'ps_{i}; i >= 4', 'dense_0'" in none, none
    assert "entry, ps_0, ps_1, ps_2, ps_3" in none, none
    both = serve("--layout_base_path", base, "--model_name", MODEL,
                 "--model_base_path", base / "entry")
    assert "--layout_base_path" in both and "--model_base_path" in both, both
    config = serve("--layout_base_path", base, "--model_name", MODEL,
                   "--model_config_file", base / "models.config")
    assert "--model_config_file" in config, config
    assert "--model_name" in serve("--layout_base_path", base)
    assert "--layout_base_path" in serve("--model_base_path", base / "entry",
                                         "--layout_filter", "entry")
    assert "cannot list" in serve("--layout_base_path", base / "missing", "--model_name", MODEL)
