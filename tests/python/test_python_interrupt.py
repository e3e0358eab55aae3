"""Ctrl-C during an export from Python: KeyboardInterrupt, and nothing
published (no version and no temp- folder), as `recship export` does. The
export runs with the GIL released, so other Python threads keep running."""

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import REPO_DIR
from recship import zoo
from recship.model_export import StandaloneExporter
from test_export_interrupt import versions_and_temps

SPEC = REPO_DIR / "examples" / "ctr.json"
# About 76 MiB of variables: a few dozen progress steps of 2 MiB.
IDS = 1_000_000


@pytest.fixture(scope="module")
def model_dir(recship, tmp_path_factory):
    out = tmp_path_factory.mktemp("py_interrupt") / "model"
    recship.ok("synth", "--model", SPEC, "--out", out, "--ids", IDS, "--steps", 1)
    return out


# Prints "copying" at the first progress step; each step then takes 20 ms,
# so the SIGINT the test sends arrives mid-export.
EXPORT_SCRIPT = textwrap.dedent("""
    import sys, time
    from recship import zoo
    from recship.model_export import StandaloneExporter
    spec, model_dir, base = sys.argv[1:4]
    def progress(step):
        if step["event"] == "bytes":
            print("copying", flush=True)
            time.sleep(0.02)
    StandaloneExporter(zoo.model_fn(spec), model_dir, base, progress=progress) \\
        .export_saved_model(zoo.serving_input_receiver_fn(spec), global_step=3)
    print("finished", flush=True)
""")


def test_ctrl_c_raises_keyboard_interrupt_and_publishes_nothing(model_dir, tmp_path):
    base = tmp_path / "exports"
    process = subprocess.Popen([sys.executable, "-c", EXPORT_SCRIPT, str(SPEC), str(model_dir),
                                str(base)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline() == "copying\n", process.stderr.read()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    # An uncaught KeyboardInterrupt ends Python by SIGINT, as the shell expects.
    assert process.returncode == -signal.SIGINT, err
    assert "KeyboardInterrupt" in err.splitlines()[-1], err
    assert "finished" not in out
    assert versions_and_temps(base) == []


def test_ctrl_c_stops_an_export_without_a_progress_callback(model_dir, tmp_path):
    # A thread of the exporting process sends the signal once the export has
    # begun writing: it runs because the export released the GIL.
    base = tmp_path / "exports"
    script = textwrap.dedent("""
        import os, signal, sys, threading, time
        from pathlib import Path
        from recship import zoo
        from recship.model_export import StandaloneExporter
        spec, model_dir, base = sys.argv[1:4]
        def interrupt_once_writing():
            while not list(Path(base).glob("temp-*/variables/*")):
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=interrupt_once_writing, daemon=True).start()
        StandaloneExporter(zoo.model_fn(spec), model_dir, base) \\
            .export_saved_model(zoo.serving_input_receiver_fn(spec), global_step=3)
        print("finished", flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", script, str(SPEC), str(model_dir), str(base)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGINT, result.stderr
    assert "KeyboardInterrupt" in result.stderr.splitlines()[-1], result.stderr
    assert versions_and_temps(base) == []


def test_other_threads_run_while_an_export_runs(model_dir, tmp_path):
    # A zoo model_fn and no progress callback: the export is one call into
    # the library, which runs no Python code. Had it kept the GIL, the
    # counter could run only around the call, a switch interval (5 ms) each
    # side.
    counts = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counts.append(None)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    exporter = StandaloneExporter(zoo.model_fn(SPEC), model_dir, tmp_path)
    receiver = zoo.serving_input_receiver_fn(SPEC)
    before, start = len(counts), time.monotonic()
    exporter.export_saved_model(receiver, global_step=1)
    during, seconds = len(counts) - before, time.monotonic() - start
    stop.set()
    counter.join()
    assert seconds > 0.05, "the export was too short to tell"
    assert during > 1_000_000, (during, seconds)
