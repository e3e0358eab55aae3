"""The distributed layout (entry + ps_<i>), judged by TensorFlow and by
TensorFlow Serving's Python client: each shard loads in stock TensorFlow and
looks up its checkpoint rows; entry + 4 shard processes of `recship serve`
predict what the standalone export and numpy predict; hashtable_assign
updates live; a dead shard gives UNAVAILABLE; the exporter's options."""

import json
import signal
import socket
import subprocess
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from ctr_model import DIM, NUM_PS, SPEC, export, make_batch, numpy_predictions, predict_tf1
from recship_server import Server, assert_close, outputs_of

MODEL = "ctr"
TABLES = ["user_id", "item_id"]


def export_distributed(recship, model_dir, base, *flags):
    """{sub-model: path} from `recship export --mode distributed --json`."""
    out = recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
                     "--mode", "distributed", "--json", *flags).stdout
    return {sub["name"]: sub["path"] for sub in json.loads(out)["sub_models"]}


def load_graph(path):
    saved_model = saved_model_pb2.SavedModel()
    with open(f"{path}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0]


@pytest.fixture(scope="module")
def layout(recship, model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("layout") / "export"
    paths = export_distributed(recship, model_dir, base, "--global-step-as-timestamp")
    standalone = export(recship, model_dir, tmp_path_factory.mktemp("standalone") / "export",
                        "--global-step", 2)
    return base, paths, standalone


def test_layout_and_entry_graph(layout):
    base, paths, _ = layout
    assert sorted(paths) == ["entry"] + [f"ps_{i}" for i in range(NUM_PS)]
    assert all(p.endswith("/2") for p in paths.values()), "all sub-models share version 2"
    entry = load_graph(paths["entry"])
    ops = [node.op for node in entry.graph_def.node]
    assert not [op for op in ops if "HashTable" in op], "the entry graph must hold no table"
    calls = [node for node in entry.graph_def.node if node.op == "TfServingRemotePredict"]
    assert len(calls) == NUM_PS, "one call per shard carries every table's ids"
    for node in calls:
        attr = node.attr
        shard = int(attr["model_name"].s.decode().rsplit("_", 1)[1])
        assert attr["model_name"].s == f"{MODEL}:ps_{shard}".encode()
        assert attr["signature_name"].s == b"lookup"
        assert attr["model_version"].i == -1 and attr["fail_op_on_rpc_error"].b
        assert attr["target_address"].s == b"" and attr["max_rpc_deadline_millis"].i > 0
        assert list(attr["T"].list.type) == [tf.int64.as_datatype_enum] * 2
        assert list(attr["output_types"].list.type) == [tf.float32.as_datatype_enum] * 2
        assert len(node.input) == 4  # input aliases, two id tensors, output aliases
    names = {name for name, _ in tf.train.list_variables(f"{paths['entry']}/variables/variables")}
    assert names == {f"mlp/{l}/{v}" for l in ["dense_0", "dense_1", "logits"]
                     for v in ["kernel", "bias"]}


@pytest.mark.parametrize("shard", range(NUM_PS))
def test_each_shard_loads_in_tensorflow_and_looks_up_its_rows(layout, model_dir, shard):
    _, paths, _ = layout
    reader = tf.train.load_checkpoint(str(model_dir / "model.ckpt-2"))
    names = {name for name, _ in tf.train.list_variables(f"{paths[f'ps_{shard}']}/variables/variables")}
    assert names == {f"{t}/shard_{shard}-{p}" for t in TABLES for p in ["keys", "values"]}
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], paths[f"ps_{shard}"])
        signature = meta_graph.signature_def["lookup"]
        assert sorted(signature.inputs) == sorted(TABLES)
        for table in TABLES:
            keys = reader.get_tensor(f"{table}/shard_{shard}-keys")
            values = reader.get_tensor(f"{table}/shard_{shard}-values")
            unseen = np.array([10**12 * NUM_PS + shard, shard - 4 * 10**9], np.int64)
            other = keys + 1  # ids of the next shard: not here
            ids = np.concatenate([keys[::7], unseen, other[:5]])
            feed = {signature.inputs[t].name: (ids if t == table else np.zeros(0, np.int64))
                    for t in TABLES}
            got = sess.run(signature.outputs[table].name, feed)
            want = np.concatenate([values[::7], np.zeros((2 + 5, DIM), np.float32)])
            np.testing.assert_array_equal(got, want)
        assert "hashtable_assign" in meta_graph.signature_def


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Entry + one process per shard, on loopback."""

    def __init__(self, recship, base, log_dir, entry_flags=(), shard_flags=(), num_ps=NUM_PS):
        self.recship, self.base, self.log_dir = recship, base, log_dir
        self.shard_flags = list(shard_flags)
        self.ports = [free_port() for _ in range(num_ps)]
        self.shards = [self.start_shard(i) for i in range(num_ps)]
        addresses = ",".join(f"ps_{i}=127.0.0.1:{p}" for i, p in enumerate(self.ports))
        self.entry = Server(recship.path, ["--model_name", MODEL, "--model_base_path",
                                           base / "entry", "--remote_addresses", addresses,
                                           *entry_flags],
                            log_dir / "entry.log")

    def start_shard(self, i):
        server = Server(self.recship.path,
                        ["--model_name", f"{MODEL}:ps_{i}", "--model_base_path", self.base / f"ps_{i}",
                         *self.shard_flags],
                        self.log_dir / f"ps_{i}.log", port=self.ports[i])
        return server

    def stop(self):
        codes = [s.stop() for s in [self.entry, *self.shards]]
        assert codes == [0] * len(codes), [s.log() for s in [self.entry, *self.shards]]


@pytest.fixture
def cluster(recship, layout, tmp_path):
    c = Cluster(recship, layout[0], tmp_path)
    yield c
    c.stop()


def test_entry_and_shards_predict_like_standalone_and_numpy(cluster, layout, model_dir):
    _, _, standalone = layout
    rng = np.random.default_rng(7)
    for batch in [1, 1000]:
        feed, bags = make_batch(batch, rng)
        got = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
        assert_close(got, predict_tf1(standalone, feed))
        assert_close(got, numpy_predictions(model_dir / "model.ckpt-2", feed, bags))
    # Repeated ids, and only ids of shard 0: shards 1 to 3 get none.
    feed, bags = make_batch(6, rng)
    feed["user_id"] = np.array([4, 4, 8, 4, -4, 0], np.int64)
    feed["item_id"] = np.array([8, 8, 8, 12, 0, 4], np.int64)
    feed["clicked_items_indices"] = np.array([[0, 0], [0, 1], [3, 0]], np.int64)
    feed["clicked_items_values"] = np.array([4, 4, 16], np.int64)
    feed["clicked_items_dense_shape"] = np.array([6, 2], np.int64)
    bags = [[4, 4], [], [], [16], [], []]
    got = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
    assert_close(got, numpy_predictions(model_dir / "model.ckpt-2", feed, bags))
    assert_close(got, predict_tf1(standalone, feed))


def exported_bytes(folder):
    """The bytes of every variables file and table index file under folder."""
    files = [*folder.rglob("variables/*"), *folder.rglob("assets.extra/recship_table_index/*")]
    return {p: p.read_bytes() for p in sorted(files)}


def test_hashtable_assign_changes_the_next_predictions(cluster, model_dir):
    feed, bags = make_batch(8, np.random.default_rng(8))
    feed["user_id"][:] = 5  # shard 1
    before = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
    files_before = exported_bytes(cluster.base / "ps_1")
    assert any("recship_table_index" in str(p) for p in files_before)
    # Both tables of the shard serve from their exported index, mapped.
    assert "2 table indexes mapped" in cluster.shards[1].log()
    row = np.linspace(-1, 1, DIM).astype(np.float32)
    update = {"user_id_ids": np.array([5], np.int64), "user_id_values": row[None, :],
              "item_id_ids": np.zeros(0, np.int64), "item_id_values": np.zeros((0, DIM), np.float32)}
    response = cluster.shards[1].predict(f"{MODEL}:ps_1", update, signature="hashtable_assign")
    assert outputs_of(response)["user_id_size"] > 0
    after = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
    assert not np.allclose(before, after)
    assert_close(after, numpy_predictions(model_dir / "model.ckpt-2", feed, bags,
                                          tables={"user_id": {5: row}}))
    # The row went to memory over the mapped rows and index: the exported
    # files are unchanged.
    assert exported_bytes(cluster.base / "ps_1") == files_before


def test_a_dead_shard_gives_unavailable_and_recovers(cluster):
    feed, _ = make_batch(16, np.random.default_rng(16))
    want = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
    cluster.shards[2].process.kill()
    cluster.shards[2].process.wait()
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as error:
        cluster.entry.predict(MODEL, feed, timeout=60)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value.details()
    assert "ps_2" in error.value.details()
    assert time.monotonic() - start < 31
    assert cluster.entry.process.poll() is None
    cluster.shards[2].stop()
    cluster.shards[2] = cluster.start_shard(2)
    deadline = time.monotonic() + 20
    while True:
        try:
            got = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
            break
        except grpc.RpcError:
            assert time.monotonic() < deadline, "the entry did not recover"
            time.sleep(0.2)
    assert_close(got, want)


def wait_for_health(server, service, want, timeout):
    """Seconds until `service`'s gRPC health is `want` (1 SERVING, 2 NOT_SERVING)."""
    start = time.monotonic()
    while server.health(service) != want:
        assert time.monotonic() - start < timeout, \
            f"health of '{service}' is {server.health(service)}, not {want}:\n{server.log()}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_entry_health_follows_the_shards_it_calls(recship, layout, tmp_path):
    """Killed, stopped (as a hung host) and restarted shards: the entry's
    health says NOT_SERVING within its check interval plus the probe's
    deadline, and SERVING again once every shard answers."""
    c = Cluster(recship, layout[0], tmp_path, ["--remote_health_interval_seconds", 0.2])
    try:
        wait_for_health(c.entry, MODEL, 1, timeout=5)
        assert c.entry.health() == 1
        c.shards[1].process.kill()
        c.shards[1].process.wait()
        assert wait_for_health(c.entry, MODEL, 2, timeout=3) < 3
        assert c.entry.health() == 2
        assert "model 'ctr:ps_1' at 127.0.0.1" in c.entry.log()
        c.shards[1].stop()
        c.shards[1] = c.start_shard(1)
        wait_for_health(c.entry, MODEL, 1, timeout=5)
        c.shards[2].process.send_signal(signal.SIGSTOP)
        try:
            assert wait_for_health(c.entry, MODEL, 2, timeout=3) < 3
        finally:
            c.shards[2].process.send_signal(signal.SIGCONT)
        wait_for_health(c.entry, MODEL, 1, timeout=5)
        assert c.entry.process.poll() is None
    finally:
        c.stop()


def test_parallel_shard_exports_agree_on_the_version(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    names = ["entry"] + [f"ps_{i}" for i in range(NUM_PS)]
    procs = [subprocess.Popen([str(recship.path), "export", "--model", SPEC, "--model-dir",
                               model_dir, "--export-dir-base", base, "--mode", "distributed",
                               "--include-graphs", name, "--global-step-as-timestamp"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names]
    for name, proc in zip(names, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert [line.split()[0] for line in out.splitlines()[:-1]] == [name], \
            "each process writes one sub-model"
    assert sorted(p.name for p in base.iterdir()) == sorted(names)
    for name in names:
        assert [p.name for p in (base / name).iterdir()] == ["2"]


def test_dense_only_writes_only_the_entry(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    export_distributed(recship, model_dir, base, "--global-step-as-timestamp")
    before = {p: sorted(q.name for q in p.iterdir()) for p in base.iterdir()}
    paths = export_distributed(recship, model_dir, base, "--dense-only", "--checkpoint",
                               model_dir / "model.ckpt-1", "--global-step-as-timestamp")
    assert list(paths) == ["entry"] and paths["entry"].endswith("/entry/1")
    after = {p: sorted(q.name for q in p.iterdir()) for p in base.iterdir()}
    assert after[base / "entry"] == ["1", "2"]
    assert all(after[p] == before[p] for p in before if p.name != "entry")


def test_device_options(recship, model_dir, tmp_path):
    spec = tmp_path / "gpu.json"
    spec.write_text(SPEC.read_text().replace('"architecture": {',
                                            '"architecture": {"device": "/device:GPU:0", '))

    def devices(*flags):
        out = recship.ok("export", "--model", spec, "--model-dir", model_dir, "--export-dir-base",
                         tmp_path / "e", "--mode", "distributed", "--model-name", MODEL, *flags,
                         "--dense-only").stdout
        path = out.split()[1]
        return {n.name: n.device for n in load_graph(path).graph_def.node if n.name.startswith("mlp/")}

    pinned = devices("--global-step", 1)
    assert pinned and set(pinned.values()) == {"/device:CPU:0"}
    kept = devices("--global-step", 2, "--allow-gpu")
    assert set(kept.values()) == {"/device:GPU:0"}
    cleared = devices("--global-step", 3, "--allow-gpu", "--clear-entry-devices")
    assert set(cleared.values()) == {""}


def test_distributed_export_errors(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    bad = recship.fails("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base",
                        base, "--mode", "distributed", "--include-graphs", "ps_9")
    assert "ps_9" in bad.stderr and "ps_3" in bad.stderr
    export_distributed(recship, model_dir, base, "--global-step", 5)
    again = recship.fails("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base",
                          base, "--mode", "distributed", "--global-step", 5)
    assert "already exists" in again.stderr
    assert sorted(p.name for p in (base / "entry").iterdir()) == ["5"]


def test_with_remote_gpu_entry_dense_and_shards_predict_like_standalone(recship, model_dir,
                                                                        layout, tmp_path):
    base = tmp_path / "export"
    paths = export_distributed(recship, model_dir, base, "--with-remote-gpu", "--global-step", 2)
    assert sorted(paths) == ["dense_0", "entry"] + [f"ps_{i}" for i in range(NUM_PS)]
    dense = load_graph(paths["dense_0"])
    assert set(dense.signature_def) == {"gpu_remote_call"}
    assert {n.device for n in dense.graph_def.node} == {"/device:GPU:0"}
    assert not [n for n in dense.graph_def.node if "Variable" in n.op], "variables are frozen"
    entry = load_graph(paths["entry"])
    assert not [n for n in entry.graph_def.node if n.op in ("MatMul", "VarHandleOp")]
    names = [n.attr["model_name"].s for n in entry.graph_def.node
             if n.op == "TfServingRemotePredict"]
    assert f"{MODEL}:dense_0".encode() in names

    ports = {name: free_port() for name in ["dense_0"] + [f"ps_{i}" for i in range(NUM_PS)]}
    servers = [Server(recship.path, ["--model_name", f"{MODEL}:{name}", "--model_base_path",
                                     base / name], tmp_path / f"{name}.log", port=port)
               for name, port in ports.items()]
    addresses = ",".join(f"{name}=127.0.0.1:{port}" for name, port in ports.items())
    servers.append(Server(recship.path, ["--model_name", MODEL, "--model_base_path", base / "entry",
                                         "--remote_addresses", addresses], tmp_path / "entry.log"))
    try:
        for batch in [1, 300]:
            feed, bags = make_batch(batch, np.random.default_rng(batch))
            got = outputs_of(servers[-1].predict(MODEL, feed))["prediction"]
            assert_close(got, predict_tf1(layout[2], feed))
            assert_close(got, numpy_predictions(model_dir / "model.ckpt-2", feed, bags))
    finally:
        assert [s.stop() for s in servers] == [0] * len(servers)


def test_pin_versions_makes_the_entry_ask_for_its_own_version(recship, model_dir, tmp_path,
                                                               layout):
    base = tmp_path / "export"
    paths = export_distributed(recship, model_dir, base, "--global-step", 7, "--pin-versions",
                               "--with-remote-gpu")
    calls = [n for n in load_graph(paths["entry"]).graph_def.node
             if n.op == "TfServingRemotePredict"]
    assert len(calls) == NUM_PS + 1
    assert {n.attr["model_version"].i for n in calls} == {7}
    unpinned = [n for n in load_graph(layout[1]["entry"]).graph_def.node
                if n.op == "TfServingRemotePredict"]
    assert {n.attr["model_version"].i for n in unpinned} == {-1}
