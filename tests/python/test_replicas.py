"""Shard replicas behind one entry, over real network links: each replica
process serves every ps_<i> (`--layout_base_path`) inside a network namespace
of its own, joined to the test's namespace by a veth pair (and, where the
kernel has the netem qdisc, `tc netem` delay on both ends; the VM these were
written on has none). The entry lists both replicas of every shard
(`ps_i=A|B`) and gets steady load from a client thread while a replica is
killed, stopped (SIGSTOP, as a hung host) or both are down; predictions are
judged against numpy from the checkpoint."""

import os
import signal
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf

from ctr_model import NUM_PS, SPEC, make_batch, numpy_predictions
from recship_server import Server, assert_close, outputs_of
from test_distributed import MODEL, export_distributed, free_port

TABLES = ["user_id", "item_id"]


def sh(*args):
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def kernel_has_netem():
    """Whether `tc` can add a netem qdisc here (a kernel built without
    sch_netem says "Specified qdisc kind is unknown")."""
    probe = subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"],
                           capture_output=True)
    if probe.returncode != 0:
        return False
    subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True)
    return True


class Namespaces:
    """Network namespaces rs<k>-<tag>, each joined to this one by a veth pair:
    10.78.<k>.1 here, 10.78.<k>.2 inside, with `delay` of netem each way when
    the kernel has netem."""

    made = 0  # Names are unique: a deleted namespace may linger a moment.

    def __init__(self, count, delay="1ms"):
        self.names, self.links = [], []
        Namespaces.made += 1
        tag = f"{os.getpid() % 1000}{Namespaces.made}"
        try:
            for k in range(1, count + 1):
                name, outer, inner = f"rs{k}-{tag}", f"rso{k}-{tag}", f"rsi{k}-{tag}"
                sh("ip", "netns", "add", name)
                self.names.append(name)
                sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                self.links.append(outer)
                sh("ip", "link", "set", inner, "netns", name)
                sh("ip", "addr", "add", f"10.78.{k}.1/24", "dev", outer)
                sh("ip", "link", "set", outer, "up")
                sh("ip", "netns", "exec", name, "ip", "addr", "add", f"10.78.{k}.2/24", "dev", inner)
                sh("ip", "netns", "exec", name, "ip", "link", "set", inner, "up")
                sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
                if kernel_has_netem():
                    sh("tc", "qdisc", "add", "dev", outer, "root", "netem", "delay", delay)
                    sh("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", inner, "root",
                       "netem", "delay", delay)
        except BaseException:
            self.remove()
            raise

    def host(self, k):
        return f"10.78.{k}.2"

    def prefix(self, k):
        return ("ip", "netns", "exec", self.names[k - 1])

    def remove(self):
        for link in self.links:  # Its peer goes with it.
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.names, self.links = [], []


@pytest.fixture(scope="module")
def layout(recship, model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("replicas") / "export"
    export_distributed(recship, model_dir, base, "--global-step", 3)
    return base


@pytest.fixture
def namespaces():
    ns = Namespaces(2)
    yield ns
    ns.remove()


def start_replica(recship, base, ns, k, port, log_dir):
    return Server(recship.path, ["--layout_base_path", base, "--model_name", MODEL,
                                 "--layout_filter", "ps_{i}"],
                  log_dir / f"replica{k}.log", port=port, host=ns.host(k), prefix=ns.prefix(k))


def start_entry(recship, base, ns, port, log_dir, *flags):
    addresses = ",".join(f"ps_{i}={ns.host(1)}:{port}|{ns.host(2)}:{port}" for i in range(NUM_PS))
    return Server(recship.path, ["--model_name", MODEL, "--model_base_path", base / "entry",
                                 "--remote_addresses", addresses, *flags], log_dir / "entry.log")


class Load:
    """A client thread sending the same batch in a loop; records each
    request's latency and error."""

    def __init__(self, entry, feed, timeout=5):
        self.entry, self.feed, self.timeout = entry, feed, timeout
        self.latencies, self.errors, self.outputs = [], [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                self.outputs.append(
                    outputs_of(self.entry.predict(MODEL, self.feed, timeout=self.timeout)))
            except grpc.RpcError as error:
                self.errors.append(f"{error.code().name}: {error.details()}")
            self.latencies.append(time.monotonic() - start)

    def stop(self):
        self._stop.set()
        self._thread.join()


def test_a_killed_or_stopped_replica_fails_no_request(recship, layout, namespaces, model_dir,
                                                      tmp_path):
    port = free_port()
    replicas = [start_replica(recship, layout, namespaces, k, port, tmp_path) for k in (1, 2)]
    entry = start_entry(recship, layout, namespaces, port, tmp_path, "--remote_timeout_ms", 2000)
    feed, bags = make_batch(64, np.random.default_rng(9))
    want = numpy_predictions(model_dir / "model.ckpt-2", feed, bags)
    load = Load(entry, feed)
    try:
        time.sleep(1)
        replicas[0].process.kill()  # A lost machine.
        replicas[0].process.wait()
        time.sleep(1.5)
        replicas[0] = start_replica(recship, layout, namespaces, 1, port, tmp_path)
        time.sleep(1)
        # A hung host: the connection stays up and nothing answers. Without
        # hedging each call would wait out --remote_timeout_ms (2 s) and
        # fail; with it, another replica answers.
        replicas[1].process.send_signal(signal.SIGSTOP)
        time.sleep(2)
        replicas[1].process.send_signal(signal.SIGCONT)
        time.sleep(0.5)
    finally:
        load.stop()
        entry.stop()
        for r in replicas:
            r.stop()
    assert load.errors == [], load.errors[:5]
    assert len(load.outputs) > 20
    for outputs in load.outputs[::10]:
        assert_close(outputs["prediction"], want)


def test_with_every_replica_down_a_shard_fails_or_serves_zeros(recship, layout, namespaces,
                                                               model_dir, tmp_path):
    port = free_port()
    replicas = [start_replica(recship, layout, namespaces, k, port, tmp_path) for k in (1, 2)]
    for name in ("fail", "zeros"):
        (tmp_path / name).mkdir()
    failing = start_entry(recship, layout, namespaces, port, tmp_path / "fail")
    zeros = start_entry(recship, layout, namespaces, port, tmp_path / "zeros",
                        "--on_shard_failure", "zeros")
    feed, bags = make_batch(64, np.random.default_rng(10))
    try:
        outputs_of(zeros.predict(MODEL, feed))  # The shards' rows seen once.
        for r in replicas:
            r.process.kill()
            r.process.wait()
        with pytest.raises(grpc.RpcError) as failed:
            failing.predict(MODEL, feed)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "ps_" in failed.value.details()
        got = outputs_of(zeros.predict(MODEL, feed))["prediction"]
        zeros.wait_for_log("answered .* call\\(s\\) with zero rows")
    finally:
        failing.stop()
        zeros.stop()
        for r in replicas:
            r.stop()
    reader = tf.train.load_checkpoint(str(model_dir / "model.ckpt-2"))
    unseen = {t: {int(k): np.zeros(8) for s in range(NUM_PS)
                  for k in reader.get_tensor(f"{t}/shard_{s}-keys")} for t in TABLES}
    assert_close(got, numpy_predictions(model_dir / "model.ckpt-2", feed, bags, unseen))
