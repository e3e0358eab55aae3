"""An export killed with SIGKILL at any point leaves no partial numeric
version folder, and the next export, of any version, succeeds and clears
every dead writer's temp- folder. Every version folder that does exist is whole: TensorFlow
loads it and `recship inspect --verify` passes."""

import json
import random
import signal
import subprocess
import time

import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def big_model(recship, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    spec = root / "spec.json"
    spec.write_text(json.dumps({
        "name": "crash",
        "tables": [{"name": "a", "dim": 64, "num_shards": 2},
                   {"name": "b", "dim": 64, "num_shards": 2}],
        "features": [{"name": "a", "type": "id", "table": "a"},
                     {"name": "b", "type": "id", "table": "b"}],
        "architecture": {"type": "dnn", "hidden_units": [8]},
    }))
    model_dir = root / "model"
    recship.ok("synth", "--model", spec, "--out", model_dir, "--ids", 200000, "--num-ps", 2,
               "--steps", 1)
    return spec, model_dir


def export_command(recship, spec, model_dir, base, step):
    return [str(recship.path), "export", "--model", str(spec), "--model-dir", str(model_dir),
            "--export-dir-base", str(base), "--global-step", str(step)]


def assert_versions_whole(recship, base):
    for version in base.iterdir():
        if not version.name.isdigit():
            assert version.name.startswith("temp-"), version
            continue
        recship.ok("inspect", "--verify", version)
        with tf.compat.v1.Session(graph=tf.Graph()) as sess:
            tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(version))


def test_sigkill_at_random_points_leaves_no_partial_version(recship, big_model, tmp_path):
    spec, model_dir = big_model
    base = tmp_path / "export"
    start = time.monotonic()
    subprocess.run(export_command(recship, spec, model_dir, base, 1), check=True,
                   capture_output=True)
    full = time.monotonic() - start
    rng = random.Random(11)
    killed_steps = []
    for attempt in range(8):
        step = 100 + attempt
        process = subprocess.Popen(export_command(recship, spec, model_dir, base, step),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, full))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.returncode == -signal.SIGKILL:
            killed_steps.append(step)
        assert_versions_whole(recship, base)
    assert killed_steps, "every export finished before its kill; the test proved nothing"
    # The next export, of another version, clears every killed export's
    # temp folder; re-exporting a killed version succeeds.
    subprocess.run(export_command(recship, spec, model_dir, base, 999), check=True,
                   capture_output=True)
    assert not [p for p in base.iterdir() if p.name.startswith("temp-")]
    for step in killed_steps:
        if not (base / str(step)).exists():
            subprocess.run(export_command(recship, spec, model_dir, base, step), check=True,
                           capture_output=True)
    assert_versions_whole(recship, base)
