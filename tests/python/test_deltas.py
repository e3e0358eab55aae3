"""Delta exports (`recship export --mode delta --since V`) and servers that
apply them while they serve, and `recship sync` pushing rows to running
shards, judged against numpy over the newest checkpoint: a trainer changes 1%
of the rows, adds ids and drops ids; after each delta (or push) the
standalone server and the distributed entry + shards predict what numpy
predicts from that checkpoint, a restarted server replays the deltas it
finds (and sync resends what a restarted shard lost), and a corrupt or
foreign delta is refused, named in the log, while the server keeps serving
what it had."""

import json
import re
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf

from ctr_model import NUM_PS, SPEC, make_batch, numpy_predictions
from recship_server import assert_close, outputs_of
from test_distributed import Cluster, export_distributed

MODEL = "ctr"
TABLES = ["user_id", "item_id"]
BASE_VERSION = 100
STEP_TIME = 1_766_000_000  # After every timestamp synth writes.


def train_step(model_dir, step, rng, write_bundle):
    """Writes model.ckpt-<step> from the newest checkpoint: 1% of each table
    shard's rows changed, 3 ids added and 2 dropped per shard (with their
    slot, freq and timestamp rows; the changed and added rows timestamped
    STEP_TIME + step), dense variables kept. Returns
    ({table: added ids}, {table: dropped ids})."""
    reader = tf.train.load_checkpoint(str(model_dir))
    tensors = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    added, dropped = {t: [] for t in TABLES}, {t: [] for t in TABLES}
    for table in TABLES:
        for shard in range(NUM_PS):
            prefix = f"{table}/shard_{shard}-"
            keys = tensors[prefix + "keys"]
            n = len(keys)
            changed = rng.choice(n, max(1, n // 100), replace=False)
            tensors[prefix + "values"][changed] = rng.standard_normal(
                (len(changed), tensors[prefix + "values"].shape[1])).astype(np.float32)
            # As a trainer records them: the time of every row it updates.
            tensors[prefix + "timestamps"][changed] = STEP_TIME + step
            keep = np.ones(n, bool)
            keep[rng.choice(n, 2, replace=False)] = False
            dropped[table] += [int(k) for k in keys[~keep]]
            new = np.array([4 * (10**6 + step * 100 + i) + shard for i in range(3)], np.int64)
            added[table] += [int(k) for k in new]
            for name in [k for k in tensors if k.startswith(prefix)]:
                kept = tensors[name][keep]
                if name.endswith("-keys"):
                    extra = new
                elif name.endswith("-timestamps"):
                    extra = np.full(3, STEP_TIME + step, np.int64)
                else:
                    extra = rng.standard_normal((3, *kept.shape[1:])).astype(kept.dtype)
                tensors[name] = np.concatenate([kept, extra])
    tensors["global_step"] = np.array(step, np.int64)
    write_bundle(model_dir / f"model.ckpt-{step}", tensors)
    (model_dir / "checkpoint").write_text(f'model_checkpoint_path: "model.ckpt-{step}"\n'
                                          f'all_model_checkpoint_paths: "model.ckpt-{step}"\n')
    return added, dropped


def probe_batch(rng, added, dropped):
    """A batch whose first ids are the ones just added and dropped."""
    feed, bags = make_batch(64, rng)
    users = added["user_id"] + dropped["user_id"]
    items = added["item_id"] + dropped["item_id"]
    feed["user_id"][:len(users)] = users
    feed["item_id"][:len(items)] = items
    return feed, bags


def export_delta(recship, model_dir, base):
    out = json.loads(recship.ok("export", "--mode", "delta", "--since", BASE_VERSION,
                                "--model-dir", model_dir, "--export-dir-base", base,
                                "--json").stdout)
    return out["deltas"]


def wait_for(server, text, timeout=20):
    deadline = time.monotonic() + timeout
    while text not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert text in server.log(), server.log()


@pytest.fixture
def training(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 2000, "--num-ps", NUM_PS)
    return model_dir


def test_a_standalone_server_applies_deltas_and_a_restart_replays_them(
        recship, serve, training, tmp_path, write_bundle):
    base = tmp_path / "export"
    recship.ok("export", "--model", SPEC, "--model-dir", training, "--export-dir-base", base,
               "--global-step", BASE_VERSION)
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", "0.2")
    rng = np.random.default_rng(1)
    for sequence, step in ((1, 10), (2, 11)):
        added, dropped = train_step(training, step, rng, write_bundle)
        (delta,) = export_delta(recship, training, base)
        assert delta["sequence"] == sequence
        assert delta["path"] == str(base / "deltas" / str(BASE_VERSION) / f"delta-00000{sequence}")
        for table in TABLES:
            # 1% of 2000 rows changed, 12 added and 8 dropped per table.
            assert 12 <= delta["tables"][table]["rows"] <= 12 + 4 * 6, delta
            assert delta["tables"][table]["deleted"] == 8
        wait_for(server, f"delta-00000{sequence} applied")
        feed, bags = probe_batch(rng, added, dropped)
        want = numpy_predictions(training / f"model.ckpt-{step}", feed, bags)
        assert_close(outputs_of(server.predict(MODEL, feed))["prediction"], want)
    # A delta is small: about the changed fraction of the export.
    delta_bytes = sum(p.stat().st_size for p in (base / "deltas").rglob("*.data-*"))
    export_bytes = sum(p.stat().st_size for p in base.glob("100/variables/*.data-*"))
    assert delta_bytes < 0.1 * export_bytes, (delta_bytes, export_bytes)
    # A server started now replays both deltas before it serves.
    restarted = serve("--model_name", MODEL, "--model_base_path", base)
    assert "delta-000002 applied" in restarted.log()
    assert_close(outputs_of(restarted.predict(MODEL, feed))["prediction"], want)


def test_a_corrupt_or_foreign_delta_is_refused_and_named(recship, serve, training, tmp_path,
                                                         write_bundle):
    base = tmp_path / "export"
    recship.ok("export", "--model", SPEC, "--model-dir", training, "--export-dir-base", base,
               "--global-step", BASE_VERSION)
    rng = np.random.default_rng(2)
    feed, bags = make_batch(64, rng)
    before = numpy_predictions(tf.train.latest_checkpoint(str(training)), feed, bags)
    train_step(training, 10, rng, write_bundle)
    (delta,) = export_delta(recship, training, base)
    data = next((base / "deltas").rglob("*.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    data.write_bytes(bytes(raw))
    server = serve("--model_name", MODEL, "--model_base_path", base)
    wait_for(server, f"delta {delta['path']} refused")
    assert_close(outputs_of(server.predict(MODEL, feed))["prediction"], before)

    # A delta of another version, moved under this one.
    other = tmp_path / "other"
    shutil.copytree(base / "deltas" / str(BASE_VERSION), other)
    manifest = other / "delta-000001" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["base_version"] = 7
    manifest.write_text(json.dumps(doc))
    shutil.rmtree(base / "deltas")
    (base / "deltas").mkdir()
    shutil.copytree(other, base / "deltas" / str(BASE_VERSION))
    foreign = serve("--model_name", MODEL, "--model_base_path", base)
    wait_for(foreign, "is delta 1 of version 7, not delta 1 of version 100")
    assert_close(outputs_of(foreign.predict(MODEL, feed))["prediction"], before)


def test_distributed_shards_apply_their_deltas(recship, training, tmp_path, write_bundle):
    base = tmp_path / "export"
    export_distributed(recship, training, base, "--global-step", BASE_VERSION)
    cluster = Cluster(recship, base, tmp_path,
                      shard_flags=("--file_system_poll_wait_seconds", "0.2"))
    try:
        rng = np.random.default_rng(3)
        added, dropped = train_step(training, 10, rng, write_bundle)
        deltas = export_delta(recship, training, base)
        assert [d["path"] for d in deltas] == [
            str(base / f"ps_{i}" / "deltas" / str(BASE_VERSION) / "delta-000001")
            for i in range(NUM_PS)]
        for i, shard in enumerate(cluster.shards):
            wait_for(shard, "delta-000001 applied")
        feed, bags = probe_batch(rng, added, dropped)
        want = numpy_predictions(training / "model.ckpt-10", feed, bags)
        assert_close(outputs_of(cluster.entry.predict(MODEL, feed))["prediction"], want)
        # A shard killed and restarted replays its delta.
        cluster.shards[1].process.kill()
        cluster.shards[1].process.wait()
        cluster.shards[1] = cluster.start_shard(1)
        assert "delta-000001 applied" in cluster.shards[1].log()
        deadline = time.monotonic() + 20
        while True:
            try:
                got = outputs_of(cluster.entry.predict(MODEL, feed))["prediction"]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert_close(got, want)
    finally:
        cluster.stop()


def predictions_become(entry, feed, want, timeout=20):
    """Waits until the entry predicts `want` (rows arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = outputs_of(entry.predict(MODEL, feed))["prediction"]
            if np.allclose(got, want, rtol=1e-5, atol=1e-7):
                return
        except Exception:  # A shard restarting: UNAVAILABLE for a moment.
            got = None
        if time.monotonic() > deadline:
            assert_close(got, want)
        time.sleep(0.1)


def export_serve_and_sync(recship, training, tmp_path, *export_flags):
    """Exports `training` distributed as BASE_VERSION, serves it (entry and
    shards) and starts `recship sync` on it: (cluster, sync process, log)."""
    import subprocess

    base = tmp_path / "export"
    export_distributed(recship, training, base, "--global-step", BASE_VERSION, *export_flags)
    cluster = Cluster(recship, base, tmp_path)
    addresses = ",".join(f"ps_{i}=127.0.0.1:{p}" for i, p in enumerate(cluster.ports))
    log = tmp_path / "sync.log"
    sync = subprocess.Popen(
        [str(recship.path), "sync", "--model-dir", str(training), "--export-dir-base", str(base),
         "--since", str(BASE_VERSION), "--model_name", MODEL, "--remote_addresses", addresses,
         "--poll_seconds", "0.1"], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    return cluster, sync, log


def test_sync_pushes_each_checkpoint_to_the_shards_and_resends_after_a_restart(
        recship, training, tmp_path, write_bundle):
    cluster, sync, log = export_serve_and_sync(recship, training, tmp_path)
    try:
        rng = np.random.default_rng(4)
        added, dropped = train_step(training, 10, rng, write_bundle)
        feed, bags = probe_batch(rng, added, dropped)
        predictions_become(cluster.entry, feed,
                           numpy_predictions(training / "model.ckpt-10", feed, bags))
        # Shard 1 restarts from its version and loses the rows pushed to it;
        # the next round finds its sizes changed and sends them again.
        cluster.shards[1].process.kill()
        cluster.shards[1].process.wait()
        cluster.shards[1] = cluster.start_shard(1)
        added_11, dropped_11 = train_step(training, 11, rng, write_bundle)
        # The ids step 10 added and dropped, which only a resend can fix on
        # shard 1, and those of step 11.
        feed, bags = probe_batch(rng, {t: added[t] + added_11[t] for t in TABLES},
                                 {t: dropped[t] + dropped_11[t] for t in TABLES})
        predictions_become(cluster.entry, feed,
                           numpy_predictions(training / "model.ckpt-11", feed, bags))
        text = log.read_text()
        # Whichever it sees first: the restarted shard's sizes, or a call
        # made while it was down.
        port = cluster.ports[1]
        assert re.search(rf"ps_1 \(127\.0\.0\.1:{port}\): (its table sizes changed \(a "
                         rf"restart\?\)|a call failed); resending", text), text
        assert "staleness" in text, text
    finally:
        sync.terminate()
        assert sync.wait(10) == 0, log.read_text()
        cluster.stop()
    assert "model.ckpt-11 pushed" in log.read_text()


def test_a_shard_killed_mid_apply_serves_the_delta_after_restart(recship, tmp_path):
    """Rows applied are never saved: a shard killed while it applies a delta
    reloads its version and replays every delta, so it serves what a shard
    that stayed up does."""
    training = tmp_path / "model"
    synth = ["synth", "--model", SPEC, "--out", training, "--ids", 400000, "--num-ps", NUM_PS,
             "--changed-fraction", 0.5]
    recship.ok(*synth, "--steps", 1)
    base = tmp_path / "export"
    export_distributed(recship, training, base, "--global-step", BASE_VERSION)
    cluster = Cluster(recship, base, tmp_path,
                      shard_flags=["--file_system_poll_wait_seconds", "0.1"])
    try:
        recship.ok(*synth, "--steps", 2, "--first-step", 2)  # Half of the rows change.
        export_delta(recship, training, base)
        shard = cluster.shards[1]
        deadline = time.monotonic() + 30
        while "delta-000001 checked; applying" not in shard.log():
            assert time.monotonic() < deadline, shard.log()
            time.sleep(0.005)
        shard.process.kill()
        shard.process.wait()
        # About 100,000 rows per shard take tens of ms: the kill lands in them.
        assert "delta-000001 applied" not in shard.log(), "killed after the apply, not mid-way"
        cluster.shards[1] = cluster.start_shard(1)
        assert "delta-000001 applied" in cluster.shards[1].log()  # Replayed before serving.
        feed, bags = make_batch(256, np.random.default_rng(8))
        predictions_become(cluster.entry, feed,
                           numpy_predictions(training / "model.ckpt-2", feed, bags))
    finally:
        cluster.stop()


def changed_ids(model_dir, before, after):
    """{table: ids whose rows differ between two checkpoints of the same ids}."""
    old = tf.train.load_checkpoint(str(model_dir / f"model.ckpt-{before}"))
    new = tf.train.load_checkpoint(str(model_dir / f"model.ckpt-{after}"))
    changed = {}
    for table in TABLES:
        changed[table] = []
        for shard in range(NUM_PS):
            prefix = f"{table}/shard_{shard}-"
            keys = new.get_tensor(prefix + "keys")
            differs = np.any(old.get_tensor(prefix + "values") != new.get_tensor(prefix + "values"),
                             axis=1)
            changed[table] += [int(k) for k in keys[differs]]
    return changed


def test_sync_resends_to_a_restarted_shard_whose_sizes_did_not_change(recship, tmp_path):
    """Rows rewritten in place never change a table's size, so only the row
    sync pushed last (its canary), looked up before the next round, shows
    that a shard restarted and lost the rows pushed to it."""

    training = tmp_path / "model"
    synth = ["synth", "--model", SPEC, "--out", training, "--ids", 2000, "--num-ps", NUM_PS,
             "--changed-fraction", 0.05]
    recship.ok(*synth, "--steps", 1)
    cluster, sync, log = export_serve_and_sync(recship, training, tmp_path)
    try:
        def wait_for_push(step):
            deadline = time.monotonic() + 20
            while f"model.ckpt-{step} pushed" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

        recship.ok(*synth, "--steps", 2, "--first-step", 2)
        wait_for_push(2)
        cluster.shards[1].process.kill()
        cluster.shards[1].process.wait()
        cluster.shards[1] = cluster.start_shard(1)
        recship.ok(*synth, "--steps", 3, "--first-step", 3)
        wait_for_push(3)
        assert "ps_1 (127.0.0.1:" in log.read_text() and "its row for id" in log.read_text(), \
            log.read_text()
        # The ids step 2 changed: only a resend brings them back on shard 1.
        changed = {t: ids[:60] for t, ids in changed_ids(training, 1, 2).items()}
        feed, bags = probe_batch(np.random.default_rng(6), changed, {t: [] for t in TABLES})
        predictions_become(cluster.entry, feed,
                           numpy_predictions(training / "model.ckpt-3", feed, bags))
    finally:
        sync.terminate()
        assert sync.wait(10) == 0, log.read_text()
        cluster.stop()


def test_rows_rewritten_in_place_and_ids_added_then_dropped(recship, serve, tmp_path,
                                                            write_bundle):
    """A trainer that rewrites its tables in place (synth --changed-fraction:
    the same ids in the same order) takes the delta's fast path; ids a delta
    added and the next checkpoint no longer has are deleted by the next."""
    training = tmp_path / "model"
    synth = ["synth", "--model", SPEC, "--out", training, "--ids", 2000, "--num-ps", NUM_PS,
             "--changed-fraction", 0.05]
    recship.ok(*synth, "--steps", 1)
    base = tmp_path / "export"
    recship.ok("export", "--model", SPEC, "--model-dir", training, "--export-dir-base", base,
               "--global-step", BASE_VERSION)
    server = serve("--model_name", MODEL, "--model_base_path", base,
                   "--file_system_poll_wait_seconds", "0.2")
    rng = np.random.default_rng(5)
    added, dropped = train_step(training, 2, rng, write_bundle)  # Adds and drops ids.
    export_delta(recship, training, base)
    wait_for(server, "delta-000001 applied")
    recship.ok(*synth, "--steps", 3, "--first-step", 3)  # The version's ids, 5% rows changed.
    (delta,) = export_delta(recship, training, base)
    for table in TABLES:
        # The ids step 2 added are gone again; step 2's drops come back.
        assert delta["tables"][table]["deleted"] == len(added[table]), delta
    wait_for(server, "delta-000002 applied")
    feed, bags = probe_batch(rng, added, dropped)
    assert_close(outputs_of(server.predict(MODEL, feed))["prediction"],
                 numpy_predictions(training / "model.ckpt-3", feed, bags))
