#!/usr/bin/env python3
"""Compressed embeddings benchmark: what `--embedding-dtype float16 |
bfloat16 | int8` saves in serving memory, costs in lookup latency and in
accuracy, against float32 exports of the same checkpoint, in one run.

  build/venv/bin/python bench/compression_bench.py           # 2 tables x 2M ids, dim 32
  build/venv/bin/python bench/compression_bench.py --quick   # a smoke run

Steps:
 1. `recship synth` of the CTR model (examples/ctr.json) with its tables
    widened to dim 32, --ids ids per table (2M), and a standalone export of
    it per dtype (float32 first, the baseline), each timed.
 2. Memory, per export, in a fresh process (`runtime_bench --load-only`):
    the bytes of the tables' rows as stored (from the export's variables),
    the model's data as served (heap + mapped bytes) and the peak RSS.
 3. Lookup latency: `runtime_bench` in-process on each export (2 threads),
    the same --requests-per-batch (64) pre-built requests at batch 64
    (serving_bench's: 75% present ids, bags of 0-5 items), p50 and p99.
 4. Accuracy, per example spec (examples/*.json, --spec-ids ids per table):
    each compressed export is checked by `recship verify` against the
    model's float32 graph over the same checkpoint: the max relative error of
    every output, |got - want| / max(|want|, 1e-3), on 16 generated requests
    of 64 rows whose ids come from every shard of every table.

Targets: rows as stored float16 <= 0.55x and int8 <= 0.30x of
float32; lookup p50 at batch 64 <= 1.2x float32; accuracy float16 and
bfloat16 <= 1e-3, int8 <= 2e-2. Temporary data goes to
<tmp-dir>/compression_bench-<pid> and is deleted at the end. Exit status: 0,
or 1 with --strict when a target is missed.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import serving_bench
from benchlib import (REPO_DIR, add_dir_args, add_output_args, finish, fmt_mib, last_json,
                      print_table, print_targets, run_measured, workspace)

DTYPES = ["float32", "float16", "bfloat16", "int8"]
DIM = 32
GOALS = {"float16": 1e-3, "bfloat16": 1e-3, "int8": 2e-2}
MEMORY_GOALS = {"float16": 0.55, "int8": 0.30}


def wide_ctr_spec(work):
    spec = json.loads((REPO_DIR / "examples" / "ctr.json").read_text())
    for table in spec["tables"]:
        table["dim"] = DIM
    path = work / "ctr-dim32.json"
    path.write_text(json.dumps(spec))
    return path


def row_bytes(recship, version):
    """Bytes of the tables' -values tensors in an export's variables."""
    out = json.loads(run_measured([recship, "inspect", version, "--json"])[2])
    return sum(t["bytes"] for t in out["variables"]["tensors"] if t["name"].endswith("-values"))


def export(recship, spec, model_dir, base, dtype):
    seconds, _, stdout = run_measured([recship, "export", "--model", spec, "--model-dir",
                                       model_dir, "--export-dir-base", base, "--global-step", 1,
                                       "--embedding-dtype", dtype, "--json"])
    return json.loads(stdout)["paths"][0], seconds


def measure_dtype(recship, runtime_bench, spec, model_dir, work, requests, dtype, args):
    version, export_seconds = export(recship, spec, model_dir, work / f"export-{dtype}", dtype)
    load = serving_bench.measure_load_recship(runtime_bench, version, args)
    latency = serving_bench.measure_recship(runtime_bench, version, requests, args)
    (batch,) = [b for b in latency["results"] if b["batch"] == 64]
    return {"export_seconds": export_seconds, "row_bytes": row_bytes(recship, version),
            "data_bytes": load["resource_bytes"] + load["mapped_bytes"], "rss": load["rss"],
            "load_seconds": load["load_seconds"], "p50_ms": batch["p50_ms"],
            "p99_ms": batch["p99_ms"]}


def measure_accuracy(recship, work, args):
    """{spec name: {dtype: {output: max relative error}}}, by `recship verify`."""
    out = {}
    for spec in sorted((REPO_DIR / "examples").glob("*.json")):
        model_dir = work / f"acc-{spec.stem}"
        run_measured([recship, "synth", "--model", spec, "--out", model_dir, "--ids",
                      args.spec_ids, "--steps", 1])
        out[spec.stem] = {}
        for dtype in DTYPES[1:]:
            base = work / f"acc-{spec.stem}-{dtype}"
            export(recship, spec, model_dir, base, dtype)
            _, _, stdout = run_measured([recship, "verify", base, "--model", spec, "--model-dir",
                                         model_dir, "--json", "--tolerance", 1.0])
            report = json.loads(stdout)
            out[spec.stem][dtype] = {k: {"error": v["max_relative_error"],
                                         "probability": v["probability"]}
                                     for k, v in report["outputs"].items()}
        print(f"compression_bench: accuracy of {spec.stem}: " + ", ".join(
            f"{d} {max(x['error'] for x in e.values()):.2g}"
            for d, e in out[spec.stem].items()), flush=True)
    return out


def print_report(r, args):
    base = r["dtypes"]["float32"]
    print()
    print(f"compression_bench: CTR model, 2 tables x {args.ids:,} ids x dim {DIM}; "
          f"latency at batch 64, {args.requests_per_batch} pre-built requests, "
          f"{args.seconds} s per dtype")
    rows = [("dtype", "export s", "rows stored", "vs f32", "data served", "vs f32", "peak RSS",
             "p50 ms", "p99 ms", "p50 vs f32")]
    for dtype, m in r["dtypes"].items():
        rows.append((dtype, f"{m['export_seconds']:.2f}", fmt_mib(m["row_bytes"]),
                     f"{m['row_bytes'] / base['row_bytes']:.2f}", fmt_mib(m["data_bytes"]),
                     f"{m['data_bytes'] / base['data_bytes']:.2f}", fmt_mib(m["rss"]),
                     f"{m['p50_ms']:.3f}", f"{m['p99_ms']:.3f}",
                     f"{m['p50_ms'] / base['p50_ms']:.2f}"))
    print_table(rows, right=tuple(range(1, 10)))
    print("  rows stored: the tables' -values bytes; data served: the model's heap and mapped "
          "bytes after load (rows, keys, dense variables); peak RSS of the loading process.")
    print()
    rows = [("spec", "output", *DTYPES[1:])]
    for spec, by_dtype in r["accuracy"].items():
        for output, first in by_dtype[DTYPES[1]].items():
            kind = "" if first["probability"] else " (unbounded)"
            rows.append((spec, output + kind,
                         *(f"{by_dtype[d][output]['error']:.2g}" for d in DTYPES[1:])))
    print(f"  max relative error of each output against float32, {args.spec_ids:,} ids per "
          f"table, by `recship verify` (|got - want| / max(|want|, 1e-3); for an unbounded "
          f"output, max(|want|, rms / 10)):")
    print_table(rows, right=(2, 3, 4))
    print()
    targets = []
    for dtype, goal in MEMORY_GOALS.items():
        ratio = r["dtypes"][dtype]["row_bytes"] / base["row_bytes"]
        targets.append((f"{dtype} rows stored / float32", f"{ratio:.2f}", f"<= {goal}",
                        ratio <= goal))
        data = r["dtypes"][dtype]["data_bytes"] / base["data_bytes"]
        targets.append((f"{dtype} data served / float32", f"{data:.2f}", "(info)", None))
    for dtype in DTYPES[1:]:
        ratio = r["dtypes"][dtype]["p50_ms"] / base["p50_ms"]
        targets.append((f"{dtype} lookup p50 @64 / float32", f"{ratio:.2f}", "<= 1.2",
                        ratio <= 1.2))
    for dtype, goal in GOALS.items():
        errors = [x for spec in r["accuracy"].values() for x in spec[dtype].values()]
        worst = max(x["error"] for x in errors if x["probability"])
        targets.append((f"{dtype} max rel. error, probability outputs", f"{worst:.2g}",
                        f"<= {goal}", worst <= goal))
        worst = max((x["error"] for x in errors if not x["probability"]), default=0)
        targets.append((f"{dtype} max rel. error, unbounded outputs", f"{worst:.2g}", "(info)",
                        None))
    return print_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=2_000_000, help="ids per table (2,000,000)")
    parser.add_argument("--spec-ids", type=int, default=20_000,
                        help="ids per table for the accuracy of each example spec (20,000)")
    parser.add_argument("--requests-per-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="100,000 ids, 1 s per dtype")
    add_dir_args(parser, "build tree holding recship and bench/runtime_bench")
    add_output_args(parser)
    args = parser.parse_args()
    if args.quick:
        args.ids, args.seconds, args.spec_ids = 100_000, 1.0, 5_000
    with workspace(args, ["recship", "bench/runtime_bench"],
                   "build first (scripts/build.sh)") as (work, (recship, runtime_bench)):
        spec = wide_ctr_spec(work)
        model_dir = work / "model"
        print(f"compression_bench: writing the checkpoint in {work}", flush=True)
        run_measured([recship, "synth", "--model", spec, "--out", model_dir, "--ids", args.ids,
                      "--num-ps", serving_bench.NUM_PS, "--steps", 1])
        requests = serving_bench.write_requests(work, [64], args.requests_per_batch, args.ids,
                                                seed=3)
        results = {"ids": args.ids, "dim": DIM, "dtypes": {}}
        for dtype in DTYPES:
            start = time.perf_counter()
            results["dtypes"][dtype] = measure_dtype(recship, runtime_bench, spec, model_dir,
                                                     work, requests, dtype, args)
            print(f"compression_bench: {dtype} measured in {time.perf_counter() - start:.1f} s",
                  flush=True)
        results["accuracy"] = measure_accuracy(recship, work, args)
        return finish(results, print_report(results, args), args)


if __name__ == "__main__":
    sys.exit(main())
