#!/usr/bin/env python3
"""Export benchmark: recship's standalone export against `cp -r` and
against TensorFlow's own export of the same model, in one run.

  build/venv/bin/python bench/export_bench.py              # 2 tables x 5M ids x dim 32
  build/venv/bin/python bench/export_bench.py --ids 100000 # a quick check

Steps:
 1. `recship synth` writes a training folder for a model with 2 tables x N ids x
    dim 32, each on 4 shards, plus Adagrad slots, freqs and timestamps, and a
    small MLP (one checkpoint step).
 2. Baselines: `cp -r` of that folder, then an fsync of every copied file (recship
    fsyncs what it exports; plain cp leaves it in the page cache); and reading its
    data files once (`cat > /dev/null`), the disk speed that shared mode's crc32c
    check of the exported tensors is held to.
 3. `recship export --mode standalone`, copy mode and `--shared-embedding`;
    `--mode distributed` in copy mode on the checkpoint's 4 shards, and
    re-sharded to 3 and to 8 (`--num-ps`), which writes every row anew.
 4. The same standalone copy-mode export from Python (`recship.model_export`
    with `recship.zoo`, the package `pip install .` builds), a whole process
    as the command is, against the command's time: the binding's overhead.
 5. TensorFlow (when importable), in a child process: the dense variables as
    tf.Variables restored by tf.compat.v1.train.Saver; each table as one
    tf.lookup.experimental.MutableHashTable (int64 -> float[32]) filled by
    LookupTableImportV2 from the shards' keys and values concatenated (read with
    tf.train.load_checkpoint); saved with tf.compat.v1.saved_model.Builder.
    Only restore + save is timed.

Steps 2 to 4 run in --runs interleaved rounds (3), step 5 --tf-runs times (1).
The table shows each one's fastest run, since other work on a shared machine
only ever adds time, and lists every run; shared mode's target is checked on
its slowest run. The binary under test is a private copy of <build-dir>/recship.

The page cache is dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`, root
only) before each measurement, so every run reads the checkpoint from disk. When
that is not allowed, each run follows a warm-up read of the checkpoint instead,
and the table says so. Peak RSS is each process's ru_maxrss, read through GNU time
(/usr/bin/time) when present, else os.wait4 (see benchlib.run_measured).
Temporary data goes to <tmp-dir>/export_bench-<pid> and is deleted at the end.
Exit status: 0, or 1 with --strict when a target is missed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import (GNU_TIME, MIB, TF_ENV, add_dir_args, add_output_args, finish, fmt_mib,
                      print_table, print_targets, run_measured, tensorflow_importable,
                      tree_bytes, workspace)

DIM = 32
NUM_PS = 4
CONTEXT_DIM = 8
HIDDEN_UNITS = [64, 32]
TABLES = ["user_id", "item_id"]


def model_spec():
    return {
        "name": "export_bench",
        "tables": [{"name": t, "dim": DIM, "num_shards": NUM_PS} for t in TABLES],
        "features": [{"name": t, "type": "id", "table": t} for t in TABLES]
                    + [{"name": "context", "type": "dense", "dim": CONTEXT_DIM}],
        "architecture": {"type": "dnn", "hidden_units": HIDDEN_UNITS, "activation": "relu",
                         "output_activation": "sigmoid"},
    }


# ------------------------------------------------------------------ helpers

def fsync_tree(path):
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def drop_caches():
    """True when the page cache was dropped."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def warm_read(path):
    buffer = bytearray(8 * MIB)
    for f in sorted(Path(path).rglob("*")):
        if f.is_file():
            with open(f, "rb", buffering=0) as src:
                while src.readinto(buffer):
                    pass


class CacheControl:
    """Before each measurement: drop the page cache, else warm it with a read."""

    def __init__(self, enabled, checkpoint_dir):
        self.checkpoint_dir = checkpoint_dir
        self.enabled = enabled
        self.dropping = enabled and drop_caches()

    def prepare(self):
        if self.dropping:
            self.dropping = drop_caches()
        if not self.dropping:
            os.sync()
            warm_read(self.checkpoint_dir)

    @property
    def description(self):
        if self.dropping:
            return "cold page cache (dropped before each run)"
        why = "drop_caches not allowed" if self.enabled else "--no-drop-caches"
        return f"warm page cache ({why}: a warm-up read of the checkpoint before each run)"


def rss_method():
    if os.access(GNU_TIME, os.X_OK):
        return "GNU time's %M (ru_maxrss of the process)"
    return ("os.wait4 ru_maxrss (no /usr/bin/time: each figure may include up to "
            "the bench's own RSS, which the child inherits until it execs)")


def summarize(results):
    """The fastest run (other work on the machine only ever adds time), with
    every run's seconds, the slowest, and the highest peak RSS."""
    summary = dict(min(results, key=lambda r: r["seconds"]))
    summary["all_seconds"] = [r["seconds"] for r in results]
    summary["worst_seconds"] = max(summary["all_seconds"])
    summary["rss"] = max(r["rss"] for r in results)
    if "seconds_fsync" in summary:
        summary["all_seconds_fsync"] = [r["seconds_fsync"] for r in results]
        summary["seconds_fsync"] = min(summary["all_seconds_fsync"])
    return summary


# ------------------------------------------------------------ measurements

def measure_cp(cache, checkpoint_dir, work, checkpoint_bytes):
    cache.prepare()
    dest = work / "cp-copy"
    start = time.perf_counter()
    _, rss, _ = run_measured(["cp", "-r", checkpoint_dir, dest])
    copied = time.perf_counter() - start
    fsync_tree(dest)
    synced = time.perf_counter() - start
    shutil.rmtree(dest)
    return {"seconds": copied, "seconds_fsync": synced, "rss": rss, "bytes": checkpoint_bytes}


def measure_read(cache, checkpoint_dir):
    """Reading the checkpoint's data files once, as `cat > /dev/null` does:
    the disk speed that shared mode's crc32c check of the exported tensors
    is held to."""
    cache.prepare()
    files = sorted(str(p) for p in Path(checkpoint_dir).glob("*.data-*"))
    seconds, rss, _ = run_measured(["sh", "-c", 'cat "$@" > /dev/null', "sh", *files])
    return {"seconds": seconds, "rss": rss, "bytes": sum(os.path.getsize(f) for f in files)}


def measure_recship(cache, recship, spec, checkpoint_dir, work, shared, index):
    cache.prepare()
    base = work / f"export-{'shared' if shared else 'copy'}-{index}"
    argv = [recship, "export", "--model", spec, "--model-dir", checkpoint_dir,
            "--export-dir-base", base, "--mode", "standalone", "--json"]
    if shared:
        argv.append("--shared-embedding")
    seconds, rss, stdout = run_measured(argv)
    summary = json.loads(stdout)
    shutil.rmtree(base)
    return {"seconds": seconds, "rss": rss, "bytes": summary["tensor_bytes"],
            "copied_bytes": summary["copied_bytes"], "shared_by": summary["shared_by"],
            "self_seconds": summary["seconds"]}


def measure_distributed(cache, recship, spec, checkpoint_dir, work, num_ps, index):
    """A distributed copy-mode export; with num_ps other than the checkpoint's
    NUM_PS shards, re-sharded."""
    cache.prepare()
    base = work / f"export-distributed-{num_ps}-{index}"
    argv = [recship, "export", "--model", spec, "--model-dir", checkpoint_dir,
            "--export-dir-base", base, "--mode", "distributed", "--json", "--num-ps", num_ps]
    seconds, rss, stdout = run_measured(argv)
    summary = json.loads(stdout)
    shutil.rmtree(base)
    assert bool(summary["resharded_tables"]) == (num_ps != NUM_PS), summary
    return {"seconds": seconds, "rss": rss,
            "bytes": sum(sub["tensor_bytes"] for sub in summary["sub_models"])}


# Exports the spec as `recship export --mode standalone` does, from Python.
PYTHON_EXPORT = """
import json, sys
from recship import zoo
from recship.model_export import StandaloneExporter
spec, model_dir, base = sys.argv[1:4]
exporter = StandaloneExporter(zoo.model_fn(spec), model_dir, base)
exporter.export_saved_model(zoo.serving_input_receiver_fn(spec))
print(json.dumps(exporter.last_summary))
"""


def python_package_importable():
    return subprocess.run([sys.executable, "-c", "import recship.model_export"],
                          capture_output=True).returncode == 0


def measure_python(cache, spec, checkpoint_dir, work, index):
    """The copy-mode standalone export from Python, the whole process timed."""
    cache.prepare()
    base = work / f"export-python-{index}"
    seconds, rss, stdout = run_measured([sys.executable, "-c", PYTHON_EXPORT, spec,
                                         checkpoint_dir, base])
    summary = json.loads(stdout.strip().splitlines()[-1])
    shutil.rmtree(base)
    return {"seconds": seconds, "rss": rss, "bytes": summary["sub_models"][0]["tensor_bytes"],
            "self_seconds": summary["seconds"]}


def measure_tensorflow(cache, checkpoint_prefix, work, index):
    out = work / f"tf-export-{index}"
    argv = [sys.executable, Path(__file__).resolve(), "--tf-child", checkpoint_prefix, out]
    if cache.dropping:
        argv.append("--tf-child-drop-caches")
    else:
        cache.prepare()
    seconds, rss, stdout = run_measured(argv, env=TF_ENV)
    child = json.loads(stdout.strip().splitlines()[-1])
    child["process_seconds"] = seconds
    child["rss"] = rss
    child["export_bytes"] = tree_bytes(out)
    shutil.rmtree(out)
    return child


# ------------------------------------------------ TensorFlow's export (child)

def tf_child(checkpoint_prefix, export_dir, drop):
    """TensorFlow's export of the bench model, as a TF1 user writes it.

    Prints one JSON line: restore and save seconds, RSS before the timed part."""
    import resource

    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        reader = tf.train.load_checkpoint(checkpoint_prefix)
        dense_shapes = {name: shape for name, shape in tf.train.list_variables(checkpoint_prefix)
                        if name.startswith("mlp/")}
        variables = {name: v1.get_variable(name, shape=shape, dtype=tf.float32,
                                           initializer=v1.zeros_initializer())
                     for name, shape in dense_shapes.items()}
        tables, imports = {}, {}
        for t in TABLES:
            table = tf.lookup.experimental.MutableHashTable(
                key_dtype=tf.int64, value_dtype=tf.float32, default_value=tf.zeros([DIM]),
                name=t)
            keys = v1.placeholder(tf.int64, [None], name=f"{t}_import_keys")
            values = v1.placeholder(tf.float32, [None, DIM], name=f"{t}_import_values")
            tables[t] = table
            imports[t] = (tf.raw_ops.LookupTableImportV2(
                table_handle=table.resource_handle, keys=keys, values=values), keys, values)

        inputs = {t: v1.placeholder(tf.int64, [None], name=t) for t in TABLES}
        inputs["context"] = v1.placeholder(tf.float32, [None, CONTEXT_DIM], name="context")
        x = tf.concat([tables[t].lookup(inputs[t]) for t in TABLES] + [inputs["context"]], 1)
        layers = [f"mlp/dense_{i}" for i in range(len(HIDDEN_UNITS))] + ["mlp/logits"]
        for layer in layers:
            x = tf.matmul(x, variables[f"{layer}/kernel"]) + variables[f"{layer}/bias"]
            x = tf.nn.relu(x) if layer != "mlp/logits" else tf.sigmoid(x)
        prediction = tf.identity(x, name="prediction")
        dense_saver = v1.train.Saver(var_list=variables)
        signature = v1.saved_model.signature_def_utils.predict_signature_def(
            inputs=inputs, outputs={"prediction": prediction})

        with v1.Session(graph=graph) as sess:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            if drop:
                drop_caches()
            start = time.perf_counter()
            # Restore: the dense variables by Saver, each table from its shards.
            dense_saver.restore(sess, checkpoint_prefix)
            for t in TABLES:
                op, keys, values = imports[t]
                shard_keys = [reader.get_tensor(f"{t}/shard_{i}-keys") for i in range(NUM_PS)]
                shard_values = [reader.get_tensor(f"{t}/shard_{i}-values")
                                for i in range(NUM_PS)]
                sess.run(op, {keys: np.concatenate(shard_keys),
                              values: np.concatenate(shard_values)})
                del shard_keys, shard_values
            restored = time.perf_counter()
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                sess, [v1.saved_model.tag_constants.SERVING],
                signature_def_map={"serving_default": signature})
            builder.save()
            saved = time.perf_counter()
            sizes = [int(sess.run(tables[t].size())) for t in TABLES]
    print(json.dumps({"restore_seconds": restored - start, "save_seconds": saved - restored,
                      "seconds": saved - start, "rss_before": rss_before,
                      "table_sizes": sizes}))


# ------------------------------------------------------------------- report

def print_report(r, args):
    ck = r["checkpoint"]
    print()
    print(f"export_bench: 2 tables x {args.ids:,} ids x dim {DIM}, {NUM_PS} shards each, "
          f"Adagrad slots, freqs, timestamps; MLP {HIDDEN_UNITS}")
    print(f"checkpoint: {fmt_mib(ck['bytes'])} on disk ({ck['bytes']:,} bytes), of which "
          f"{fmt_mib(r['copy']['bytes'])} serving tensors (keys, values, dense); "
          f"synth took {ck['synth_seconds']:.1f} s")
    tf_runs = f" ({args.tf_runs} for TensorFlow)" if r.get("tf") else ""
    print(f"runs: {r['cache']}; seconds: best of {args.runs} interleaved run(s){tf_runs}; "
          f"peak RSS by {rss_method()}")
    print()
    rows = [("what", "seconds", "bytes", "MB/s", "peak RSS", "every run (s)")]

    def row(name, seconds, nbytes, rss, every=()):
        mbps = f"{nbytes / seconds / 1e6:,.0f}" if nbytes else "-"
        rows.append((name, f"{seconds:.3f}", fmt_mib(nbytes) if nbytes else "-", mbps,
                     fmt_mib(rss) if rss is not None else "-",
                     " ".join(f"{x:.2f}" for x in every) if len(every) > 1 else ""))

    cp = r["cp"]
    row("cp -r", cp["seconds"], cp["bytes"], cp["rss"], cp["all_seconds"])
    row("cp -r + fsync", cp["seconds_fsync"], cp["bytes"], cp["rss"], cp["all_seconds_fsync"])
    row("recship export (copy)", r["copy"]["seconds"], r["copy"]["bytes"], r["copy"]["rss"],
        r["copy"]["all_seconds"])
    py = r.get("python")
    if py:
        row("  the same from Python", py["seconds"], py["bytes"], py["rss"], py["all_seconds"])
    read = r["read"]
    row("cat data files > /dev/null", read["seconds"], read["bytes"], read["rss"],
        read["all_seconds"])
    row("recship export (shared)", r["shared"]["seconds"], r["shared"]["bytes"],
        r["shared"]["rss"], r["shared"]["all_seconds"])
    dist = r["distributed"]
    row(f"distributed export (copy, {NUM_PS} shards)", dist["seconds"], dist["bytes"],
        dist["rss"], dist["all_seconds"])
    for n in (3, 8):
        rs = r[f"reshard_{n}"]
        row(f"  re-sharded {NUM_PS} -> {n}", rs["seconds"], rs["bytes"], rs["rss"],
            rs["all_seconds"])
    tf = r.get("tf")
    if tf:
        row("TensorFlow restore+save", tf["seconds"], r["copy"]["bytes"], tf["rss"],
            tf["all_seconds"])
        row("  of which restore", tf["restore_seconds"], 0, None)
        row("  of which save", tf["save_seconds"], 0, None)
    print_table(rows, right=(1, 2, 3, 4))
    print()
    print("  MB/s: exported serving-tensor bytes for recship and TensorFlow (shared mode reads "
          "them once to check their crc32c), checkpoint bytes for cp and cat.")
    print(f"  shared mode: {r['shared']['shared_by']}, {r['shared']['copied_bytes']:,} "
          f"embedding bytes copied. recship's own timer: copy "
          f"{r['copy']['self_seconds']:.3f} s, shared {r['shared']['self_seconds']:.3f} s "
          f"(the table counts the whole process).")
    if tf:
        print(f"  TensorFlow: peak RSS includes {fmt_mib(tf['rss_before'])} already in use "
              f"before the timed part (TensorFlow loaded, graph built); export "
              f"{fmt_mib(tf['export_bytes'])}; TensorFlow's writer does not fsync. Whole "
              f"child process {tf['process_seconds']:.1f} s.")
    elif r.get("tf_skipped"):
        print(f"  TensorFlow: skipped ({r['tf_skipped']}).")
    if py:
        print(f"  Python: the library's own timer {py['self_seconds']:.3f} s against the "
              f"command's {r['copy']['self_seconds']:.3f} s; the rest is starting the process.")
    elif r.get("python_skipped"):
        print(f"  Python: skipped ({r['python_skipped']}).")
    print()

    targets = []
    copy_mbps = r["copy"]["bytes"] / r["copy"]["seconds"]
    cp_mbps = cp["bytes"] / cp["seconds"]
    cp_sync_mbps = cp["bytes"] / cp["seconds_fsync"]
    targets.append(("copy-mode MB/s / cp -r MB/s", f"{copy_mbps / cp_mbps:.2f}", ">= 0.8",
                    copy_mbps / cp_mbps >= 0.8))
    targets.append(("copy-mode MB/s / (cp -r + fsync) MB/s", f"{copy_mbps / cp_sync_mbps:.2f}",
                    "(info)", None))
    shared_mbps = r["shared"]["bytes"] / r["shared"]["seconds"]
    read_mbps = read["bytes"] / read["seconds"]
    targets.append(("shared-mode MB/s (crc32c check) / cat MB/s", f"{shared_mbps / read_mbps:.2f}",
                    ">= 0.8", shared_mbps / read_mbps >= 0.8))
    targets.append(("shared mode seconds (slowest run)", f"{r['shared']['worst_seconds']:.3f}",
                    "(info)", None))
    if py:
        overhead = py["seconds"] / r["copy"]["seconds"]
        targets.append(("Python export s / recship export s", f"{overhead:.3f}", "<= 1.05",
                        overhead <= 1.05))
    dist_mbps = dist["bytes"] / dist["seconds"]
    for n in (3, 8):
        rs = r[f"reshard_{n}"]
        ratio = rs["bytes"] / rs["seconds"] / dist_mbps
        targets.append((f"re-shard {NUM_PS} -> {n} MB/s / distributed copy MB/s",
                        f"{ratio:.2f}", ">= 0.8", ratio >= 0.8))
    peak = max(r[k]["rss"] for k in ("copy", "shared", "distributed", "reshard_3", "reshard_8",
                                     "python") if k in r)
    targets.append(("recship peak RSS (MiB)", f"{peak / MIB:.1f}", "< 256", peak < 256 * MIB))
    if tf:
        speedup = tf["seconds"] / r["copy"]["seconds"]
        targets.append(("TensorFlow s / recship copy-mode s", f"{speedup:.1f}x", ">= 3x",
                        speedup >= 3.0))
        targets.append(("TensorFlow s / recship shared-mode s",
                        f"{tf['seconds'] / r['shared']['seconds']:.1f}x", "(info)", None))
    return print_targets(targets)


# --------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=5_000_000, help="ids per table (5,000,000)")
    add_dir_args(parser, "build tree holding the recship binary")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds of cp -r, copy and shared export; the best is reported (3)")
    parser.add_argument("--tf-runs", type=int, default=1,
                        help="runs of TensorFlow's export, which is slow (1)")
    parser.add_argument("--no-tf", action="store_true", help="skip TensorFlow's export")
    parser.add_argument("--no-python", action="store_true",
                        help="skip the export from Python (the recship package)")
    parser.add_argument("--no-drop-caches", action="store_true",
                        help="warm the page cache instead of dropping it")
    add_output_args(parser)
    parser.add_argument("--tf-child", nargs=2, metavar=("PREFIX", "EXPORT_DIR"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--tf-child-drop-caches", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.tf_child:
        tf_child(args.tf_child[0], Path(args.tf_child[1]), args.tf_child_drop_caches)
        return 0

    with workspace(args, ["recship"], "build first (scripts/build.sh)") as (work, (recship,)):
        spec = work / "spec.json"
        spec.write_text(json.dumps(model_spec(), indent=1))
        model_dir = work / "model"
        print(f"export_bench: writing the checkpoint ({args.ids:,} ids per table) in {work}",
              flush=True)
        synth_seconds, _, stdout = run_measured(
            [recship, "synth", "--model", spec, "--out", model_dir, "--ids", args.ids,
             "--num-ps", NUM_PS, "--steps", 1])
        prefix = stdout.strip().splitlines()[-1]
        results = {"ids": args.ids,
                   "checkpoint": {"bytes": tree_bytes(model_dir), "synth_seconds": synth_seconds,
                                  "prefix": prefix}}
        cache = CacheControl(not args.no_drop_caches, model_dir)
        results["cache"] = cache.description

        # Rounds interleave the measurements, so a slow spell of a shared
        # machine does not fall on one of them only.
        runs = {"cp": [], "read": [], "copy": [], "shared": [], "distributed": [],
                "reshard_3": [], "reshard_8": []}
        measures = {
            "distributed": lambda i: measure_distributed(cache, recship, spec, model_dir, work,
                                                         NUM_PS, i),
            "reshard_3": lambda i: measure_distributed(cache, recship, spec, model_dir, work, 3, i),
            "reshard_8": lambda i: measure_distributed(cache, recship, spec, model_dir, work, 8, i),
            "cp": lambda i: measure_cp(cache, model_dir, work, results["checkpoint"]["bytes"]),
            "read": lambda i: measure_read(cache, model_dir),
            "copy": lambda i: measure_recship(cache, recship, spec, model_dir, work, False, i),
            "shared": lambda i: measure_recship(cache, recship, spec, model_dir, work, True, i),
            "python": lambda i: measure_python(cache, spec, model_dir, work, i),
        }
        if args.no_python:
            results["python_skipped"] = "--no-python"
        elif not python_package_importable():
            results["python_skipped"] = (f"recship is not importable by {sys.executable} "
                                         f"(pip install . first)")
        if "python_skipped" not in results:
            runs["python"] = []
        for i in range(args.runs):
            names = list(runs)[i % len(runs):] + list(runs)[:i % len(runs)]
            for name in names:
                runs[name].append(measures[name](i))
            print(f"export_bench: round {i + 1}/{args.runs}: " + ", ".join(
                f"{name} {runs[name][-1]['seconds']:.3f} s" for name in names), flush=True)
        for name, measured in runs.items():
            results[name] = summarize(measured)
        if args.no_tf:
            results["tf_skipped"] = "--no-tf"
        elif not tensorflow_importable():
            results["tf_skipped"] = f"TensorFlow is not importable by {sys.executable}"
        else:
            measured = []
            for i in range(args.tf_runs):
                measured.append(measure_tensorflow(cache, prefix, work, i))
                print(f"export_bench: TensorFlow export {i + 1}/{args.tf_runs}: "
                      f"{measured[-1]['seconds']:.3f} s", flush=True)
            results["tf"] = summarize(measured)
            expected = [args.ids] * len(TABLES)
            if results["tf"]["table_sizes"] != expected:
                sys.exit(f"export_bench: TensorFlow's tables hold {results['tf']['table_sizes']} "
                         f"ids, not {expected}")
        results["cache"] = cache.description  # It may have changed if a drop failed.
        return finish(results, print_report(results, args), args)


if __name__ == "__main__":
    sys.exit(main())
