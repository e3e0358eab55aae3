"""distributed_bench.py --faults: two replicas of every shard behind one
entry, under steady open-loop load, while a replica is killed and restarted
and then stopped (SIGSTOP) for --stop-seconds.

Replica A and replica B are one `recship serve --layout_base_path ...
--layout_filter ps_{i}` process each, so killing A loses one replica of every
shard at once. The entry lists both (`ps_i=A|B`). `runtime_bench --grpc
--rate --keep-going --latency-log` sends the batch-64 requests at --fault-rate
requests/s from each of 2 clients, each latency counted from when the request
was due. Phases, by due time: steady (before the kill), kill (the kill to 3 s
after the restart), stopped (SIGSTOP to SIGCONT), after.

Targets: no failed request; p99 while a replica is killed <= 3x steady; the
longest request while a replica is stopped <= the hedging delay plus one call,
taken as the steady p95 (the default hedging delay) plus the steady p99.
"""

import signal
import subprocess
import time

from benchlib import Server, print_table, print_targets

MODEL_NAME = "ctr"


def _replica(recship, base, name, port, work, threads):
    return Server(recship, name, ["--layout_base_path", base, "--model_name", MODEL_NAME,
                                  "--layout_filter", "ps_{i}", *threads],
                  work / f"{name}.log", port=port)


def run(recship, runtime_bench, work, base, requests, args):
    threads = ["--tensorflow_intra_op_parallelism", args.threads,
               "--file_system_poll_wait_seconds", 0]
    a = _replica(recship, base, "replica_a", 0, work, threads)
    b = _replica(recship, base, "replica_b", 0, work, threads)
    addresses = ",".join(f"ps_{i}={a.address}|{b.address}" for i in range(4))
    entry = Server(recship, "entry", ["--model_name", MODEL_NAME, "--model_base_path",
                                      base / "entry", "--remote_addresses", addresses, *threads],
                   work / "entry.log")
    log = work / "faults.latency"
    steady, kill_after, stop_for = 6.0, 3.0, args.stop_seconds
    total = steady + kill_after + 3.0 + 2.0 + stop_for + 3.0
    events = {}
    gen = subprocess.Popen([str(runtime_bench), "--grpc", entry.address, "--model-name",
                            MODEL_NAME, "--requests", str(requests), "--clients", "2", "--rate",
                            str(args.fault_rate), "--seconds", str(total), "--warmup-seconds",
                            "0", "--keep-going", "--latency-log", str(log)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(steady)
        events["kill"] = time.time()
        a.process.kill()
        a.process.wait()
        time.sleep(kill_after)
        a = _replica(recship, base, "replica_a", a.port, work, threads)
        events["restarted"] = time.time()
        time.sleep(5.0)
        events["stop"] = time.time()
        b.process.send_signal(signal.SIGSTOP)
        time.sleep(stop_for)
        b.process.send_signal(signal.SIGCONT)
        events["cont"] = time.time()
        out, err = gen.communicate(timeout=total + 120)
        if gen.returncode != 0:
            raise SystemExit(f"runtime_bench failed: {err[-2000:]}")
    finally:
        if gen.poll() is None:
            gen.kill()
        b.process.send_signal(signal.SIGCONT)
        for server in (entry, a, b):
            server.stop()
    return phases(log, events)


def phases(log, events):
    import numpy as np

    due, latency, ok = np.loadtxt(log, ndmin=2).T
    names = np.full(len(due), "after", dtype=object)
    names[due < events["kill"]] = "steady"
    names[(due >= events["kill"]) & (due < events["restarted"] + 3)] = "kill"
    names[(due >= events["stop"]) & (due < events["cont"])] = "stopped"
    out = {}
    for name in ("steady", "kill", "stopped", "after"):
        sel = names == name
        lat = latency[sel] * 1e3
        out[name] = {"requests": int(sel.sum()), "failed": int((ok[sel] == 0).sum()),
                     "p50_ms": float(np.percentile(lat, 50)) if len(lat) else 0.0,
                     "p95_ms": float(np.percentile(lat, 95)) if len(lat) else 0.0,
                     "p99_ms": float(np.percentile(lat, 99)) if len(lat) else 0.0,
                     "max_ms": float(lat.max()) if len(lat) else 0.0}
    return out


def report(r, args):
    print()
    print(f"distributed_bench --faults: 2 replicas of each of 4 shards (one process each), "
          f"batch 64 at {args.fault_rate:g} requests/s from each of 2 clients; replica A "
          f"killed for 3 s, replica B stopped (SIGSTOP) for {args.stop_seconds:g} s")
    rows = [("phase", "requests", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms")]
    for name, p in r.items():
        rows.append((name, f"{p['requests']:,}", str(p["failed"]), f"{p['p50_ms']:.3f}",
                     f"{p['p95_ms']:.3f}", f"{p['p99_ms']:.3f}", f"{p['max_ms']:.1f}"))
    print_table(rows, right=(1, 2, 3, 4, 5, 6))
    print()
    failed = sum(p["failed"] for p in r.values())
    steady = r["steady"]
    ratio = r["kill"]["p99_ms"] / steady["p99_ms"]
    bound = steady["p95_ms"] + steady["p99_ms"]
    return print_targets([
        ("failed requests", str(failed), "0", failed == 0),
        ("p99 while a replica is killed / steady", f"{ratio:.2f}", "<= 3", ratio <= 3),
        ("longest request while a replica is stopped (ms)", f"{r['stopped']['max_ms']:.1f}",
         f"<= {bound:.1f}", r["stopped"]["max_ms"] <= bound),
        ("longest request in the steady phase (ms)", f"{steady['max_ms']:.1f}", "(info)", None),
    ])
