"""Helpers shared by the benchmark scripts in bench/: running and measuring a
child process, `recship serve` processes, the temporary folder with private
copies of the binaries under test, and the printing of figures and tables.

Messages and folder names start with the running script's name (prog())."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
MIB = 1 << 20
GNU_TIME = "/usr/bin/time"
TF_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def prog():
    """The running script's name without .py, e.g. "serving_bench"."""
    return Path(sys.argv[0]).stem


# --------------------------------------------------------------- processes

def run_measured(argv, env=None, what=None, gnu_time=True, wait4_rss=True):
    """Runs argv to completion, its output captured: (seconds, peak RSS in
    bytes or None, stdout). When it fails, exits naming it (`what`, else
    argv) with the tails of its stderr and stdout.

    The peak RSS is the child's ru_maxrss: GNU time's %M when gnu_time and
    /usr/bin/time is there, else os.wait4's when wait4_rss, else None. Linux
    folds the memory map a process had before exec into its ru_maxrss, and a
    child spawned by Python starts with Python's (vfork shares it), so
    os.wait4 reports at least this script's RSS. GNU time, a small C program,
    forks and waits for the command itself, so its figure is the command's own."""
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        use_time = gnu_time and os.access(GNU_TIME, os.X_OK)
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *argv] if use_time else argv
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        if proc.returncode != 0:
            sys.exit(f"{prog()}: {what or ' '.join(argv)} exited {proc.returncode}:\n"
                     f"{stderr[-4000:]}{stdout[-4000:]}")
        rss = usage.ru_maxrss * 1024 if wait4_rss else None
        if use_time:
            rss = int(rss_file.read().split()[-1]) * 1024
    return seconds, rss, stdout


def last_json(stdout):
    """The JSON document a child printed last (runtime_bench prints one
    indented document; a TensorFlow child one line)."""
    start = stdout.rfind("\n{")
    return json.loads(stdout[start + 1 if start >= 0 else stdout.find("{"):])


def vm_hwm(pid):
    """Peak RSS in bytes of a running process (VmHWM), or None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def tensorflow_importable():
    """True when this Python can import TensorFlow (checked in a child)."""
    probe = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True,
                           env=dict(TF_ENV, TF_CPP_MIN_LOG_LEVEL="3"))
    return probe.returncode == 0


class Server:
    """One `recship serve --port 0 ...` process, its stderr in log_path: once
    constructed it is serving on a loopback port it picked itself (.port,
    .address): it wrote its port to --port_file (docs/cli.md). Exits, with the
    log's tail, when the server stops or is not ready within `timeout`
    seconds. .ready_seconds is how long it took to become ready; on_spawn,
    when given, is called with the process as soon as it exists. As a
    context manager it is stopped at the end."""

    def __init__(self, recship, name, args, log_path, timeout=120, on_spawn=None, port=0):
        self.name, self.log_path = name, log_path
        port_file = log_path.with_name(log_path.name + ".port")
        port_file.unlink(missing_ok=True)
        start = time.perf_counter()
        with open(log_path, "ab") as log:  # A restarted server appends.
            self.process = subprocess.Popen([str(recship), "serve", "--port", str(port),
                                             "--port_file", str(port_file), *map(str, args)],
                                            stdout=subprocess.DEVNULL, stderr=log)
        if on_spawn:
            on_spawn(self.process)
        deadline = time.monotonic() + timeout
        while True:
            if port_file.exists():
                self.port = int(port_file.read_text().split()[0])  # Then REST's, if on.
                self.ready_seconds = time.perf_counter() - start
                return
            if self.process.poll() is not None:
                sys.exit(f"{prog()}: recship serve ({name}) exited "
                         f"{self.process.returncode}:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"{prog()}: recship serve ({name}) did not start within "
                         f"{timeout} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def peak_rss(self):
        """The server's peak RSS so far (VmHWM, bytes), while it runs."""
        return vm_hwm(self.process.pid)

    def stop(self):
        """SIGTERM, SIGKILL after 30 s; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# ----------------------------------------------------- options and folders

def add_dir_args(parser, build_help):
    """Adds --build-dir (default <repo>/build) and --tmp-dir, as workspace()
    reads them."""
    parser.add_argument("--build-dir", type=Path, default=REPO_DIR / "build", help=build_help)
    parser.add_argument("--tmp-dir", type=Path,
                        help="where temporary data goes (default <build-dir>/bench-tmp)")


def add_output_args(parser, strict_help="exit 1 when a target is missed"):
    """Adds --keep (read by workspace()), --json and --strict."""
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--strict", action="store_true", help=strict_help)


def finish(results, met, args, key="all_targets_met"):
    """Records whether the targets were met under `key`, writes --json, and
    returns the exit status: 1 with --strict when a target was missed."""
    results[key] = met
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if args.strict and not met else 0


@contextlib.contextmanager
def workspace(args, binaries, build_hint):
    """Yields (folder, [copies]): a new folder <tmp-dir>/<prog>-<pid> and in it
    private copies of `binaries` (paths under --build-dir), so that a rebuild
    of the shared build tree during the run cannot swap the binaries under
    test. Exits first, saying `build_hint`, when one is missing. At the end
    the folder is deleted, and <tmp-dir> when no other benchmark uses it;
    with --keep it is kept and said so."""
    build_dir = args.build_dir.resolve()
    for binary in binaries:
        if not os.access(build_dir / binary, os.X_OK):
            sys.exit(f"{prog()}: {build_dir / binary} is missing: {build_hint}")
    tmp_root = (args.tmp_dir or build_dir / "bench-tmp").resolve()
    tmp_root.mkdir(parents=True, exist_ok=True)
    work = tmp_root / f"{prog()}-{os.getpid()}"
    work.mkdir()
    try:
        copies = [work / Path(binary).name for binary in binaries]
        for binary, copy in zip(binaries, copies):
            shutil.copy2(build_dir / binary, copy)
        yield work, copies
    finally:
        if args.keep:
            print(f"{prog()}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            try:
                tmp_root.rmdir()  # Only when no other benchmark uses it.
            except OSError:
                pass


def args_json(args):
    """The parsed options as a dict for a JSON file (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def tree_bytes(path):
    """Bytes of all the files below path."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ------------------------------------------------------------------ report

def fmt_mib(n):
    """n bytes in MiB: no decimals from 10 MiB, one below."""
    return f"{n / MIB:,.0f} MiB" if n >= 10 * MIB else f"{n / MIB:.1f} MiB"


def max_rel_diff(a, b):
    """The largest relative difference between two {output: [floats]}
    (inf when a list's length differs), relative to b."""
    worst = 0.0
    for key in a:
        for x, y in zip(a[key], b.get(key, [])):
            worst = max(worst, abs(x - y) / max(abs(y), 1e-6))
        if len(a[key]) != len(b.get(key, [])):
            return float("inf")
    return worst


def print_table(rows, right=()):
    """Prints rows of strings as aligned columns, indented two spaces, a rule
    under the first row; the columns numbered in `right` right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, cells in enumerate(rows):
        print(("  " + "  ".join(c.rjust(w) if j in right else c.ljust(w)
                                for j, (c, w) in enumerate(zip(cells, widths)))).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def print_targets(targets):
    """Prints (name, measured, goal, met) rows, met True, False or None for
    information only, as a table and a blank line, when there are any; returns
    whether every goal is met."""
    if targets:
        rows = [("target", "measured", "goal", "met")]
        rows += [(name, value, goal, "-" if met is None else ("yes" if met else "NO"))
                 for name, value, goal, met in targets]
        print_table(rows, right=(1, 2, 3))
        print()
    return all(met for *_, met in targets if met is not None)
