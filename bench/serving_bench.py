#!/usr/bin/env python3
"""Serving benchmark: the recship runtime against TensorFlow on the
same SavedModel, and `recship serve` over gRPC, in one run.

  build/venv/bin/python bench/serving_bench.py            # default sizes, a few minutes
  build/venv/bin/python bench/serving_bench.py --quick    # small sizes, a smoke run

Steps:
 1. `recship synth` + `recship export --mode standalone` of the CTR model
    (examples/ctr.json: user_id and item_id tables of dim 8, a clicked_items bag
    with a mean combiner, a dense context, an MLP 32-16-1) with --serve-ids ids
    in all (1M).
 2. Pre-built requests, --requests-per-batch (64) for each of --batches
    (1,64,512): ids are 75% present in the tables and 25% absent, each row
    has a bag of 0 to 5 clicked items, context is normal. The same requests
    go to every system.
 3. Latency and throughput, each system in its own process, --seconds (3)
    timed per batch size after --warmup-seconds (0.5):
    (a) recship in-process: build/bench/runtime_bench, SavedModelBundle on a
        ThreadPool of --threads (2), RunSignature in a closed loop
        from one caller thread;
    (b) TensorFlow in-process: tf.compat.v1 SavedModel loader, ConfigProto
        intra_op_parallelism_threads=--threads, inter_op_parallelism_threads=1,
        a Session.make_callable in a closed loop from one caller thread;
    (c) `recship serve --tensorflow_intra_op_parallelism --threads` on a free
        loopback port, driven by `runtime_bench --grpc` with --clients (4)
        concurrent client threads in a second process.
    The outputs of each batch's first request are compared across systems.
    With --batching, (d): the CTR model with a wide MLP (--batching-hidden,
    4096,2048,1024: weights beyond the last-level cache, so that a request
    costs its dense tower rather than its RPC), batch-1 requests from
    --batching-clients (32)
    threads to `recship serve` without and with --enable_batching
    (max_batch_size = the clients, --batch-timeout-micros, num_batch_threads
    = --threads), --rounds (2) times alternating; the best throughput of each
    counts, with that run's p99. Targets: throughput with batching >= 2x
    without, p99 <= 2x.
 4. Load time and peak memory with --ids ids in all (10M: 2 tables x 5M, dim
    8): `runtime_bench --load-only` (SavedModelBundle::Load) and TensorFlow's
    tf.compat.v1.saved_model.loader.load, each in a fresh process, --load-runs
    times (3) alternating; the fastest load and the highest peak RSS count.

Peak RSS is each process's ru_maxrss, read through GNU time (/usr/bin/time
-f %M) when present, else the process's own VmHWM. Binaries under test are
private copies of <build-dir>/recship and <build-dir>/bench/runtime_bench.
Temporary data goes to <tmp-dir>/serving_bench-<pid> and is deleted at the end.
Exit status: 0, or 1 with --strict when a target is missed.
"""

import argparse
import functools
import json
import os
import shutil
import struct
import sys
import time
from pathlib import Path

import benchlib
from benchlib import (GNU_TIME, REPO_DIR, TF_ENV, Server, add_dir_args, add_output_args,
                      args_json, finish, fmt_mib, last_json, max_rel_diff, print_table,
                      print_targets, tensorflow_importable, vm_hwm, workspace)

SPEC = REPO_DIR / "examples" / "ctr.json"
NUM_PS = 4  # Shards per table in examples/ctr.json; the id layout below depends on it.
MODEL_NAME = "ctr"
SIGNATURE = "serving_default"
# Without GNU time a peak RSS is None, and each process's own VmHWM stands in
# (os.wait4's figure would include this script's RSS).
run_measured = functools.partial(benchlib.run_measured, wait4_rss=False)


# ----------------------------------------------------------- model, inputs

def synth_and_export(recship, work, name, total_ids, spec=SPEC):
    """A standalone export of the CTR model (or `spec`) with total_ids ids
    over its two tables: (export base folder, version folder, seconds)."""
    model_dir = work / f"{name}-model"
    base = work / f"{name}-export"
    start = time.perf_counter()
    run_measured([recship, "synth", "--model", spec, "--out", model_dir,
                  "--ids", total_ids // 2, "--num-ps", NUM_PS, "--steps", 1])
    _, _, stdout = run_measured([recship, "export", "--model", spec, "--model-dir", model_dir,
                                 "--export-dir-base", base, "--mode", "standalone"])
    seconds = time.perf_counter() - start
    shutil.rmtree(model_dir)  # Only the export is needed.
    return base, Path(stdout.split()[1]), seconds


def make_inputs(rng, batch, ids_per_table):
    """One request's inputs as numpy arrays, by signature input name.

    `recship synth` puts on shard s the ids k*NUM_PS + s for even k and
    -(k*NUM_PS) + s for odd k (k = 0, 1, ...; at least ids_per_table // NUM_PS
    of them per shard). An absent id is k*NUM_PS + s with odd k."""
    import numpy as np

    per_shard = max(1, ids_per_table // NUM_PS)

    def ids(n):
        k = rng.integers(0, per_shard, n)
        s = rng.integers(0, NUM_PS, n)
        present = np.where(k % 2 == 0, k * NUM_PS + s, -(k * NUM_PS) + s)
        odd = k | 1
        absent = odd * NUM_PS + s
        return np.where(rng.random(n) < 0.75, present, absent).astype(np.int64)

    lengths = rng.integers(0, 6, batch)  # 0 to 5 clicked items; some bags empty.
    rows = np.repeat(np.arange(batch, dtype=np.int64), lengths)
    cols = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]) if batch else \
        np.zeros(0, np.int64)
    return {
        "user_id": ids(batch),
        "item_id": ids(batch),
        "context": rng.standard_normal((batch, 4)).astype(np.float32),
        "clicked_items_indices": np.stack([rows, cols], axis=1).reshape(-1, 2),
        "clicked_items_values": ids(int(lengths.sum())),
        "clicked_items_dense_shape": np.array([batch, max(1, int(lengths.max(initial=0)))],
                                              np.int64),
    }


# PredictRequest, hand-encoded: this process stays free of TensorFlow (its
# protos import all of it), so the processes it measures stay small.
DT_FLOAT, DT_INT64 = 1, 9


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def tensor_proto(array):
    import numpy as np

    dtype = {np.dtype(np.float32): DT_FLOAT, np.dtype(np.int64): DT_INT64}[array.dtype]
    shape = b"".join(_field(2, _field(1, d) if d else b"") for d in array.shape)
    return (_field(1, dtype) + _field(2, shape)
            + _field(4, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
                     .tobytes()))


def predict_request(inputs):
    spec = _field(1, MODEL_NAME.encode()) + _field(3, SIGNATURE.encode())
    body = _field(1, spec)
    for name in sorted(inputs):
        body += _field(2, _field(1, name.encode()) + _field(2, tensor_proto(inputs[name])))
    return body


def write_requests(work, batches, count, ids_per_table, seed, name="requests.bin"):
    """Writes `name` (runtime_bench's format: u64 batch, u64 length,
    PredictRequest) and inputs-<batch>.npz (for TensorFlow)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    path = work / name
    with open(path, "wb") as f:
        for batch in batches:
            requests = [make_inputs(rng, batch, ids_per_table) for _ in range(count)]
            for inputs in requests:
                payload = predict_request(inputs)
                f.write(struct.pack("<QQ", batch, len(payload)))
                f.write(payload)
            np.savez(work / f"inputs-{batch}.npz",
                     **{f"{i}/{k}": v for i, r in enumerate(requests) for k, v in r.items()})
    return path


# ------------------------------------------------------------ measurements

def measure_recship(runtime_bench, saved_model, requests, args):
    _, rss, stdout = run_measured(
        [runtime_bench, "--saved-model", saved_model, "--requests", requests,
         "--threads", args.threads, "--seconds", args.seconds,
         "--warmup-seconds", args.warmup_seconds], what="runtime_bench (in-process)")
    out = last_json(stdout)
    out["rss"] = rss or out["peak_rss"]["vm_hwm_bytes"]
    return out


def measure_tensorflow(saved_model, work, args):
    argv = [sys.executable, Path(__file__).resolve(), "--tf-child", "latency", saved_model,
            work, ",".join(map(str, args.batches)), args.threads, args.seconds,
            args.warmup_seconds]
    _, rss, stdout = run_measured(argv, env=TF_ENV, what="TensorFlow (latency)")
    out = last_json(stdout)
    out["rss"] = rss or out["vm_hwm_bytes"]
    return out


def measure_grpc(recship, runtime_bench, export_base, requests, work, args, clients=None,
                 serve_flags=()):
    """Starts `recship serve` on a free loopback port, drives it with
    `runtime_bench --grpc` from `clients` threads (--clients), stops it with
    SIGTERM."""
    with Server(recship, "serve", ["--model_name", MODEL_NAME, "--model_base_path", export_base,
                                   "--tensorflow_intra_op_parallelism", args.threads,
                                   "--file_system_poll_wait_seconds", 0, *serve_flags],
                work / "serve.log") as server:
        _, rss, stdout = run_measured(
            [runtime_bench, "--grpc", server.address, "--model-name", MODEL_NAME,
             "--requests", requests, "--clients", clients or args.clients, "--seconds",
             args.seconds, "--warmup-seconds", args.warmup_seconds], what="runtime_bench --grpc")
        out = last_json(stdout)
        out["client_rss"] = rss or out["peak_rss"]["vm_hwm_bytes"]
        out["server_rss"] = server.peak_rss()
        out["port"] = server.port
        return out


def measure_batching(recship, runtime_bench, work, args):
    """Batch-1 requests from --batching-clients threads to `recship serve` of
    the CTR model with a --batching-hidden MLP, without and with
    --enable_batching, --rounds times alternating; the best throughput of
    each and the p99 of that run."""
    spec = json.loads(SPEC.read_text())
    spec["architecture"]["hidden_units"] = [int(u) for u in args.batching_hidden.split(",")]
    spec_path = work / "batching-spec.json"
    spec_path.write_text(json.dumps(spec))
    export_base, _, _ = synth_and_export(recship, work, "batching", 100_000, spec_path)
    requests = write_requests(work, [1], args.requests_per_batch, 50_000, args.seed + 1,
                              name="batch1.bin")
    parameters = work / "batching.config"
    parameters.write_text(f"max_batch_size {{ value: {args.batching_clients} }}\n"
                          f"batch_timeout_micros {{ value: {args.batch_timeout_micros} }}\n"
                          f"num_batch_threads {{ value: {args.threads} }}\n")
    flags = {"off": (), "on": ("--enable_batching", "--batching_parameters_file", parameters)}
    runs = {"off": [], "on": []}
    for i in range(args.rounds):
        for mode in (["off", "on"] if i % 2 == 0 else ["on", "off"]):
            out = measure_grpc(recship, runtime_bench, export_base, requests, work, args,
                               clients=args.batching_clients, serve_flags=flags[mode])
            runs[mode].append(out["results"][0])
            print(f"serving_bench: batching {mode}, round {i + 1}: "
                  f"{out['results'][0]['requests_per_s']:,.0f} requests/s, "
                  f"p99 {out['results'][0]['p99_ms']:.3f} ms", flush=True)
    return {mode: max(measured, key=lambda x: x["requests_per_s"]) | {"runs": measured}
            for mode, measured in runs.items()}


def measure_load_recship(runtime_bench, saved_model, args):
    seconds, rss, stdout = run_measured(
        [runtime_bench, "--load-only", "--saved-model", saved_model, "--threads", args.threads],
        what="runtime_bench --load-only")
    out = last_json(stdout)
    out["process_seconds"] = seconds
    out["rss"] = rss or out["peak_rss"]["vm_hwm_bytes"]
    out["rss_before"] = out["rss_before_load"]["vm_hwm_bytes"]
    return out


def measure_load_tensorflow(saved_model, args):
    seconds, rss, stdout = run_measured(
        [sys.executable, Path(__file__).resolve(), "--tf-child", "load", saved_model,
         args.threads], env=TF_ENV, what="TensorFlow (load)")
    out = last_json(stdout)
    out["process_seconds"] = seconds
    out["rss"] = rss or out["vm_hwm_bytes"]
    return out


# ------------------------------------------------------ TensorFlow (child)

def _own_rss():
    import resource

    hwm = vm_hwm(os.getpid())
    return {"vm_hwm_bytes": hwm,
            "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _tf_session(threads):
    import tensorflow as tf

    v1 = tf.compat.v1
    config = v1.ConfigProto(intra_op_parallelism_threads=threads,
                            inter_op_parallelism_threads=1)
    graph = tf.Graph()
    return graph, v1.Session(graph=graph, config=config)


def tf_child_load(saved_model, threads):
    """Loads the SavedModel once: seconds of loader.load, RSS before and peak."""
    import tensorflow as tf

    graph, sess = _tf_session(int(threads))
    before = _own_rss()
    start = time.perf_counter()
    tf.compat.v1.saved_model.loader.load(sess, ["serve"], saved_model)
    seconds = time.perf_counter() - start
    print(json.dumps({"load_seconds": seconds, "rss_before": before["vm_hwm_bytes"],
                      **_own_rss()}))


def tf_child_latency(saved_model, work, batches, threads, seconds, warmup_seconds):
    """TensorFlow's side of step 3: a session callable per batch size, in a
    closed loop over the pre-built inputs."""
    import numpy as np
    import tensorflow as tf

    graph, sess = _tf_session(int(threads))
    start = time.perf_counter()
    meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], saved_model)
    load_seconds = time.perf_counter() - start
    signature = meta.signature_def[SIGNATURE]
    names = sorted(signature.inputs)
    outputs = sorted(signature.outputs)
    call = sess.make_callable(
        [graph.get_tensor_by_name(signature.outputs[k].name) for k in outputs],
        feed_list=[graph.get_tensor_by_name(signature.inputs[k].name) for k in names])
    results = []
    for batch in (int(b) for b in batches.split(",")):
        data = np.load(Path(work) / f"inputs-{batch}.npz")
        count = len({key.split("/")[0] for key in data.files})
        requests = [[data[f"{i}/{name}"] for name in names] for i in range(count)]
        first = call(*requests[0])
        latencies = []
        clock = time.perf_counter
        i = 0
        warm_end = clock() + float(warmup_seconds)
        end = warm_end + float(seconds)
        while True:
            begin = clock()
            if begin >= end:
                break
            call(*requests[i])
            done = clock()
            if begin >= warm_end:
                latencies.append(done - begin)
            i = i + 1 if i + 1 < count else 0
        elapsed = clock() - warm_end
        latencies.sort()
        n = len(latencies)

        def at(q):
            return latencies[min(n - 1, int(q * (n - 1) + 0.5))] * 1e3

        results.append({
            "batch": batch, "requests": n, "seconds": elapsed, "p50_ms": at(0.5),
            "p99_ms": at(0.99), "mean_ms": sum(latencies) / n * 1e3,
            "max_ms": latencies[-1] * 1e3, "requests_per_s": n / elapsed,
            "rows_per_s": n * batch / elapsed,
            "outputs": {k: v.astype(np.float32).ravel().tolist()
                        for k, v in zip(outputs, first)}})
        print(f"serving_bench: TensorFlow batch {batch}: {n / elapsed:.0f} requests/s, "
              f"p50 {at(0.5):.3f} ms", file=sys.stderr, flush=True)
    print(json.dumps({"load_seconds": load_seconds, "results": results, **_own_rss()}))


# ------------------------------------------------------------------- report

def print_report(r, args):
    print()
    print(f"serving_bench: CTR model ({SPEC.relative_to(REPO_DIR)}: user_id and item_id "
          f"tables, dim 8; a clicked_items bag, mean; context dim 4; MLP 32-16-1), "
          f"{args.serve_ids:,} ids in all; {os.cpu_count()} cores")
    print(f"  {args.threads} thread(s) per request for every system; {args.seconds:g} s timed "
          f"per batch size after {args.warmup_seconds:g} s warmup; "
          f"{args.requests_per_batch} pre-built requests per batch size (75% present ids, "
          f"bags of 0-5 items); (a) and (b) from 1 caller thread, (c) from "
          f"{args.clients} client threads in a second process")
    print()
    systems = [("(a) recship in-process", r["recship"])]
    if r.get("tf"):
        systems.append(("(b) TensorFlow in-process", r["tf"]))
    if r.get("grpc"):
        systems.append(("(c) recship serve, gRPC", r["grpc"]))
    rows = [("batch", "system", "p50 ms", "p99 ms", "requests/s", "rows/s", "vs TF")]
    by_batch = {name: {x["batch"]: x for x in s["results"]} for name, s in systems}
    tf_name = "(b) TensorFlow in-process"
    for batch in args.batches:
        for name, _ in systems:
            x = by_batch[name][batch]
            ratio = ""
            if tf_name in by_batch and name != tf_name:
                ratio = f"{x['rows_per_s'] / by_batch[tf_name][batch]['rows_per_s']:.2f}x"
            rows.append((str(batch), name, f"{x['p50_ms']:.3f}", f"{x['p99_ms']:.3f}",
                         f"{x['requests_per_s']:,.0f}", f"{x['rows_per_s']:,.0f}", ratio))
    print_table(rows, right=(0, 2, 3, 4, 5, 6))
    print()
    rss = [f"(a) {fmt_mib(r['recship']['rss'])}"]
    if r.get("tf"):
        rss.append(f"(b) {fmt_mib(r['tf']['rss'])}")
    if r.get("grpc"):
        server = r["grpc"]["server_rss"]
        rss.append(f"(c) server {fmt_mib(server) if server else '?'}, load generator "
                   f"{fmt_mib(r['grpc']['client_rss'])}")
    print(f"  peak RSS of these processes: {', '.join(rss)}")
    loads = f"(a) {r['recship']['load_seconds']:.3f} s"
    if r.get("tf"):
        loads += f", (b) {r['tf']['load_seconds']:.3f} s"
    print(f"  load of this model: {loads}; export written in {r['serve_export_seconds']:.1f} s")
    if r.get("agreement"):
        print("  outputs of each batch's first request, max relative difference: "
              + ", ".join(f"{k} {v:.1e}" for k, v in r["agreement"].items()))
    print()

    load = r.get("load")
    if load:
        print(f"load: {args.ids:,} ids in all (2 tables x {args.ids // 2:,}, dim 8), "
              f"SavedModel variables {fmt_mib(load['variables_bytes'])}; each load in a fresh "
              f"process, warm page cache; best of {args.load_runs} run(s)")
        rows = [("what", "load s", "peak RSS", "RSS before load", "process s", "every run (s)")]
        for name, x in [("recship SavedModelBundle::Load", load["recship"]),
                        ("TensorFlow saved_model.loader.load", load.get("tf"))]:
            if x:
                rows.append((name, f"{x['load_seconds']:.2f}", fmt_mib(x["rss"]),
                             fmt_mib(x["rss_before"]), f"{x['process_seconds']:.1f}",
                             " ".join(f"{s:.2f}" for s in x["all_seconds"])))
        print_table(rows, right=(1, 2, 3, 4))
        print(f"  recship's tables hold {fmt_mib(load['recship']['resource_bytes'])} "
              f"(slots and rows). Peak RSS: ru_maxrss by "
              f"{'GNU time' if os.access(GNU_TIME, os.X_OK) else 'the process (VmHWM)'}.")
        print()

    targets = []
    if r.get("batching"):
        off, on = r["batching"]["off"], r["batching"]["on"]
        print(f"(d) batch 1 from {args.batching_clients} clients, `recship serve` of the CTR "
              f"model with MLP {args.batching_hidden} without and with --enable_batching "
              f"(batch_timeout_micros {args.batch_timeout_micros}):")
        print_table([["batching", "requests/s", "p50 ms", "p99 ms"]]
                    + [[name, f"{x['requests_per_s']:,.0f}", f"{x['p50_ms']:.3f}",
                        f"{x['p99_ms']:.3f}"] for name, x in (("off", off), ("on", on))],
                    right=(1, 2, 3))
        print()
        ratio = on["requests_per_s"] / off["requests_per_s"]
        targets.append(("(d) throughput with / without batching", f"{ratio:.2f}x", ">= 2x",
                        ratio >= 2))
        ratio = on["p99_ms"] / off["p99_ms"]
        targets.append(("(d) p99 with / without batching", f"{ratio:.2f}x", "<= 2x", ratio <= 2))
    if r.get("tf"):
        goals = {1: 2.0, 512: 1.0}
        for batch in args.batches:
            ratio = (by_batch["(a) recship in-process"][batch]["rows_per_s"]
                     / by_batch[tf_name][batch]["rows_per_s"])
            goal = goals.get(batch)
            targets.append((f"(a)/(b) throughput, batch {batch}", f"{ratio:.2f}x",
                            f">= {goal:g}x" if goal else "(info)",
                            None if goal is None else ratio >= goal))
    if load and load.get("tf"):
        ratio = load["recship"]["load_seconds"] / load["tf"]["load_seconds"]
        targets.append(("load time recship / TF", f"{ratio:.2f}", "<= 0.5", ratio <= 0.5))
        ratio = load["recship"]["rss"] / load["tf"]["rss"]
        targets.append(("peak RSS recship / TF", f"{ratio:.2f}", "<= 1", ratio <= 1.0))
    return print_targets(targets)


# --------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2,
                        help="threads per request: runtime pool, TF intra-op, serve (2)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed seconds per batch size and system (3)")
    parser.add_argument("--warmup-seconds", type=float, default=0.5,
                        help="untimed seconds before each measurement (0.5)")
    parser.add_argument("--batches", default="1,64,512", help="batch sizes (1,64,512)")
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent gRPC client threads for (c) (4)")
    parser.add_argument("--serve-ids", type=int, default=1_000_000,
                        help="ids in all for the latency model (1,000,000)")
    parser.add_argument("--ids", type=int, default=10_000_000,
                        help="ids in all for the load test (10,000,000: 2 tables x 5M)")
    parser.add_argument("--load-runs", type=int, default=3,
                        help="loads per system in the load test, alternating; the fastest "
                             "counts (3)")
    parser.add_argument("--requests-per-batch", type=int, default=64,
                        help="distinct pre-built requests per batch size (64)")
    parser.add_argument("--seed", type=int, default=4, help="input seed (4)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40k serve ids, 200k load ids, 0.5 s measurements, 1 load run")
    parser.add_argument("--no-tf", action="store_true", help="skip TensorFlow")
    parser.add_argument("--no-grpc", action="store_true", help="skip (c)")
    parser.add_argument("--no-load", action="store_true", help="skip the load test")
    parser.add_argument("--batching", action="store_true",
                        help="also (d): batch-1 requests with and without --enable_batching")
    parser.add_argument("--batching-clients", type=int, default=32,
                        help="client threads for (d) (32), also its max_batch_size")
    parser.add_argument("--batch-timeout-micros", type=int, default=1000,
                        help="batch_timeout_micros for (d) (1000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (d), alternating (2)")
    parser.add_argument("--batching-hidden", default="4096,2048,1024",
                        help="the MLP of (d)'s model (4096,2048,1024: 42 MB of weights, more "
                             "than this machine's last-level cache); 32,16 is the CTR model's")
    add_dir_args(parser, "build tree with recship and bench/runtime_bench")
    add_output_args(parser)
    parser.add_argument("--tf-child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.tf_child:
        kind, *rest = args.tf_child
        {"load": tf_child_load, "latency": tf_child_latency}[kind](*rest)
        return 0

    if args.quick:
        args.serve_ids = min(args.serve_ids, 40_000)
        args.ids = min(args.ids, 200_000)
        args.seconds = min(args.seconds, 0.5)
        args.warmup_seconds = min(args.warmup_seconds, 0.2)
        args.load_runs = min(args.load_runs, 1)
    args.batches = [int(b) for b in args.batches.split(",")]
    with workspace(args, ["recship", "bench/runtime_bench"],
                   "build it first (cmake --build build --target recship runtime_bench)") \
            as (work, (recship, runtime_bench)):
        use_tf = not args.no_tf and tensorflow_importable()
        results = {"args": args_json(args)}
        if not use_tf and not args.no_tf:
            print(f"serving_bench: TensorFlow is not importable by {sys.executable}: skipped")

        print(f"serving_bench: exporting the CTR model with {args.serve_ids:,} ids in {work}",
              flush=True)
        base, saved_model, results["serve_export_seconds"] = synth_and_export(
            recship, work, "serve", args.serve_ids)
        requests = write_requests(work, args.batches, args.requests_per_batch,
                                  args.serve_ids // 2, args.seed)

        print("serving_bench: (a) recship in-process", flush=True)
        results["recship"] = measure_recship(runtime_bench, saved_model, requests, args)
        if use_tf:
            print("serving_bench: (b) TensorFlow in-process", flush=True)
            results["tf"] = measure_tensorflow(saved_model, work, args)
        if not args.no_grpc:
            print("serving_bench: (c) recship serve over gRPC", flush=True)
            results["grpc"] = measure_grpc(recship, runtime_bench, base, requests, work, args)
        if args.batching:
            print("serving_bench: (d) batching", flush=True)
            results["batching"] = measure_batching(recship, runtime_bench, work, args)
        reference = results.get("tf") or results["recship"]
        agreement = {}
        for name in ("recship", "grpc"):
            if results.get(name) and results[name] is not reference:
                agreement[{"recship": "(a)", "grpc": "(c)"}[name]] = max(
                    max_rel_diff(x["outputs"], y["outputs"])
                    for x, y in zip(results[name]["results"], reference["results"]))
        results["agreement"] = {f"{k} vs {'(b)' if use_tf else '(a)'}": v
                                for k, v in agreement.items()}
        if any(v > 1e-4 for v in agreement.values()):
            sys.exit(f"serving_bench: the systems disagree: {results['agreement']}")

        if not args.no_load:
            print(f"serving_bench: load test: exporting {args.ids:,} ids", flush=True)
            shutil.rmtree(base)
            base, saved_model, _ = synth_and_export(recship, work, "load", args.ids)
            load = {"variables_bytes": sum(f.stat().st_size
                                           for f in (saved_model / "variables").iterdir())}
            runs = {"recship": [], "tf": []}
            for i in range(args.load_runs):
                order = ["recship", "tf"] if i % 2 == 0 else ["tf", "recship"]
                for name in order:
                    if name == "tf" and not use_tf:
                        continue
                    measure = (measure_load_recship(runtime_bench, saved_model, args)
                               if name == "recship" else measure_load_tensorflow(saved_model, args))
                    runs[name].append(measure)
                    print(f"serving_bench: load {i + 1}/{args.load_runs}: {name} "
                          f"{measure['load_seconds']:.2f} s, peak RSS {fmt_mib(measure['rss'])}",
                          flush=True)
            for name, measured in runs.items():
                if measured:
                    best = dict(min(measured, key=lambda x: x["load_seconds"]))
                    best["all_seconds"] = [x["load_seconds"] for x in measured]
                    best["rss"] = max(x["rss"] for x in measured)
                    load[name] = best
            results["load"] = load

        return finish(results, print_report(results, args), args)


if __name__ == "__main__":
    sys.exit(main())
