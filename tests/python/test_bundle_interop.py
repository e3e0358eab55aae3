"""Tensor bundles (checkpoint V2) both ways: TensorFlow reads what recship
writes, and recship reads what tf.compat.v1.train.Saver and tf.train.Checkpoint
write. Expected values are numpy arrays made here, or what TensorFlow reads."""

import glob
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from recship_testlib import as_array, assert_same_array, numpy_dtype_name, string_array

RNG_SEED = 20240611

STRINGS = [b"", b"plain", "h\u00e9llo w\u00f6rld \u2713".encode(), bytes(range(256)),
           b"\x00\xff\x00", b"x" * 300, b""]


def assorted_tensors():
    """One tensor of each dtype and layout the format holds, values from numpy."""
    rng = np.random.default_rng(RNG_SEED)
    i32 = np.iinfo(np.int32)
    i64 = np.iinfo(np.int64)
    half = rng.standard_normal(12).astype(np.float16)
    half[:3] = [np.inf, -np.inf, np.float16(6.1e-5)]
    return {
        "dense/kernel": rng.standard_normal((4, 5)).astype(np.float32),
        "f64": rng.standard_normal(7),
        "i32": np.array([[i32.min, -1, 0], [1, 12345, i32.max]], dtype=np.int32),
        "i64": np.array([i64.min, -(2**40), 0, 2**40 + 3, i64.max], dtype=np.int64),
        "half": half.reshape(3, 4),
        "flags": rng.random((3, 3)) > 0.5,
        "names": string_array(STRINGS),
        "names_2d": string_array([b"a", b"", "\u00fc".encode(), b"\xfe\xff"], (2, 2)),
        "scalar/f32": np.array(-3.5, dtype=np.float32),
        "scalar/i64": np.array(2**62 + 1, dtype=np.int64),
        "scalar/bool": np.array(True),
        "scalar/string": string_array([b"only \x00 one"], ()),
        "scalar/empty_string": string_array([b""], ()),
        "empty/f32": np.zeros((0,), dtype=np.float32),
        "empty/i32_3x0x2": np.zeros((3, 0, 2), dtype=np.int32),
        "empty/strings": string_array([], (0, 4)),
        "global_step": np.array(987654321, dtype=np.int64),
    }


def assert_tf_reads(prefix, expected):
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    assert set(shapes) == set(expected)
    for name, array in expected.items():
        assert shapes[name] == list(array.shape), name
        assert dtypes[name].name == numpy_dtype_name(array), name
        assert_same_array(reader.get_tensor(name), array, name)


def test_tf_reads_every_dtype_scalars_and_empty_tensors(tmp_path, write_bundle):
    expected = assorted_tensors()
    prefix = write_bundle(tmp_path / "model.ckpt-1", expected)
    assert_tf_reads(prefix, expected)


def test_tf_reads_multi_shard_bundle(tmp_path, write_bundle):
    expected = assorted_tensors()
    names = sorted(expected)
    shards = {name: i % 3 for i, name in enumerate(names)}
    prefix = write_bundle(tmp_path / "sharded", expected, shards=shards, num_shards=3)
    data_files = sorted(glob.glob(prefix + ".data-*"))
    assert [f[len(prefix):] for f in data_files] == [
        f".data-0000{k}-of-00003" for k in range(3)]
    assert_tf_reads(prefix, expected)


def peak_rss_of(cmd):
    """Runs cmd in a fresh Python whose only child it is; returns its peak RSS in bytes."""
    probe = ("import resource, subprocess, sys\n"
             "subprocess.run(sys.argv[1:], check=True)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", probe, *map(str, cmd)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux.


def test_tf_reads_tensor_over_64_mib_streamed_in_bounded_memory(tmp_path, fmt_tool,
                                                                write_bundle):
    rng = np.random.default_rng(RNG_SEED + 1)
    big = rng.standard_normal((17, 1 << 20), dtype=np.float32)  # 68 MiB.
    assert big.nbytes > 64 << 20
    expected = {"emb/table": big, "emb/ids": np.arange(17, dtype=np.int64)}
    prefix = write_bundle(tmp_path / "big" / "ckpt", expected)
    assert_tf_reads(prefix, expected)

    # The same spec written again under a probe: the writer streams, so its
    # peak memory stays far below the tensor's size.
    spec = tmp_path / "big" / "ckpt.spec" / "spec.json"
    rss = peak_rss_of([fmt_tool.path, "write-bundle", tmp_path / "big" / "again", spec])
    assert rss < 40 << 20, f"writing a 68 MiB tensor took {rss >> 20} MiB of memory"
    assert_tf_reads(str(tmp_path / "big" / "again"), expected)


def saver_variables():
    rng = np.random.default_rng(RNG_SEED + 2)
    return {
        "dense/kernel": rng.standard_normal((4, 5)).astype(np.float32),
        "dense/bias": rng.standard_normal(5).astype(np.float32),
        "ids": np.array([np.iinfo(np.int64).min, -7, 0, 2**50], dtype=np.int64),
        "scale": np.array(0.1 + rng.random()),
        "mask": np.array([True, False, True]),
        "vocab": string_array([b"", "\u00e9t\u00e9".encode(), b"\xff\x00"]),
        "half": rng.standard_normal(5).astype(np.float16),
        "empty": np.zeros((2, 0), dtype=np.int32),
        "global_step": np.array(7, dtype=np.int64),
    }


def test_recship_reads_sharded_saver_over_several_devices(tmp_path, read_bundle):
    values = saver_variables()
    num_devices = 3
    graph = tf.Graph()
    with graph.as_default():
        for i, (name, value) in enumerate(values.items()):
            with tf.device(f"/cpu:{i % num_devices}"):
                tf.compat.v1.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver(sharded=True)
        init = tf.compat.v1.global_variables_initializer()
    config = tf.compat.v1.ConfigProto(device_count={"CPU": num_devices})
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=7)

    data_files = glob.glob(prefix + ".data-*-of-*")
    assert len(data_files) > 1, data_files
    assert all(f.endswith(f"-of-{len(data_files):05d}") for f in data_files)

    got = read_bundle(prefix, tmp_path / "out")
    assert set(got) == {name for name, _ in tf.train.list_variables(prefix)} == set(values)
    for name, value in values.items():
        dtype, array = got[name]
        assert dtype == numpy_dtype_name(value), name
        assert_same_array(array, value, name)


def test_recship_reads_tf2_checkpoint(tmp_path, read_bundle):
    values = saver_variables()
    # tf.train.Checkpoint wants attribute-like names.
    variables = {name.replace("/", "_"): tf.Variable(value) for name, value in values.items()}
    prefix = tf.train.Checkpoint(**variables).write(str(tmp_path / "ckpt"))

    got = read_bundle(prefix, tmp_path / "out")
    reader = tf.train.load_checkpoint(prefix)
    assert set(got) == set(reader.get_variable_to_shape_map())
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in got
    for name in got:  # Everything, the object graph string included, as TF reads it.
        assert_same_array(got[name][1], as_array(reader.get_tensor(name)), name)
    for name, value in values.items():
        key = name.replace("/", "_") + "/.ATTRIBUTES/VARIABLE_VALUE"
        assert_same_array(got[key][1], value, key)


def test_plain_strings_in_spec(tmp_path, fmt_tool):
    spec = tmp_path / "spec.json"
    words = ["", "plain", "gr\u00fc\u00dfe", "\u2603"]
    spec.write_text(json.dumps({"tensors": [
        {"name": "words", "dtype": "string", "shape": [2, 2], "strings": words}]}))
    fmt_tool.ok("write-bundle", tmp_path / "ckpt", spec)
    got = tf.train.load_checkpoint(str(tmp_path / "ckpt")).get_tensor("words")
    assert_same_array(got, string_array([w.encode() for w in words], (2, 2)), "words")


def test_recship_rejects_corrupt_shard_like_tf(tmp_path, fmt_tool, write_bundle):
    values = saver_variables()
    prefix = write_bundle(tmp_path / "ckpt", {"kernel": values["dense/kernel"]})
    shard = prefix + ".data-00000-of-00001"
    data = bytearray(open(shard, "rb").read())
    data[17] ^= 0x40
    open(shard, "wb").write(bytes(data))

    result = fmt_tool.fails("read-bundle", prefix, tmp_path / "out")
    assert shard in result.stderr and "kernel" in result.stderr
    with pytest.raises(tf.errors.OpError, match="Checksum does not match"):
        tf.train.load_checkpoint(prefix).get_tensor("kernel")
