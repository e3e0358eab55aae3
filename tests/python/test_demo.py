"""`recship demo`, the README's main command, as CI runs it: it agrees,
prints both layouts side by side, stops every server, cleans up after
itself, and its agreement check fails when a shard is changed under it."""

import os
import re
import socket
import time

from conftest import REPO_DIR
from zoo_model import load_spec


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def ports_of(output):
    return [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", output)]


def test_demo_agrees_and_stops_everything(recship, tmp_path):
    start = time.monotonic()
    result = recship.ok("demo", "--work", tmp_path / "demo", timeout=120)
    seconds = time.monotonic() - start
    out = result.stdout
    assert "28 predictions from 7 requests: the two layouts agree" in out
    rows = re.findall(r"^\s+(warmup|extra) \d+\s+\d+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    assert len(rows) == 28
    assert all(abs(float(a) - float(b)) <= 1e-5 for _, a, b in rows)
    assert len({a for _, a, _ in rows}) > 20, "predictions vary with the inputs"
    # Standalone, 2 shards and the entry, all stopped when the command returns.
    ports = ports_of(out)
    assert len(ports) == 4
    assert not any(listening(p) for p in ports)
    assert "all 4 servers stopped" in out
    # What it wrote is the README's layout, with the demo's DeepFM spec.
    work = tmp_path / "demo"
    spec = load_spec(REPO_DIR / "examples" / "deepfm.json")
    assert spec["architecture"]["type"] == "deepfm"
    assert (work / "model" / "checkpoint").is_file()
    assert (work / "standalone" / "1" / "saved_model.pb").is_file()
    for sub in ["entry", "ps_0", "ps_1"]:
        assert (work / "distributed" / sub / "1" / "saved_model.pb").is_file()
    assert (work / "distributed" / "entry" / "1" / "assets.extra" /
            "tf_serving_warmup_requests").is_file()
    print(f"recship demo took {seconds:.1f} s")


def test_demo_without_work_folder_leaves_nothing(recship):
    result = recship.ok("demo", "--ids", 1000, "--extra-requests", 0, timeout=120)
    assert "16 predictions from 4 requests: the two layouts agree" in result.stdout
    folder = re.search(r"(/\S+/recship-demo-\d+)/model", result.stdout).group(1)
    assert not os.path.exists(folder)


def test_demo_check_fails_when_a_shard_changes(recship, tmp_path):
    result = recship.fails("demo", "--work", tmp_path / "demo", "--update-shard", "--ids", 1000,
                           timeout=120)
    assert result.returncode == 1
    assert "the two layouts DISAGREE" in result.stdout
    assert "<-- differs" in result.stdout
    assert not any(listening(p) for p in ports_of(result.stdout))


def test_demo_refuses_a_folder_in_use(recship, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("mine")
    result = recship.fails("demo", "--work", tmp_path / "busy")
    assert "busy is not empty" in result.stderr
    assert (tmp_path / "busy" / "file").read_text() == "mine"
