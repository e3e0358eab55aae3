"""Table rows served from their mapped files (`recship serve
--map_variables`, on by default): they live in the page cache rather than
the server's heap, predictions equal the heap path's, the export's table
index is mapped rather than built (and a damaged one is named and rebuilt),
and a data file truncated under a running server never kills it."""

import os
import time

import numpy as np
import pytest
from recship_server import outputs_of

MODEL = "big"
DIM = 64
IDS = 400_000
NUM_SHARDS = 2
SPEC = {"name": MODEL,
        "tables": [{"name": "user_id", "dim": DIM, "num_shards": NUM_SHARDS}],
        "features": [{"name": "user_id", "type": "id", "table": "user_id"}],
        "architecture": {"type": "dnn", "hidden_units": [8], "activation": "relu",
                         "output_activation": "sigmoid"}}


@pytest.fixture(scope="module")
def export_base(recship, tmp_path_factory):
    import json

    work = tmp_path_factory.mktemp("mapped")
    spec = work / "spec.json"
    spec.write_text(json.dumps(SPEC))
    recship.ok("synth", "--model", spec, "--out", work / "train", "--ids", IDS,
               "--num-ps", NUM_SHARDS)
    recship.ok("export", "--model", spec, "--model-dir", work / "train", "--export-dir-base",
               work / "export", "--mode", "standalone")
    return work / "export"


def anonymous_rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon")


def present_ids(n, rng):
    """Ids `recship synth` wrote: k*NUM_SHARDS + s for even k, -(k*NUM_SHARDS) + s for odd."""
    k = rng.integers(0, IDS // NUM_SHARDS, n)
    s = rng.integers(0, NUM_SHARDS, n)
    return np.where(k % 2 == 0, k * NUM_SHARDS + s, -(k * NUM_SHARDS) + s).astype(np.int64)


def test_mapped_rows_stay_out_of_the_heap_and_predict_like_the_heap(serve, export_base):
    rows_bytes = IDS * DIM * 4  # ~100 MiB of rows
    mapped = serve("--model_name", MODEL, "--model_base_path", export_base)
    heap = serve("--model_name", MODEL, "--model_base_path", export_base,
                 "--map_variables", "false")
    feed = {"user_id": present_ids(512, np.random.default_rng(1))}
    got = outputs_of(mapped.predict(MODEL, feed))["prediction"]
    np.testing.assert_array_equal(got, outputs_of(heap.predict(MODEL, feed))["prediction"])
    mapped_anon, heap_anon = anonymous_rss(mapped.process.pid), anonymous_rss(heap.process.pid)
    assert heap_anon - mapped_anon > 0.8 * rows_bytes, (mapped_anon, heap_anon)
    assert "MiB of table rows mapped" in mapped.log()


def test_a_data_file_truncated_under_the_server_never_kills_it(serve, export_base, tmp_path):
    import shutil

    base = tmp_path / "export"
    shutil.copytree(export_base, base)  # A copy: the shared export stays whole.
    server = serve("--model_name", MODEL, "--model_base_path", base)
    rng = np.random.default_rng(2)
    feed = {"user_id": present_ids(1000, rng)}
    before = outputs_of(server.predict(MODEL, feed))["prediction"]
    (data,) = base.glob("*/variables/variables.data-*")
    os.truncate(data, data.stat().st_size // 4)
    # Rows past the new end read as zeros instead of killing the process with SIGBUS.
    after = outputs_of(server.predict(MODEL, feed))["prediction"]
    assert after.shape == before.shape
    assert not np.array_equal(after, before)
    assert server.process.poll() is None
    assert outputs_of(server.predict(MODEL, feed))["prediction"].shape == before.shape
    # The health loop (every second) names the file in the log.
    deadline = time.monotonic() + 10
    while f"{data} shrank while mapped" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"{data} shrank while mapped" in server.log()


def index_file(base):
    (path,) = base.glob("*/assets.extra/recship_table_index/user_id")
    return path


def test_the_exported_table_index_is_mapped_not_built(serve, export_base):
    # 16-byte slots at a load factor of at most 0.8, after a 4 KiB header.
    assert index_file(export_base).stat().st_size >= 4096 + IDS * 16 / 0.8
    server = serve("--model_name", MODEL, "--model_base_path", export_base)
    assert "1 table indexes mapped" in server.log()
    # Neither the rows nor the index (8 MB here) are in the heap.
    heap = serve("--model_name", MODEL, "--model_base_path", export_base,
                 "--map_variables", "false")
    index_bytes = index_file(export_base).stat().st_size
    assert anonymous_rss(heap.process.pid) - anonymous_rss(server.process.pid) > (
        IDS * DIM * 4 + 0.8 * index_bytes)


@pytest.mark.parametrize("damage", ["flip a slot byte", "truncate"])
def test_a_damaged_index_is_named_and_the_rows_indexed_instead(serve, export_base, tmp_path,
                                                                damage):
    import shutil

    base = tmp_path / "export"
    shutil.copytree(export_base, base)
    path = index_file(base)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2:]
    else:
        data[4096 + 16 * 1000 + 3] ^= 0x40
    path.write_bytes(bytes(data))
    server = serve("--model_name", MODEL, "--model_base_path", base)
    log = server.log()
    assert str(path) in log and "indexing its rows instead" in log, log
    assert "0 table indexes mapped" in log
    feed = {"user_id": present_ids(512, np.random.default_rng(3))}
    heap = serve("--model_name", MODEL, "--model_base_path", export_base,
                 "--map_variables", "false")
    np.testing.assert_array_equal(outputs_of(server.predict(MODEL, feed))["prediction"],
                                  outputs_of(heap.predict(MODEL, feed))["prediction"])
