#!/usr/bin/env python3
"""Freshness benchmark: how fast a trainer's new rows reach serving, by
deltas the servers watch for and by `recship sync` pushing them, while
requests go on.

  build/venv/bin/python bench/freshness_bench.py                 # 10M ids, ~4 minutes
  build/venv/bin/python bench/freshness_bench.py --ids 200k --rounds 3 --interval 2  # smoke run

Steps:
 1. `recship synth` of a one-table spec (dim --dim, ONE shard, one id
    feature, a 16-unit DNN) with --ids ids into the trainer's folder (in
    /dev/shm unless --train-on-disk), exported distributed with
    --shared-embedding as version 1: entry + ps_0, each served by its own
    `recship serve` (ps_0 polls every --poll seconds).
 2. Capacity: `runtime_bench --grpc` on the entry in a closed loop (batch 64,
    2 clients, ids uniform over the table). Then the load for the rest of
    the run is open: the 2 clients together send half that, each latency
    counted from when its request was due; steady state is --seconds of it.
 3. Watch mode, under that load: every --interval seconds a simulated
    trainer writes the next checkpoint (`recship synth --first-step K
    --changed-fraction F`: F of the rows change, niced 19; the two newest
    checkpoints are kept), then `recship export --mode delta --since 1`
    (niced 10) writes the delta and ps_0 applies it at its next poll.
    Staleness: from the checkpoint written to ps_0's log line saying the
    delta was applied; rows per second from that line (rows / apply
    seconds); the delta's bytes beside the full export's.
 4. Push mode, the same: `recship sync` follows the folder and pushes each
    checkpoint's changes to ps_0 in calls of --push-batch-rows; staleness
    from the checkpoint written to sync's line saying ps_0 took them.
Each request is then put in the phase it was due in (training, delta
export, apply, sync's diff, push, or quiet: none of those), by the round
times and the log lines, and its p99 is compared with the quiet one's.
runtime_bench fails the run on any failed request. The trainer, the delta
export, sync and this script stand for processes on other machines: they
run on the last core, the servers and the load generator on the others (in
steady state too), unless --shared-cores. Everything written is removed at
the end (unless --keep).
"""

import argparse
import datetime
import contextlib
import json
import os
import shutil
import tempfile
import re
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import benchlib
from benchlib import Server, fmt_mib, run_measured
from serving_bench import predict_request

MODEL = "fresh"
GIB = 1 << 30
CLIENTS = 2
CORES = sorted(os.sched_getaffinity(0))
# taskset prefixes: the training side, the serving side (empty: anywhere).
TRAINER, SERVING = [], []


def split_cores():
    """The last core for the training side, the others for serving."""
    if len(CORES) < 2:
        sys.exit("freshness_bench: splitting cores needs at least 2; use --shared-cores")
    TRAINER[:] = ["taskset", "-c", str(CORES[-1])]
    SERVING[:] = ["taskset", "-c", ",".join(map(str, CORES[:-1]))]
    # This script too (it deletes the trainer's old checkpoints); the servers
    # and the load generator are started under SERVING.
    os.sched_setaffinity(0, {CORES[-1]})


def pin_serving(process):
    """Moves a running server (every thread) to the serving cores."""
    if SERVING:
        subprocess.run(["taskset", "-a", "-p", "-c", SERVING[-1], str(process.pid)], check=True,
                       stdout=subprocess.DEVNULL)


def parse_size(text):
    scale = {"k": 10**3, "m": 10**6}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def write_spec(work, dim):
    spec = {"name": MODEL,
            "tables": [{"name": "user_id", "dim": dim, "num_shards": 1}],
            "features": [{"name": "user_id", "type": "id", "table": "user_id"}],
            "architecture": {"type": "dnn", "hidden_units": [16], "activation": "relu",
                             "output_activation": "sigmoid"}}
    path = work / "fresh.json"
    path.write_text(json.dumps(spec))
    return path


def write_requests(work, ids, batch=64, count=512, seed=3):
    """runtime_bench's request file: ids uniform over the table (synth's ids
    on one shard: k for even k, -k for odd k)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    path = work / "requests.bin"
    with open(path, "wb") as f:
        for _ in range(count):
            k = rng.integers(0, ids, batch)
            payload = predict_request({"user_id": np.where(k % 2 == 0, k, -k).astype(np.int64)})
            f.write(struct.pack("<QQ", batch, len(payload)) + payload)
    return path


class Load:
    """runtime_bench --grpc on the entry in a thread, for `seconds`."""

    def __init__(self, runtime_bench, server, requests, seconds, rate=0, latency_log=None,
                 warmup=0):
        self.result = None
        extra = ["--latency-log", latency_log] if latency_log else []
        extra += ["--warmup-seconds", warmup]
        self._thread = threading.Thread(target=self._run, args=(runtime_bench, server, requests,
                                                                seconds, rate, extra))
        self._thread.start()

    def _run(self, runtime_bench, server, requests, seconds, rate, extra):
        _, _, stdout = run_measured([*SERVING, runtime_bench, "--grpc", server.address,
                                     "--model-name", MODEL, "--requests", requests, "--clients",
                                     CLIENTS, "--seconds", seconds, "--rate", rate, *extra],
                                    what="runtime_bench --grpc")
        self.result = benchlib.last_json(stdout)["results"][0]

    def join(self):
        self._thread.join()
        if self.result is None:
            sys.exit("freshness_bench: the load generator failed")
        return self.result


def log_time(line):
    """The wall-clock time a recship log line starts with."""
    stamp = " ".join(line.split()[:2])
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def wait_for_line(path, pattern, timeout=120):
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in Path(path).read_text().splitlines():
            if regex.search(line):
                return line
        time.sleep(0.02)
    sys.exit(f"freshness_bench: no line matching {pattern!r} in {path} within {timeout} s:\n"
             f"{Path(path).read_text()[-2000:]}")


def train(recship, spec, model_dir, ids, step, fraction):
    """Writes checkpoint `step` and deletes all but it and the one before (as
    a trainer keeping a few does); returns (start, end) wall-clock times.
    Niced, as the trainer it stands for runs on other machines."""
    start = time.time()
    run_measured([*TRAINER, "nice", "-n", 19, recship, "synth", "--model", spec, "--out",
                  model_dir, "--ids", ids, "--num-ps", 1, "--steps", step, "--first-step", step,
                  "--changed-fraction", fraction], gnu_time=False)
    end = time.time()
    for old in Path(model_dir).glob("model.ckpt-*"):
        if int(old.name.split("-")[1].split(".")[0]) < step - 1:
            old.unlink()
    return start, end


def watch_rounds(recship, spec, model_dir, base, shard_log, args, first_step):
    rounds = []
    for r in range(args.rounds):
        start = time.monotonic()
        step = first_step + r
        train_start, written = train(recship, spec, model_dir, args.ids, step, args.fraction)
        export_seconds, _, stdout = run_measured(
            [*TRAINER, "nice", "-n", 10, recship, "export", "--mode", "delta", "--since", 1,
             "--model-dir", model_dir, "--export-dir-base", base, "--json"], gnu_time=False)
        exported = time.time()
        (delta,) = json.loads(stdout)["deltas"]
        name = Path(delta["path"]).name
        line = wait_for_line(shard_log, rf"{name} applied in ([0-9.]+) s \((\d+) rows")
        m = re.search(r"applied in ([0-9.]+) s \((\d+) rows", line)
        applied, apply_seconds = log_time(line), float(m.group(1))
        rounds.append({"staleness": applied - written, "export_seconds": export_seconds,
                       "apply_seconds": apply_seconds, "rows": int(m.group(2)),
                       "delta_bytes": benchlib.tree_bytes(Path(delta["path"])),
                       "windows": {"training": (train_start, written),
                                   "delta export": (written, exported),
                                   "apply": (applied - apply_seconds, applied)}})
        time.sleep(max(0.0, args.interval - (time.monotonic() - start)))
    return rounds


def push_rounds(recship, spec, model_dir, sync_log, args, first_step):
    rounds = []
    for r in range(args.rounds):
        start = time.monotonic()
        step = first_step + r
        train_start, written = train(recship, spec, model_dir, args.ids, step, args.fraction)
        line = wait_for_line(sync_log, rf"ps_0 \(\S+\): \S*model\.ckpt-{step} pushed, (\d+) rows")
        m = re.search(r"pushed, (\d+) rows in ([0-9.]+) s \(([0-9.]+) s finding", line)
        pushed, push_seconds = log_time(line), float(m.group(2)) - float(m.group(3))
        rounds.append({"staleness": pushed - written, "rows": int(m.group(1)),
                       "windows": {"training": (train_start, written),
                                   "sync's diff": (written, pushed - push_seconds),
                                   "push": (pushed - push_seconds, pushed)}})
        time.sleep(max(0.0, args.interval - (time.monotonic() - start)))
    return rounds


def p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


def phase_p99s(latency_log, rounds):
    """p99 latency (ms) of the requests due in each kind of window of the
    rounds, and of those due in none ("quiet")."""
    import numpy as np

    due, latency, _ = np.loadtxt(latency_log, ndmin=2).T
    phase = np.full(len(due), "quiet", dtype=object)
    for r in rounds:
        for name, (begin, end) in r["windows"].items():
            phase[(due >= begin) & (due <= end)] = name
    return {name: {"p99_ms": float(np.percentile(latency[phase == name], 99)) * 1e3,
                   "requests": int((phase == name).sum())}
            for name in dict.fromkeys(phase)}


def report(r, args):
    watch, push = r["watch"], r["push"]
    rows_per_second = sum(w["rows"] for w in watch) / max(sum(w["apply_seconds"] for w in watch),
                                                          1e-9)
    delta_bytes = statistics.mean(w["delta_bytes"] for w in watch)
    steady = r["steady"]["p99_ms"]
    print(f"\n{args.ids:,} ids x dim {args.dim}, one shard; every {args.interval} s a checkpoint "
          f"with {args.fraction:.1%} of the rows changed, {args.rounds} rounds per mode; "
          + (f"training side on core {TRAINER[-1]}, servers and load on {SERVING[-1]}."
             if TRAINER else "all on the same cores."))
    rows = [("mode", "staleness p50", "staleness p99", "rows per round", "failed")]
    for mode, rounds in (("watch (deltas)", watch), ("push (sync)", push)):
        st = [x["staleness"] for x in rounds]
        rows.append((mode, f"{statistics.median(st):.2f} s", f"{p99(st):.2f} s",
                     f"{statistics.mean(x['rows'] for x in rounds):,.0f}", "0"))
    benchlib.print_table(rows, right=(1, 2, 3, 4))
    print(f"\nload {r['steady']['requests_per_s']:,.0f} requests/s of batch 64 (half of the "
          f"{r['capacity_requests_per_s']:,.0f} answered in a closed loop), request p99 by what "
          f"was going on when each was due; steady, before the rounds: {steady:.3f} ms:")
    rows = [("mode", "while", "requests", "p99", "/ quiet")]
    for mode, key in (("watch", "phases_watch"), ("push", "phases_push")):
        quiet = r[key]["quiet"]["p99_ms"]
        for name, p in r[key].items():
            rows.append((mode, name, f"{p['requests']:,}", f"{p['p99_ms']:.3f} ms",
                         f"{p['p99_ms'] / quiet:.2f}"))
    benchlib.print_table(rows, right=(2, 3, 4))
    print(f"\ndelta export {statistics.mean(w['export_seconds'] for w in watch):.2f} s per round; "
          f"apply {rows_per_second:,.0f} rows/s; a delta is {fmt_mib(delta_bytes)} against "
          f"{fmt_mib(r['export_bytes'])} served by the full export "
          f"({delta_bytes / r['export_bytes']:.2%})\n")
    # Steady: the requests of the same run due when nothing else happened.
    during = max(r["phases_watch"]["apply"]["p99_ms"] / r["phases_watch"]["quiet"]["p99_ms"],
                 r["phases_push"]["push"]["p99_ms"] / r["phases_push"]["quiet"]["p99_ms"])
    targets = [
        ("rows/s applied by one shard", f"{rows_per_second:,.0f}", ">= 1,000,000",
         rows_per_second >= 1e6),
        ("staleness p99, watching", f"{p99([w['staleness'] for w in watch]):.2f} s", "<= 2 s",
         p99([w["staleness"] for w in watch]) <= 2),
        ("staleness p99, push", f"{p99([p['staleness'] for p in push]):.2f} s", "<= 1 s",
         p99([p["staleness"] for p in push]) <= 1),
        ("request p99 during apply or push / quiet", f"{during:.2f}", "<= 1.5", during <= 1.5),
        ("failed requests", "0", "0", True),
    ]
    return benchlib.print_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=parse_size, default=10_000_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--fraction", type=float, default=0.01, help="rows changed per checkpoint")
    parser.add_argument("--interval", type=float, default=5, help="seconds between checkpoints")
    parser.add_argument("--rounds", type=int, default=12, help="checkpoints per mode")
    parser.add_argument("--poll", type=float, default=0.25, help="ps_0's poll interval")
    parser.add_argument("--seconds", type=float, default=10, help="steady-state load seconds")
    parser.add_argument("--push-batch-rows", type=int, default=1024,
                        help="rows per hashtable_assign call of sync")
    parser.add_argument("--train-on-disk", action="store_true",
                        help="write the trainer's checkpoints beside the export, not in /dev/shm")
    parser.add_argument("--shared-cores", action="store_true",
                        help="run the training side on the serving cores too")
    benchlib.add_dir_args(parser, "where recship and bench/runtime_bench are built")
    benchlib.add_output_args(parser)
    args = parser.parse_args()
    if not args.shared_cores:
        split_cores()
    results = {"args": benchlib.args_json(args)}
    with benchlib.workspace(args, ["recship", "bench/runtime_bench"],
                            "build it with scripts/build.sh") as (work, (recship, runtime_bench)):
        spec = write_spec(work, args.dim)
        base = work / "export"
        with training_folder(work, args) as model_dir:
            run(args, results, recship, runtime_bench, work, spec, model_dir, base)
        return benchlib.finish(results, report(results, args), args)


@contextlib.contextmanager
def training_folder(work, args):
    """The trainer's folder: in /dev/shm when it has room for three
    checkpoints (the trainer's storage is not the servers' disk, whose
    fsyncs would otherwise stall the servers), else in `work`."""
    checkpoint_bytes = args.ids * (2 * args.dim * 4 + 3 * 8)
    shm = Path("/dev/shm")
    if not args.train_on_disk and shm.is_dir() and shutil.disk_usage(shm).free > 4 * checkpoint_bytes:
        folder = Path(tempfile.mkdtemp(prefix="freshness_bench-", dir=shm))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        yield work / "train"


def run(args, results, recship, runtime_bench, work, spec, model_dir, base):
    """Trains step 1, exports it, serves it and runs both modes."""
    train(recship, spec, model_dir, args.ids, 1, args.fraction)
    run_measured([recship, "export", "--model", spec, "--model-dir", model_dir,
                  "--export-dir-base", base, "--mode", "distributed", "--shared-embedding",
                  "--global-step", 1])
    results["export_bytes"] = args.ids * (args.dim * 4 + 8)
    requests = write_requests(work, args.ids)
    shard_log = work / "ps_0.log"
    with Server(recship, "ps_0", ["--model_name", f"{MODEL}:ps_0", "--model_base_path",
                                  base / "ps_0", "--file_system_poll_wait_seconds",
                                  args.poll], shard_log) as shard, \
            Server(recship, "entry", ["--model_name", MODEL, "--model_base_path",
                                      base / "entry", "--remote_addresses",
                                      f"ps_0={shard.address}"], work / "entry.log") as entry:
        pin_serving(shard.process)
        pin_serving(entry.process)
        window = args.rounds * args.interval + 10
        capacity = Load(runtime_bench, entry, requests, args.seconds, warmup=1).join()
        rate = capacity["requests_per_s"] / 2 / CLIENTS
        results["capacity_requests_per_s"] = capacity["requests_per_s"]
        results["steady"] = Load(runtime_bench, entry, requests, args.seconds, rate, warmup=1).join()
        load = Load(runtime_bench, entry, requests, window, rate, work / "watch.latency")
        results["watch"] = watch_rounds(recship, spec, model_dir, base, shard_log, args, 2)
        results["load_watch"] = load.join()
        results["phases_watch"] = phase_p99s(work / "watch.latency", results["watch"])
        sync_log = work / "sync.log"
        with open(sync_log, "w") as out:
            sync = subprocess.Popen([*TRAINER, str(recship), "sync", "--model-dir", str(model_dir),
                                     "--export-dir-base", str(base), "--since", "1",
                                     "--model_name", MODEL, "--batch_rows",
                                     str(args.push_batch_rows), "--remote_addresses",
                                     f"ps_0={shard.address}", "--poll_seconds", "0.05"],
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            load = Load(runtime_bench, entry, requests, window, rate, work / "push.latency")
            results["push"] = push_rounds(recship, spec, model_dir, sync_log, args,
                                          2 + args.rounds)
            results["load_push"] = load.join()
            results["phases_push"] = phase_p99s(work / "push.latency", results["push"])
        finally:
            sync.terminate()
            sync.wait(30)


if __name__ == "__main__":
    sys.exit(main())
