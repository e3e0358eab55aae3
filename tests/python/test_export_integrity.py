"""An export never publishes what cannot load, and never leaks disk: a
checkpoint whose table bytes are corrupt (TensorFlow agrees) is refused in
copy and shared mode, standalone and distributed, leaving no version and no
temp- folder; every export clears the temp- folders of dead exports under
its export base, and only those."""

import fcntl
import os
import shutil

import pytest
import tensorflow as tf

from ctr_model import SPEC

TENSOR = "user_id/shard_1-values"


def export_args(model_dir, base, mode, *flags):
    return ["export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
            "--mode", mode, *flags]


@pytest.fixture(scope="module")
def corrupt_model_dir(model_dir, tmp_path_factory):
    """A copy of the checkpoint with one byte flipped inside TENSOR, found by
    its bytes as TensorFlow reads them."""
    copy = tmp_path_factory.mktemp("corrupt") / "model"
    shutil.copytree(model_dir, copy)
    prefix = str(copy / "model.ckpt-2")
    values = tf.train.load_checkpoint(prefix).get_tensor(TENSOR).tobytes()
    data = next(copy.glob("model.ckpt-2.data-*"))
    content = bytearray(data.read_bytes())
    offset = content.find(values)
    assert offset >= 0 and content.count(values) == 1
    content[offset + len(values) // 2] ^= 0x01
    data.write_bytes(bytes(content))
    with pytest.raises(tf.errors.OpError, match="Checksum does not match"):
        tf.train.load_checkpoint(prefix).get_tensor(TENSOR)
    return copy, data


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
@pytest.mark.parametrize("shared", [False, True], ids=["copy", "shared"])
def test_corrupt_table_bytes_publish_nothing(recship, corrupt_model_dir, tmp_path, mode, shared):
    model_dir, data = corrupt_model_dir
    base = tmp_path / "export"
    result = recship.fails(*export_args(model_dir, base, mode,
                                        *(["--shared-embedding"] if shared else [])))
    assert str(data) in result.stderr
    assert f"'{TENSOR}' fails its crc32c check" in result.stderr
    left = [str(p.relative_to(base)) for p in base.rglob("*")] if base.exists() else []
    assert left == [], left


def hold_lock(folder):
    """Opens and flocks `folder` as a running export holds its temp- folder."""
    folder.mkdir(parents=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def dead_export(folder):
    """A temp- folder whose writer died: files in it, nobody holds its lock."""
    (folder / "variables").mkdir(parents=True)
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(b"\0" * 4096)


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_every_dead_temp_folder_under_the_base_is_cleared(recship, model_dir, tmp_path, mode):
    base = tmp_path / "export"
    parents = [base] if mode == "standalone" else [base / "entry", base / "ps_0", base / "ps_3"]
    for parent in parents:
        for version in ["1700000000", "1700000001", "42"]:
            dead_export(parent / f"temp-{version}")
    live = hold_lock(parents[-1] / "temp-1700000002")
    try:
        recship.ok(*export_args(model_dir, base, mode, "--global-step", 7))
        for parent in parents:
            temps = sorted(p.name for p in parent.iterdir() if p.name.startswith("temp-"))
            assert temps == (["temp-1700000002"] if parent == parents[-1] else []), parent
            assert (parent / "7").is_dir()
    finally:
        os.close(live)
    # Once its writer is gone, the next export clears it too.
    recship.ok(*export_args(model_dir, base, mode, "--global-step", 8))
    assert not list(base.rglob("temp-*"))
