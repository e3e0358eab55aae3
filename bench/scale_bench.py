#!/usr/bin/env python3
"""Huge-table benchmark: how the load time and memory of one embedding table
grow with its size, recship (rows mapped from their files, the default)
beside recship reading rows into the heap (--map_variables=false, the path
before mapping) and TensorFlow, in one run.

  build/venv/bin/python bench/scale_bench.py                   # 10M and 50M ids, ~10 minutes
  build/venv/bin/python bench/scale_bench.py --sizes 1M --quick  # a smoke run
  build/venv/bin/python bench/scale_bench.py --sizes 10M,50M,200M
  build/venv/bin/python bench/scale_bench.py --sizes 200M --no-tensorflow --memory-limit-gib 8
  build/venv/bin/python bench/scale_bench.py --bigger-than-ram  # ~15 minutes, 2.2x RAM of disk

Steps, for each size N in --sizes:
 1. `recship synth` of a one-table spec (dim --dim, 4 shards, one id
    feature, a 16-unit DNN) with N ids, then `recship export --mode
    standalone --shared-embedding` (the export hard-links the checkpoint
    and writes the table's index file), timed.
 2. Load: `recship serve --port 0 --port_file F` started --runs times (2)
    each way, mapped and heap; ready = the port file written (first load
    pass done). Anonymous and file-backed RSS are sampled every 20 ms
    (/proc/PID/status RssAnon, RssFile); the best time and the highest
    anonymous peak count. TensorFlow: tf.compat.v1.saved_model.loader.load
    in a child, once, when the table fits in memory (3.5x its bytes).
 3. At the largest size up to 50M ids: lookups. Each server in turn under
    `runtime_bench --grpc` (--clients 2) at batch 64 with ids drawn
    uniformly from the table (warm page cache): p50 and p99.
 4. At the same size: a version swap under steady load. A mapped server
    serves version 1 under load (--swap-seconds of steady state), then a
    second export of the same checkpoint (version 2, the same files) is
    made and the server loads it while the load goes on. runtime_bench
    fails on any failed request; p99 before and during the swap.
 5. At the same size: a load with a cold page cache, beside `cat` of the
    same files (both after dropping them from the page cache).

With --memory-limit-gib G, the largest size is also served inside a memory
cgroup of G GiB (page cache included, so a table larger than G is larger
than the memory the server may use), and queried with ids drawn from a Zipf
distribution (--zipf, 1.1), first with the table's files dropped from the
page cache (cold), then again (warm). It needs root to create the cgroup.
With --bigger-than-ram, the one size is 1.1 times the machine's RAM (dim 64
unless --dim), served the same way without a cgroup: the table does not fit
in memory at all.

Free disk is checked before each size; everything written is removed at the
end (unless --keep). Exit status: 0, or 1 with --strict when a target is
missed.
"""

import argparse
import json
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path

import benchlib
from benchlib import MIB, TF_ENV, Server, fmt_mib, run_measured
from serving_bench import predict_request

NUM_SHARDS = 4
MODEL = "scale"
GIB = 1 << 30


def parse_size(text):
    """"10M" -> 10_000_000, "1.5k" -> 1500."""
    scale = {"k": 10**3, "m": 10**6, "g": 10**9}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def write_spec(work, dim):
    spec = {"name": MODEL,
            "tables": [{"name": "user_id", "dim": dim, "num_shards": NUM_SHARDS}],
            "features": [{"name": "user_id", "type": "id", "table": "user_id"}],
            "architecture": {"type": "dnn", "hidden_units": [16], "activation": "relu",
                             "output_activation": "sigmoid"}}
    path = work / "scale.json"
    path.write_text(json.dumps(spec))
    return path


def check_free_space(work, ids, dim):
    # synth writes keys, values, Adagrad slots, freqs and timestamps (about
    # twice the served bytes); the export hard-links them and adds the table
    # index (16-byte slots at a load factor of 0.8); the cold-load run copies
    # the served bytes once more.
    served = ids * (dim * 4 + 8)
    need = ids * (dim * 8 + 24) + ids * 20 + (served if ids <= 50_000_000 else 0) + GIB
    free = shutil.disk_usage(work).free
    if free < need:
        sys.exit(f"scale_bench: {ids:,} ids need about {need / GIB:.1f} GiB free in {work}, "
                 f"there are {free / GIB:.1f} GiB")


def synth_and_export(recship, work, spec, ids):
    """(training folder, export base, seconds the export took)."""
    model_dir, base = work / f"train-{ids}", work / f"export-{ids}"
    run_measured([recship, "synth", "--model", spec, "--out", model_dir, "--ids", ids,
                  "--num-ps", NUM_SHARDS, "--steps", 1])
    start = time.perf_counter()
    export(recship, spec, model_dir, base)
    return model_dir, base, time.perf_counter() - start


def export(recship, spec, model_dir, base, shared=True):
    _, _, stdout = run_measured([recship, "export", "--model", spec, "--model-dir", model_dir,
                                 "--export-dir-base", base, "--mode", "standalone",
                                 *(["--shared-embedding"] if shared else [])])
    return Path(stdout.split()[1])


def rss_kib(pid):
    """(RssAnon, RssFile) of a process in bytes, or None once it is gone."""
    try:
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines())
        return tuple(int(fields[k].split()[0]) * 1024 for k in ("RssAnon", "RssFile"))
    except (OSError, KeyError):
        return None


class RssSampler:
    """Samples a process's anonymous and file-backed RSS every 20 ms in a
    thread; .peak_anon and .last after stop()."""

    def __init__(self, pid):
        self.pid, self.peak_anon, self.last, self._stop = pid, 0, (0, 0), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            sample = rss_kib(self.pid)
            if sample:
                self.peak_anon, self.last = max(self.peak_anon, sample[0]), sample
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self


def serve_args(base, mapped, poll=0):
    return ["--model_name", MODEL, "--model_base_path", base,
            "--file_system_poll_wait_seconds", poll, "--map_variables", str(mapped).lower()]


def measure_load(recship, base, mapped, work, runs):
    best = None
    for _ in range(runs):
        samplers = []
        server = Server(recship, "load", serve_args(base, mapped), work / "load.log",
                        on_spawn=lambda process: samplers.append(RssSampler(process.pid)))
        sampler = samplers[0]
        time.sleep(0.1)  # One more sample after ready.
        server.stop()
        sampler.stop()
        if "loaded in" not in server.log_path.read_text():
            sys.exit(f"scale_bench: the server did not load the model:\n"
                     f"{server.log_path.read_text()[-2000:]}")
        figures = {"ready_seconds": server.ready_seconds, "peak_anon": sampler.peak_anon,
                   "anon_after_load": sampler.last[0], "file_after_load": sampler.last[1]}
        if best is None or figures["ready_seconds"] < best["ready_seconds"]:
            best = dict(figures, peak_anon=max(figures["peak_anon"],
                                               best["peak_anon"] if best else 0))
        else:
            best["peak_anon"] = max(best["peak_anon"], figures["peak_anon"])
    return best


def measure_cold_load(recship, spec, model_dir, work):
    """A load with nothing of the model in the page cache, beside reading the
    same files once with `cat` (cache dropped before each). The model is
    exported again without --shared-embedding, so that its variables file
    holds exactly the bytes the server reads (the hard-linked one also holds
    the optimizer slots nobody serves)."""
    base = work / "cold"
    version = export(recship, spec, model_dir, base, shared=False)
    files = [*version.glob("variables/*"), *version.glob("assets.extra/*/*")]
    read_bytes = sum(f.stat().st_size for f in files)
    drop_from_page_cache(base)
    cat_seconds, _, _ = run_measured(["sh", "-c", 'cat "$@" > /dev/null', "cat", *files],
                                     gnu_time=False)
    drop_from_page_cache(base)
    with Server(recship, "cold", serve_args(base, True), work / "cold.log",
                timeout=600) as server:
        ready = server.ready_seconds
    shutil.rmtree(base)
    return {"ready_seconds": ready, "cat_seconds": cat_seconds, "bytes": read_bytes}


def measure_tensorflow_load(version):
    seconds, rss, stdout = run_measured([sys.executable, Path(__file__).resolve(), "--tf-child",
                                         version], env=TF_ENV, what="TensorFlow (load)")
    out = benchlib.last_json(stdout)
    out["rss"] = rss
    return out


def tf_child(version):
    import tensorflow as tf

    v1 = tf.compat.v1
    config = v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    with v1.Session(graph=tf.Graph(), config=config) as sess:
        start = time.perf_counter()
        v1.saved_model.loader.load(sess, ["serve"], version)
        print(json.dumps({"load_seconds": time.perf_counter() - start}))


def write_requests(work, ids, batch=64, count=512, seed=3):
    """runtime_bench's request file: ids uniform over the table (recship
    synth's ids: k*4 + s for even k, -(k*4) + s for odd k, on shard s)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    per_shard = ids // NUM_SHARDS
    path = work / "requests.bin"
    with open(path, "wb") as f:
        for _ in range(count):
            k = rng.integers(0, per_shard, batch)
            s = rng.integers(0, NUM_SHARDS, batch)
            user = np.where(k % 2 == 0, k * NUM_SHARDS + s, -(k * NUM_SHARDS) + s)
            payload = predict_request({"user_id": user.astype(np.int64)})
            f.write(struct.pack("<QQ", batch, len(payload)) + payload)
    return path


def load_generator(runtime_bench, server, requests, seconds, warmup=0.5):
    _, _, stdout = run_measured([runtime_bench, "--grpc", server.address, "--model-name", MODEL,
                                 "--requests", requests, "--clients", 2, "--seconds", seconds,
                                 "--warmup-seconds", warmup], what="runtime_bench --grpc")
    return benchlib.last_json(stdout)["results"][0]


def measure_lookups(recship, runtime_bench, base, requests, work, seconds):
    out = {}
    for mapped in (True, False):
        with Server(recship, "lookup", serve_args(base, mapped), work / "lookup.log") as server:
            out["mapped" if mapped else "heap"] = load_generator(runtime_bench, server, requests,
                                                                 seconds)
    return out


def measure_swap(recship, runtime_bench, spec, model_dir, base, requests, work, seconds,
                 load_seconds):
    """p99 in steady state, then while version 2 loads (the window covers
    three times the load time measured before); runtime_bench exits (and this
    script with it) on any failed request. Version 2 is exported beforehand
    to a staging folder and renamed into the served base, as a copy from
    another machine would arrive, so the export's own work is not measured."""
    log = work / "swap.log"
    staging = work / "staging"
    version2 = export(recship, spec, model_dir, staging)
    with Server(recship, "swap", serve_args(base, True, poll=0.2), log) as server:
        steady = load_generator(runtime_bench, server, requests, seconds)
        during = {}
        window = 3 * load_seconds + 2
        loader = threading.Thread(target=lambda: during.update(
            load_generator(runtime_bench, server, requests, window, warmup=0)))
        loader.start()
        time.sleep(0.5)
        version2.rename(base / version2.name)
        loader.join()
        loaded = [line for line in log.read_text().splitlines() if "loaded in" in line]
    if len(loaded) < 2:
        sys.exit(f"scale_bench: version 2 did not load within {window:.1f} s:\n"
                 f"{log.read_text()[-2000:]}")
    return {"steady": steady, "during": during, "loads": loaded}


def memory_cgroup(work, limit_bytes):
    """A new memory cgroup limited to limit_bytes (page cache included), as
    the folder whose cgroup.procs takes a pid: cgroup v2's memory.max where
    the unified hierarchy has the memory controller, else v1's
    memory.limit_in_bytes. Exits when neither can be made (needs root)."""
    name = f"recship-{work.name}"
    for root, limit_file in (("/sys/fs/cgroup", "memory.max"),
                             ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")):
        group = Path(root) / name
        try:
            group.mkdir()
        except OSError:
            continue
        # A real cgroup folder comes with its files (/sys/fs/cgroup may be a
        # plain tmpfs holding v1 hierarchies).
        if not (group / limit_file).exists():
            shutil.rmtree(group, ignore_errors=True)
            continue
        (group / limit_file).write_text(str(limit_bytes))
        return group
    sys.exit("scale_bench: --memory-limit-gib needs a memory cgroup it can create (root)")


def zipf_requests(work, ids, alpha, batch=64, count=512, seed=5):
    """Requests whose ids follow Zipf(alpha) over the table, the hot ids
    scattered over the files (rank k is id (k * a large prime) mod the shard
    size), as runtime_bench's request file."""
    import numpy as np

    rng = np.random.default_rng(seed)
    per_shard = ids // NUM_SHARDS
    path = work / "zipf.bin"
    with open(path, "wb") as f:
        for _ in range(count):
            rank = np.minimum(rng.zipf(alpha, batch), per_shard) - 1
            k = (rank * 1_000_003) % per_shard
            s = rng.integers(0, NUM_SHARDS, batch)
            user = np.where(k % 2 == 0, k * NUM_SHARDS + s, -(k * NUM_SHARDS) + s)
            payload = predict_request({"user_id": user.astype(np.int64)})
            f.write(struct.pack("<QQ", batch, len(payload)) + payload)
    return path


def drop_from_page_cache(folder):
    for path in Path(folder).rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def measure_bigger_than_memory(recship, runtime_bench, base, ids, work, args):
    """Serves a table larger than the memory the server may use, the
    machine's RAM (--bigger-than-ram) or a memory cgroup of
    --memory-limit-gib: load time and peak memory, then Zipf lookups with
    the page cache dropped (cold) and again (warm)."""
    group = None
    command = recship
    out = {"limit": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "cgroup": False}
    if args.memory_limit_gib:
        out = {"limit": int(args.memory_limit_gib * GIB), "cgroup": True}
        group = memory_cgroup(work, out["limit"])
        command = work / "in-cgroup.sh"
        command.write_text(f"#!/bin/sh\necho $$ > {group / 'cgroup.procs'}\n"
                           f"exec {recship} \"$@\"\n")
        command.chmod(0o755)
    requests = zipf_requests(work, ids, args.zipf)
    samplers = []
    try:
        drop_from_page_cache(base)
        with Server(command, "bigger", serve_args(base, True), work / "bigger.log",
                    timeout=1800,
                    on_spawn=lambda process: samplers.append(RssSampler(process.pid))) as server:
            out["ready_seconds"] = server.ready_seconds
            drop_from_page_cache(base)
            out["cold"] = load_generator(runtime_bench, server, requests, args.seconds, warmup=0)
            out["warm"] = load_generator(runtime_bench, server, requests, args.seconds)
            out["peak_anon"] = samplers[0].stop().peak_anon
            if server.process.poll() is not None:
                sys.exit(f"scale_bench: the server died:\n{server.log_path.read_text()[-2000:]}")
    finally:
        if samplers:
            samplers[0].stop()
        if group:
            time.sleep(0.5)
            group.rmdir()
    return out


def print_report(r, args):
    rows = [("ids", "variables", "export", "TF load", "TF peak RSS", "heap load", "heap peak anon",
             "mapped load", "mapped peak anon", "mapped file RSS", "mapped / TF")]
    for s in r["sizes"]:
        tf, heap, mapped = s.get("tensorflow"), s.get("heap"), s["mapped"]
        rows.append((f"{s['ids']:,}", fmt_mib(s["variable_bytes"]), f"{s['export_seconds']:.2f} s",
                     f"{tf['load_seconds']:.2f} s" if tf else "-",
                     fmt_mib(tf["rss"]) if tf and tf["rss"] else "-",
                     f"{heap['ready_seconds']:.2f} s" if heap else "-",
                     fmt_mib(heap["peak_anon"]) if heap else "-",
                     f"{mapped['ready_seconds']:.2f} s", fmt_mib(mapped["peak_anon"]),
                     fmt_mib(mapped["file_after_load"]),
                     f"{mapped['ready_seconds'] / tf['load_seconds']:.2f}" if tf else "-"))
    print("\nLoad (ready to serve) and memory, warm page cache:")
    benchlib.print_table(rows, right=tuple(range(1, 11)))
    targets = []
    at50 = next((s for s in r["sizes"] if s["ids"] == 50_000_000), None)
    if at50 and at50.get("tensorflow"):
        ratio = at50["mapped"]["ready_seconds"] / at50["tensorflow"]["load_seconds"]
        targets.append(("50M load / TensorFlow's", f"{ratio:.2f}", "<= 0.10", ratio <= 0.10))
    if at50:
        anon = at50["mapped"]["peak_anon"]
        targets.append(("50M peak anonymous RSS", fmt_mib(anon), "<= 1.5 GiB", anon <= 1.5 * GIB))
    if "cold" in r:
        c = r["cold"]
        ratio = c["ready_seconds"] / c["cat_seconds"]
        print(f"\nCold page cache ({r['lookup_ids']:,} ids): ready in {c['ready_seconds']:.2f} s; "
              f"cat of the same {fmt_mib(c['bytes'])} (variables and table index) "
              f"{c['cat_seconds']:.2f} s")
        targets.append(("cold load / cat of its files", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5))
    if "lookups" in r:
        m, h = r["lookups"]["mapped"], r["lookups"]["heap"]
        print(f"\nLookups at batch 64 ({r['lookup_ids']:,} ids, uniform, 2 clients): mapped p50 "
              f"{m['p50_ms']:.3f} ms p99 {m['p99_ms']:.3f} ms; heap p50 {h['p50_ms']:.3f} ms "
              f"p99 {h['p99_ms']:.3f} ms")
        ratio = m["p50_ms"] / h["p50_ms"]
        targets.append(("p50 mapped / heap", f"{ratio:.2f}", "<= 1.2", ratio <= 1.2))
    if "swap" in r:
        steady, during = r["swap"]["steady"], r["swap"]["during"]
        print(f"\nVersion swap under load: steady p99 {steady['p99_ms']:.3f} ms, during the "
              f"load of version 2 p99 {during['p99_ms']:.3f} ms (max "
              f"{during['max_ms']:.3f} ms), 0 failed requests; server log:")
        for line in r["swap"]["loads"]:
            print("  " + line)
        ratio = during["p99_ms"] / steady["p99_ms"]
        targets.append(("swap p99 / steady p99", f"{ratio:.2f}", "<= 2", ratio <= 2))
    if "bigger_than_memory" in r:
        b = r["bigger_than_memory"]
        where = (f"in a memory cgroup of {b['limit'] / GIB:.2f} GiB (page cache included)"
                 if b["cgroup"] else f"on a machine with {b['limit'] / GIB:.2f} GiB of RAM")
        print(f"\nTable of {b['variable_bytes'] / GIB:.2f} GiB served {where}: ready in "
              f"{b['ready_seconds']:.2f} s, peak anonymous RSS {fmt_mib(b['peak_anon'])}; "
              f"Zipf({args.zipf}) lookups at batch 64: cold p50 {b['cold']['p50_ms']:.3f} ms "
              f"p99 {b['cold']['p99_ms']:.3f} ms, warm p50 {b['warm']['p50_ms']:.3f} ms "
              f"p99 {b['warm']['p99_ms']:.3f} ms")
    print()
    return benchlib.print_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10M,50M", help="ids per run, e.g. 10M,50M,200M")
    parser.add_argument("--dim", type=int, help="embedding dim (16; 64 with --bigger-than-ram)")
    parser.add_argument("--runs", type=int, default=2, help="loads per way and size")
    parser.add_argument("--seconds", type=float, default=5, help="seconds per latency run")
    parser.add_argument("--quick", action="store_true", help="one load each, 1 s latency runs")
    parser.add_argument("--no-tensorflow", action="store_true", help="skip TensorFlow's loads")
    parser.add_argument("--memory-limit-gib", type=float,
                        help="also serve the largest size in a memory cgroup of this many GiB "
                             "(page cache included; smaller than the table), with Zipf lookups "
                             "cold and warm (needs root)")
    parser.add_argument("--bigger-than-ram", action="store_true",
                        help="one size, 1.1 times this machine's RAM (ids from --dim), served "
                             "with Zipf lookups cold and warm; takes minutes and about 2.2 times "
                             "RAM of disk")
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of those lookups")
    parser.add_argument("--tf-child", help=argparse.SUPPRESS)
    benchlib.add_dir_args(parser, "where recship and bench/runtime_bench are built")
    benchlib.add_output_args(parser)
    args = parser.parse_args()
    if args.tf_child:
        return tf_child(args.tf_child)
    if args.quick:
        args.runs, args.seconds = 1, 1
    args.dim = args.dim or (64 if args.bigger_than_ram else 16)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if args.bigger_than_ram:
        sizes = [int(1.1 * memory / (args.dim * 4 + 8)) // NUM_SHARDS * NUM_SHARDS]
        args.no_tensorflow = True
    results = {"args": benchlib.args_json(args), "sizes": []}
    with benchlib.workspace(args, ["recship", "bench/runtime_bench"],
                            "build it with scripts/build.sh") as (work, (recship, runtime_bench)):
        spec = write_spec(work, args.dim)
        for ids in sizes:
            check_free_space(work, ids, args.dim)
            model_dir, base, export_seconds = synth_and_export(recship, work, spec, ids)
            version = next(base.iterdir())
            size = {"ids": ids, "variable_bytes": ids * (args.dim * 4 + 8),
                    "export_seconds": export_seconds}
            print(f"scale_bench: {ids:,} ids exported ({fmt_mib(size['variable_bytes'])})",
                  flush=True)
            size["mapped"] = measure_load(recship, base, True, work, args.runs)
            if size["variable_bytes"] * 3.5 < memory:
                size["heap"] = measure_load(recship, base, False, work, args.runs)
                if not args.no_tensorflow:
                    size["tensorflow"] = measure_tensorflow_load(version)
            results["sizes"].append(size)
            if ids == max((s for s in sizes if s <= 50_000_000), default=None):
                requests = write_requests(work, ids)
                results["lookup_ids"] = ids
                results["lookups"] = measure_lookups(recship, runtime_bench, base, requests, work,
                                                     args.seconds)
                results["swap"] = measure_swap(recship, runtime_bench, spec, model_dir, base,
                                               requests, work, args.seconds,
                                               size["mapped"]["ready_seconds"])
                results["cold"] = measure_cold_load(recship, spec, model_dir, work)
            if (args.memory_limit_gib or args.bigger_than_ram) and ids == sizes[-1]:
                results["bigger_than_memory"] = dict(
                    measure_bigger_than_memory(recship, runtime_bench, base, ids, work, args),
                    variable_bytes=size["variable_bytes"])
            shutil.rmtree(model_dir)
            shutil.rmtree(base)
        return benchlib.finish(results, print_report(results, args), args)


if __name__ == "__main__":
    sys.exit(main())
