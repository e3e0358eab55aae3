#!/usr/bin/env python3
"""`recship synth` benchmark: it streams, so memory stays flat
whatever the number of ids. Compared, in the same script, with plain file
I/O writing the same number of bytes in 8 MiB blocks (Python). Neither
fsyncs: a checkpoint writer leaves that to the page cache, as TensorFlow's does.

  build/venv/bin/python bench/synth_bench.py                 # 1M, 10M and 100M ids
  build/venv/bin/python bench/synth_bench.py --ids 1000000   # a quick check

The model is examples/deepfm.json (3 tables of dim 8 on 2 shards; each table
gets N ids), one checkpoint step. Peak RSS is the child's ru_maxrss (os.wait4).
Temporary data goes to <tmp-dir>/synth_bench-<pid> and is deleted after each size.
"""

import argparse
import os
import shutil
import time
from pathlib import Path

from benchlib import MIB, REPO_DIR, run_measured, tree_bytes

SPEC = REPO_DIR / "examples" / "deepfm.json"


def plain_write(path, total_bytes):
    """Seconds to write `total_bytes` in 8 MiB blocks."""
    block = os.urandom(8 << 20)
    start = time.monotonic()
    with open(path, "wb") as f:
        left = total_bytes
        while left > 0:
            f.write(block[:min(left, len(block))])
            left -= len(block)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--build-dir", default=REPO_DIR / "build", type=Path)
    parser.add_argument("--tmp-dir", default="/tmp")
    args = parser.parse_args()
    recship = args.build_dir / "recship"
    work = Path(args.tmp_dir) / f"synth_bench-{os.getpid()}"
    rows = []
    for ids in args.ids:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        seconds, rss, _ = run_measured([recship, "synth", "--model", SPEC, "--out", work / "model",
                                        "--ids", ids, "--steps", 1], gnu_time=False)
        rss /= MIB
        written = tree_bytes(work / "model")
        shutil.rmtree(work / "model")
        baseline = plain_write(work / "plain", written)
        rows.append((ids, written / 2**20, seconds, baseline, rss))
        print(f"{ids:,} ids: synth {seconds:.2f} s, plain write {baseline:.2f} s, "
              f"peak RSS {rss:.0f} MiB", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    print("\n| ids per table | MiB written | synth s | plain write s | synth / plain | "
          "synth MB/s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for ids, mib, seconds, baseline, rss in rows:
        print(f"| {ids:,} | {mib:,.0f} | {seconds:.2f} | {baseline:.2f} | "
              f"{seconds / baseline:.2f} | {mib * 1.048576 / seconds:,.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
