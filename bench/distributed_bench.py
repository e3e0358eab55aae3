#!/usr/bin/env python3
"""Distributed serving benchmark: the same CTR model served
standalone (one `recship serve`) and distributed (an entry process plus one
process per parameter-server shard), on loopback, in one run.

  build/venv/bin/python bench/distributed_bench.py           # 1M ids, about 2 minutes
  build/venv/bin/python bench/distributed_bench.py --quick   # a smoke run
  build/venv/bin/python bench/distributed_bench.py --faults  # replicas killed and stopped

Steps:
 1. `recship synth` of the CTR model (examples/ctr.json: user_id and item_id
    tables of dim 8 on 4 shards each, a clicked_items bag, a dense context, an
    MLP 32-16-1) with --ids ids in all (1M).
 2. Export time: `recship export --mode standalone --json` and
    `recship export --mode distributed --json` (entry + ps_0..ps_3), --export-runs
    times each (3), alternating; the "seconds" each prints count. Best and
    every run are reported.
 3. Servers, all on loopback ports they pick themselves (--port 0):
    standalone: `recship serve --model_name ctr --model_base_path <s>`;
    distributed: `recship serve --model_name ctr:ps_<i> --model_base_path
    <d>/ps_<i>` for i = 0..3, then the entry, `--model_name ctr
    --model_base_path <d>/entry --remote_addresses ps_0=127.0.0.1:P0,...`.
    Every process gets --tensorflow_intra_op_parallelism --threads (2). Both
    layouts stay up for the whole run, idle when not measured.
 4. The requests of bench/serving_bench.py (64 per batch size, 75% present
    ids, bags of 0 to 5 items) go through `runtime_bench --grpc` (its gRPC load
    generator, a second process): latency (p50, p99) from 1 client thread, a
    closed loop, so no queueing; throughput from --clients client threads (4),
    each on its own connection. --seconds (3) timed per batch size after
    --warmup-seconds (0.5). The order is standalone then distributed, latency
    then throughput, for --rounds rounds (2). Per layout and batch size, the
    round with the lowest p50 gives the latency figures (p50 and its p99) and
    the round with the most requests/s the throughput (other work on a shared
    machine only ever adds time); every round is in the JSON.
    The outputs of each batch's first request must agree between the layouts.
 5. Peak RSS of each server process: VmHWM from /proc/<pid>/status, read
    before the server is stopped; the distributed layout's is the sum over its
    five processes.

Target: distributed p50 minus standalone p50 at batch 64 <= 1 ms.
Binaries under test are private copies of <build-dir>/recship and
<build-dir>/bench/runtime_bench. Temporary data goes to
<tmp-dir>/distributed_bench-<pid> (default <build-dir>/bench-tmp) and is
deleted at the end. Exit status: 0, or 1 with --strict when the target is missed.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys

from benchlib import (REPO_DIR, Server, add_dir_args, add_output_args, args_json, finish, fmt_mib,
                      last_json, max_rel_diff, print_table, run_measured, workspace)
import fault_mode
from serving_bench import write_requests

SPEC = REPO_DIR / "examples" / "ctr.json"
NUM_PS = 4  # Shards per table in examples/ctr.json.
MODEL_NAME = "ctr"
TARGET_MS = 1.0
TARGET_BATCH = 64


# ------------------------------------------------------------------ steps

def export(recship, model_dir, base, mode):
    """One `recship export --json`: (seconds it reports, its JSON)."""
    _, _, stdout = run_measured([recship, "export", "--model", SPEC, "--model-dir", model_dir,
                                 "--export-dir-base", base, "--mode", mode, "--json"],
                                what=f"recship export --mode {mode}")
    out = json.loads(stdout)
    return out["seconds"], out


def measure_exports(recship, model_dir, work, runs):
    """Exports both layouts `runs` times, alternating; keeps the last of each."""
    seconds = {"standalone": [], "distributed": []}
    kept = {}
    for i in range(runs):
        order = ["standalone", "distributed"] if i % 2 == 0 else ["distributed", "standalone"]
        for mode in order:
            base = work / f"{mode}-export-{i}"
            s, out = export(recship, model_dir, base, mode)
            seconds[mode].append(s)
            if mode in kept:
                shutil.rmtree(kept[mode][0])
            kept[mode] = (base, out)
            print(f"distributed_bench: export {i + 1}/{runs}: {mode} {s:.3f} s", flush=True)
    return seconds, kept


def load_generator(runtime_bench, server, requests, clients, args):
    _, _, stdout = run_measured(
        [runtime_bench, "--grpc", server.address, "--model-name", MODEL_NAME,
         "--requests", requests, "--clients", clients,
         "--seconds", args.seconds, "--warmup-seconds", args.warmup_seconds],
        what=f"runtime_bench --grpc ({server.name}, {clients} clients)")
    out = last_json(stdout)
    return {x["batch"]: x for x in out["results"]}


def best(rounds, key, pick):
    """Per batch, the round whose `key` is best by `pick` (min or max)."""
    return {batch: pick((r[batch] for r in rounds), key=lambda x: x[key])
            for batch in rounds[0]}


# ------------------------------------------------------------------ report

def print_report(r, args):
    lat, thr = r["latency"], r["throughput"]
    print()
    print(f"distributed_bench: CTR model ({SPEC.relative_to(REPO_DIR)}: user_id and item_id "
          f"tables of dim 8 on {NUM_PS} shards each, a clicked_items bag, MLP 32-16-1), "
          f"{args.ids:,} ids in all; {os.cpu_count()} cores, loopback")
    print("  standalone: 1 `recship serve`; distributed: entry + 4 shard processes "
          f"(ps_0..ps_3); --tensorflow_intra_op_parallelism {args.threads} each")
    print(f"  latency (p50, p99) from 1 client thread; throughput from {args.clients} client "
          f"threads; `runtime_bench --grpc`; {args.seconds:g} s timed per batch size after "
          f"{args.warmup_seconds:g} s warmup"
          + (f"; best of {args.rounds} rounds" if args.rounds > 1 else ""))
    print(f"  1-minute load average {r['loadavg_before']:.1f} before the measurements, "
          f"{r['loadavg_after']:.1f} after (other work on the machine shows in p99 first)")
    print()
    rows = [("batch", "layout", "p50 ms", "p99 ms", "requests/s", "rows/s")]
    for batch in args.batches:
        s_lat, d_lat = lat["standalone"][batch], lat["distributed"][batch]
        s_thr, d_thr = thr["standalone"][batch], thr["distributed"][batch]
        for name, l, t in [("standalone", s_lat, s_thr), ("distributed", d_lat, d_thr)]:
            rows.append((str(batch), name, f"{l['p50_ms']:.3f}", f"{l['p99_ms']:.3f}",
                         f"{t['requests_per_s']:,.0f}", f"{t['rows_per_s']:,.0f}"))
        rows.append((str(batch), "distributed / standalone",
                     f"{d_lat['p50_ms'] / s_lat['p50_ms']:.2f}x",
                     f"{d_lat['p99_ms'] / s_lat['p99_ms']:.2f}x",
                     f"{d_thr['requests_per_s'] / s_thr['requests_per_s']:.2f}x", ""))
        rows.append((str(batch), "distributed - standalone",
                     f"{d_lat['p50_ms'] - s_lat['p50_ms']:+.3f}",
                     f"{d_lat['p99_ms'] - s_lat['p99_ms']:+.3f}", "", ""))
    print_table(rows, right=(0, 2, 3, 4, 5))
    print()

    ex = r["export"]
    rows = [("export", "best s", "every run (s)", "bytes written")]
    for mode in ("standalone", "distributed"):
        rows.append((mode, f"{min(ex[mode]):.3f}", " ".join(f"{s:.3f}" for s in ex[mode]),
                     f"{r['export_bytes'][mode]:,}"))
    print_table(rows, right=(1, 3))
    print(f"  distributed / standalone export time (best): "
          f"{min(ex['distributed']) / min(ex['standalone']):.2f}x")
    print()

    rss = r["peak_rss"]
    parts = ", ".join(f"{name} {fmt_mib(v)}" for name, v in rss["distributed"].items())
    print(f"  peak RSS (VmHWM): standalone server {fmt_mib(rss['standalone'])}; distributed "
          f"{fmt_mib(rss['distributed_sum'])} in all ({parts})")
    print("  outputs of each batch's first request, max relative difference distributed vs "
          f"standalone: {r['agreement']:.1e}")
    print()
    overhead = r["overhead_ms"]
    met = overhead <= TARGET_MS
    print_table([("target", "measured", "goal", "met"),
                 (f"distributed p50 overhead, batch {TARGET_BATCH}", f"{overhead:+.3f} ms",
                  f"<= {TARGET_MS:g} ms", "met" if met else "MISSED")], right=(1, 2))
    print()
    return met


# -------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=1_000_000,
                        help="ids in all over the two tables (1,000,000)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed seconds per batch size, layout and mode (3)")
    parser.add_argument("--warmup-seconds", type=float, default=0.5,
                        help="untimed seconds before each measurement (0.5)")
    parser.add_argument("--batches", default="1,64,512", help="batch sizes (1,64,512)")
    parser.add_argument("--clients", type=int, default=4,
                        help="client threads for the throughput figures (4); latency uses 1")
    parser.add_argument("--threads", type=int, default=2,
                        help="--tensorflow_intra_op_parallelism of every server (2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measurement rounds; the best of them counts (2)")
    parser.add_argument("--export-runs", type=int, default=3, help="exports per layout (3)")
    parser.add_argument("--requests-per-batch", type=int, default=64,
                        help="distinct pre-built requests per batch size (64)")
    parser.add_argument("--seed", type=int, default=5, help="input seed (5)")
    parser.add_argument("--entry-flags", default="",
                        help="extra flags for the entry's recship serve, space-separated "
                             "(e.g. '--remote_hedge_ms 0')")
    parser.add_argument("--faults", action="store_true",
                        help="the fault mode instead (bench/fault_mode.py): 2 replicas per "
                             "shard, one killed, then one stopped, under steady load")
    parser.add_argument("--fault-rate", type=float, default=150,
                        help="--faults: requests/s from each of 2 clients (150)")
    parser.add_argument("--stop-seconds", type=float, default=10,
                        help="--faults: how long a replica is stopped (10)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40k ids, 0.5 s measurements, 1 round, 1 export run")
    add_dir_args(parser, "build tree with recship and bench/runtime_bench")
    add_output_args(parser, "exit 1 when the target is missed")
    args = parser.parse_args()
    if args.quick:
        args.ids = min(args.ids, 40_000)
        args.seconds = min(args.seconds, 0.5)
        args.warmup_seconds = min(args.warmup_seconds, 0.2)
        args.export_runs = 1
        args.rounds = 1
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.faults:  # One batch size: the fault timeline runs once.
        args.batches, args.export_runs = [TARGET_BATCH], 1
    if TARGET_BATCH not in args.batches:
        parser.error(f"--batches must include {TARGET_BATCH} (the target's batch size)")

    with workspace(args, ["recship", "bench/runtime_bench"],
                   "build it first (cmake --build build --target recship runtime_bench)") \
            as (work, (recship, runtime_bench)), contextlib.ExitStack() as running:
        results = {"args": args_json(args)}

        print(f"distributed_bench: synthesizing the CTR model with {args.ids:,} ids in {work}",
              flush=True)
        model_dir = work / "model"
        run_measured([recship, "synth", "--model", SPEC, "--out", model_dir,
                      "--ids", args.ids // 2, "--num-ps", NUM_PS, "--steps", 1],
                     what="recship synth")
        results["export"], kept = measure_exports(recship, model_dir, work, args.export_runs)
        results["export_bytes"] = {
            "standalone": kept["standalone"][1]["copied_bytes"],
            "distributed": sum(s["copied_bytes"] for s in kept["distributed"][1]["sub_models"])}
        shutil.rmtree(model_dir)
        standalone_base = kept["standalone"][0]
        distributed_base = kept["distributed"][0]
        requests = write_requests(work, args.batches, args.requests_per_batch, args.ids // 2,
                                  args.seed)

        if args.faults:
            print("distributed_bench: fault mode", flush=True)
            results["faults"] = fault_mode.run(recship, runtime_bench, work, distributed_base,
                                               requests, args)
            return finish(results, fault_mode.report(results["faults"], args), args)
        print("distributed_bench: starting the servers", flush=True)
        threads = ["--tensorflow_intra_op_parallelism", args.threads,
                   "--file_system_poll_wait_seconds", 0]
        standalone = running.enter_context(Server(
            recship, "standalone", ["--model_name", MODEL_NAME,
                                    "--model_base_path", standalone_base, *threads],
            work / "standalone.log"))
        shards = [running.enter_context(Server(
            recship, f"ps_{i}", ["--model_name", f"{MODEL_NAME}:ps_{i}",
                                 "--model_base_path", distributed_base / f"ps_{i}", *threads],
            work / f"ps_{i}.log")) for i in range(NUM_PS)]
        addresses = ",".join(f"ps_{i}={s.address}" for i, s in enumerate(shards))
        entry = running.enter_context(Server(
            recship, "entry", ["--model_name", MODEL_NAME,
                               "--model_base_path", distributed_base / "entry",
                               "--remote_addresses", addresses, *threads,
                               *args.entry_flags.split()],
            work / "entry.log"))
        layouts = {"standalone": standalone, "distributed": entry}

        results["loadavg_before"] = os.getloadavg()[0]
        rounds = {kind: {name: [] for name in layouts} for kind in ("latency", "throughput")}
        for i in range(args.rounds):
            for kind, clients in (("latency", 1), ("throughput", args.clients)):
                for name, server in layouts.items():
                    print(f"distributed_bench: round {i + 1}/{args.rounds}: {name}, {kind} "
                          f"({clients} client{'s' if clients > 1 else ''})", flush=True)
                    rounds[kind][name].append(
                        load_generator(runtime_bench, server, requests, clients, args))
        results["rounds"] = rounds
        results["loadavg_after"] = os.getloadavg()[0]
        results["latency"] = {name: best(r, "p50_ms", min)
                              for name, r in rounds["latency"].items()}
        results["throughput"] = {name: best(r, "requests_per_s", max)
                                 for name, r in rounds["throughput"].items()}
        first = rounds["latency"]
        results["agreement"] = max(
            max_rel_diff(first["distributed"][0][b]["outputs"],
                         first["standalone"][0][b]["outputs"]) for b in args.batches)
        if results["agreement"] > 1e-4:
            sys.exit(f"distributed_bench: the layouts disagree: {results['agreement']}")

        results["peak_rss"] = {
            "standalone": standalone.peak_rss(),
            "distributed": {s.name: s.peak_rss() for s in [entry, *shards]}}
        results["peak_rss"]["distributed_sum"] = sum(results["peak_rss"]["distributed"].values())
        for server in [standalone, *shards, entry]:
            code = server.stop()
            if code != 0:
                print(f"distributed_bench: warning: {server.name} exited {code}:\n"
                      f"{server.log_path.read_text()[-2000:]}", file=sys.stderr)
        results["overhead_ms"] = (results["latency"]["distributed"][TARGET_BATCH]["p50_ms"]
                                  - results["latency"]["standalone"][TARGET_BATCH]["p50_ms"])
        return finish(results, print_report(results, args), args, key="target_met")


if __name__ == "__main__":
    sys.exit(main())
