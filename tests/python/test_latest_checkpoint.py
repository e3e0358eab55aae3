"""latest_checkpoint semantics, through `recship inspect MODEL_DIR --json` (which
resolves the `checkpoint` state file), compared with tf.train.latest_checkpoint
on the same folder: relative and absolute paths, a stale entry, no state file,
and a state file that names nothing."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf


def write_checkpoint(prefix, value):
    return tf.train.Checkpoint(v=tf.Variable(value)).write(str(prefix))


def write_state(model_dir, latest, all_paths=()):
    lines = [f'model_checkpoint_path: "{latest}"']
    lines += [f'all_model_checkpoint_paths: "{p}"' for p in all_paths]
    (model_dir / "checkpoint").write_text("\n".join(lines) + "\n")


def resolved_prefix(recship, model_dir):
    got = json.loads(recship.ok("inspect", model_dir, "--json").stdout)
    assert got["kind"] == "checkpoint"
    return got["prefix"]


def test_checkpoint_manager_state_file(recship, tmp_path):
    model_dir = tmp_path / "model"
    checkpoint = tf.train.Checkpoint(v=tf.Variable(np.arange(4, dtype=np.float32)))
    manager = tf.train.CheckpointManager(checkpoint, str(model_dir), max_to_keep=2)
    for step in (1, 2, 3):
        manager.save(checkpoint_number=step)
    expected = tf.train.latest_checkpoint(str(model_dir))
    assert expected.endswith("ckpt-3")
    assert os.path.normpath(resolved_prefix(recship, model_dir)) == os.path.normpath(expected)


def test_relative_path_in_state_file(recship, tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    write_checkpoint(model_dir / "model.ckpt-10", np.float32(1))
    write_checkpoint(model_dir / "sub" / "model.ckpt-20", np.float32(2))
    for latest in ("model.ckpt-10", "sub/model.ckpt-20"):
        write_state(model_dir, latest, ["model.ckpt-10", "sub/model.ckpt-20"])
        expected = tf.train.latest_checkpoint(str(model_dir))
        assert expected == os.path.join(str(model_dir), latest)
        assert os.path.normpath(resolved_prefix(recship, model_dir)) == os.path.normpath(expected)


def test_absolute_path_in_state_file(recship, tmp_path):
    model_dir = tmp_path / "model"
    elsewhere = tmp_path / "elsewhere"
    model_dir.mkdir()
    prefix = write_checkpoint(elsewhere / "ckpt-7", np.int64(7))
    write_state(model_dir, prefix, [prefix])
    expected = tf.train.latest_checkpoint(str(model_dir))
    assert expected == prefix
    assert resolved_prefix(recship, model_dir) == expected

    # A folder moved away from the absolute path goes stale for both.
    shutil.move(str(elsewhere), str(tmp_path / "moved"))
    assert tf.train.latest_checkpoint(str(model_dir)) is None
    result = recship.fails("inspect", model_dir, "--json")
    assert prefix in result.stderr


def test_stale_entry_is_an_error(recship, tmp_path):
    model_dir = tmp_path / "model"
    old = write_checkpoint(model_dir / "model.ckpt-1", np.float32(1))
    new = write_checkpoint(model_dir / "model.ckpt-2", np.float32(2))
    write_state(model_dir, "model.ckpt-2", ["model.ckpt-1", "model.ckpt-2"])
    for path in os.listdir(model_dir):
        if path.startswith("model.ckpt-2."):
            os.remove(model_dir / path)
    assert os.path.exists(old + ".index")
    # TensorFlow does not fall back to an older checkpoint: it returns None.
    assert tf.train.latest_checkpoint(str(model_dir)) is None
    result = recship.fails("inspect", model_dir, "--json")
    assert new in result.stderr
    assert "gone" in result.stderr


def test_missing_state_file_is_an_error(recship, tmp_path):
    model_dir = tmp_path / "model"
    write_checkpoint(model_dir / "model.ckpt-1", np.float32(1))
    assert tf.train.latest_checkpoint(str(model_dir)) is None
    result = recship.fails("inspect", model_dir, "--json")
    assert str(model_dir) in result.stderr
    assert "checkpoint" in result.stderr


def test_state_file_naming_nothing_is_an_error(recship, tmp_path):
    model_dir = tmp_path / "model"
    write_checkpoint(model_dir / "model.ckpt-1", np.float32(1))
    (model_dir / "checkpoint").write_text("")
    with pytest.raises(ValueError, match="Invalid checkpoint state"):
        tf.train.latest_checkpoint(str(model_dir))
    result = recship.fails("inspect", model_dir, "--json")
    assert str(model_dir / "checkpoint") in result.stderr
