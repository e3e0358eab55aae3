"""`recship export` and Ctrl-C: SIGINT (or SIGTERM) in the middle of an export
stops it, prints that nothing was published, exits 128 + the signal and leaves
no version and no temp- folder. The progress bar goes to stderr only when it
is a terminal, and is cleared at the end."""

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import REPO_DIR

SPEC = REPO_DIR / "examples" / "ctr.json"
# 3M ids per table: 229 MiB of variables, written in about 0.2 s with a warm
# page cache. The test signals as soon as the export's first temp- folder
# appears, well before the export ends.
IDS = 3_000_000


@pytest.fixture(scope="module")
def model_dir(recship, tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupt") / "model"
    recship.ok("synth", "--model", SPEC, "--out", out, "--ids", IDS, "--steps", 1)
    return out


def versions_and_temps(base):
    return [p for p in base.rglob("*") if p.name.isdigit() or p.name.startswith("temp-")]


def wait_for_temp(base, process, timeout=30):
    """True once a temp- folder exists under base; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if base.exists() and any(p.name.startswith("temp-") for p in base.rglob("temp-*")):
            return True
        time.sleep(0.001)
    return False


@pytest.mark.parametrize("mode,signo", [("standalone", signal.SIGINT),
                                        ("distributed", signal.SIGTERM)])
def test_interrupted_export_publishes_nothing(recship, model_dir, tmp_path, mode, signo):
    # An export that ends before the signal lands proves nothing: try again.
    for attempt in range(3):
        base = tmp_path / f"export-{attempt}"
        process = subprocess.Popen(
            [str(recship.path), "export", "--model", str(SPEC), "--model-dir", str(model_dir),
             "--export-dir-base", str(base), "--mode", mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = wait_for_temp(base, process)
        if started:
            process.send_signal(signo)
        out, err = process.communicate(timeout=60)
        if started and process.returncode != 0:
            break
    assert process.returncode != 0, "every export ended before the signal: the test proved nothing"
    assert process.returncode == 128 + signo, err
    assert err == "recship export: interrupted; nothing was published\n"
    assert out == ""
    assert versions_and_temps(base) == []
    # The next export of the same checkpoint succeeds.
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
               "--mode", mode)


def test_progress_bar_only_on_a_terminal(recship, model_dir, tmp_path):
    args = ["export", "--model", SPEC, "--model-dir", model_dir, "--mode", "distributed"]
    piped = recship.ok(*args, "--export-dir-base", tmp_path / "piped")
    assert piped.stderr == ""
    lines = piped.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ps_0", "ps_1", "ps_2", "ps_3", "entry"]
    assert all(line.split()[1].startswith(str(tmp_path / "piped")) for line in lines[:-1])
    assert lines[-1].startswith("exported ") and "5 sub-models" in lines[-1]

    # stderr on a pseudo-terminal: the bar is drawn with \r and erased at the end.
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(recship.path), *map(str, args), "--export-dir-base",
                                str(tmp_path / "tty")], stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        assert ready, "the export hung"
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed the terminal.
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"\rexport ps_0" in drawn and b"%" in drawn and b"MiB" in drawn
    assert drawn.endswith(b"\r\x1b[K"), drawn[-80:]
    assert out.decode().splitlines()[-1].startswith("exported ")
