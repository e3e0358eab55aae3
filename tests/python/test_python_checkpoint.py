"""recship.checkpoint: numpy arrays to and from TensorFlow's checkpoint
format, judged by TensorFlow's own reader and writer, without copies where
the layout allows."""

import array
import os
import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

from recship import checkpoint, errors

RNG = np.random.default_rng(3)


def test_what_the_writer_writes_tensorflow_reads(tmp_path):
    dense = {
        "w32": RNG.standard_normal((5, 3)).astype(np.float32),
        "w64": RNG.standard_normal(4),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "i64": np.array([-(2**40), 7], np.int64),
        "half": RNG.standard_normal(3).astype(np.float16),
        "brain": RNG.standard_normal((2, 3)).astype(ml_dtypes.bfloat16),
        "flags": np.array([True, False, True]),
        "u8": np.arange(5, dtype=np.uint8),
        "vocab": np.array([b"a", b"bc", b""], dtype=object),
        "strided": np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2],  # Not contiguous.
    }
    # Anything with the buffer protocol, not only numpy arrays.
    buffers = {"from_array_module": array.array("f", [1.5, -2.0, 3.25]),
               "from_bytearray": bytearray(b"\x01\x02\x03")}
    keys = np.array([0, 2, 4, 6], np.int64)
    values = RNG.standard_normal((4, 8)).astype(np.float32)
    freqs = np.array([1, 5, 2, 9], np.int64)
    timestamps = np.array([100, 200, 300, 400], np.int64)
    slot = RNG.standard_normal((4, 8)).astype(np.float32)
    with checkpoint.CheckpointWriter(tmp_path, 42, num_data_shards=2) as writer:
        for i, (name, value) in enumerate(dense.items()):
            writer.add_dense(name, value, data_shard=i % 2)
        for name, value in buffers.items():
            writer.add_dense(name, memoryview(value))
        writer.add_table_shard("t", 0, keys, values, freqs=freqs, timestamps=timestamps,
                               slots={"adagrad": slot}, data_shard=1)
    assert writer.prefix == str(tmp_path / "model.ckpt-42")
    assert (tmp_path / "model.ckpt-42.data-00001-of-00002").is_file()
    assert tf.train.latest_checkpoint(str(tmp_path)) == writer.prefix
    reader = tf.train.load_checkpoint(writer.prefix)
    for name, value in dense.items():
        got = reader.get_tensor(name)
        np.testing.assert_array_equal(got, value)
        assert got.dtype == value.dtype, name
    np.testing.assert_array_equal(reader.get_tensor("from_array_module"),
                                  np.array([1.5, -2.0, 3.25], np.float32))
    np.testing.assert_array_equal(reader.get_tensor("from_bytearray"), np.array([1, 2, 3], np.uint8))
    for part, value in [("keys", keys), ("values", values), ("freqs", freqs),
                        ("timestamps", timestamps), ("slot-adagrad", slot)]:
        np.testing.assert_array_equal(reader.get_tensor(f"t/shard_0-{part}"), value)
    assert reader.get_tensor("global_step") == 42
    # And recship's reader gives back what it was given.
    ours = checkpoint.load_checkpoint(tmp_path)
    for name, value in dense.items():
        got = ours.get_tensor(name)
        assert got.dtype == value.dtype, name
        np.testing.assert_array_equal(got, value)


def test_the_reader_reads_what_tensorflow_writes(tmp_path):
    values = {"a/kernel": RNG.standard_normal((3, 7)).astype(np.float32),
              "t/shard_1-keys": np.array([1, 3, 5], np.int64),
              "t/shard_1-values": RNG.standard_normal((3, 2)).astype(np.float32),
              "names": np.array([b"x", b"yz"]), "global_step": np.int64(9)}
    prefix = str(tmp_path / "model.ckpt-9")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(values),
                      shape_and_slices=[""] * len(values),
                      tensors=[tf.constant(v) for v in values.values()])
    reader = checkpoint.load_checkpoint(prefix)
    assert reader.global_step == 9
    assert reader.tables == {"t": [1]}
    tf_reader = tf.train.load_checkpoint(prefix)
    assert reader.get_variable_to_shape_map() == tf_reader.get_variable_to_shape_map()
    assert reader.get_variable_to_dtype_map() == {
        name: (np.dtype(object) if dtype == tf.string else np.dtype(dtype.as_numpy_dtype))
        for name, dtype in tf_reader.get_variable_to_dtype_map().items()}
    for name, value in values.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
        np.testing.assert_array_equal(reader.get_tensor(name, mmap=name != "names"), value)
    shard = reader.table_shard("t", 1)
    assert sorted(shard) == ["keys", "values"]
    assert reader.has_tensor("a/kernel") and not reader.has_tensor("a/bias")
    with pytest.raises(errors.NotFoundError, match="'a/bias'"):
        reader.get_tensor("a/bias")


def test_read_arrays_share_the_bytes_read_or_mapped(tmp_path):
    table = RNG.standard_normal((4096, 16)).astype(np.float32)
    with checkpoint.CheckpointWriter(tmp_path, 1) as writer:
        writer.add_table_shard("t", 0, np.arange(4096, dtype=np.int64), table)
    reader = checkpoint.CheckpointReader(tmp_path)  # A folder: its newest checkpoint.
    read = reader.get_tensor("t/shard_0-values")
    assert not read.flags.owndata and read.flags.writeable  # Over the tensor read, no copy.
    mapped = reader.get_tensor("t/shard_0-values", mmap=True)
    np.testing.assert_array_equal(mapped, table)
    assert not mapped.flags.writeable
    # The array's memory is a mapping of the checkpoint's data file.
    data_file = os.path.realpath(tmp_path / "model.ckpt-1.data-00000-of-00001")
    address = mapped.ctypes.data
    spans = [line.split() for line in open("/proc/self/maps") if line.rstrip().endswith(data_file)]
    assert any(int(s[0].split("-")[0], 16) <= address < int(s[0].split("-")[1], 16)
               for s in spans), spans


def test_the_writer_streams_arrays_without_copying_them(tmp_path):
    # Peak memory of writing a 512 MiB table stays near the table itself.
    script = textwrap.dedent("""
        import resource, sys
        import numpy as np
        from recship import checkpoint
        values = np.ones((1 << 23, 16), np.float32)
        keys = np.arange(1 << 23, dtype=np.int64)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with checkpoint.CheckpointWriter(sys.argv[1], 1) as writer:
            writer.add_table_shard("t", 0, keys, values)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    grown_mib = int(result.stdout)
    assert grown_mib < 64, f"writing 576 MiB of arrays grew the peak by {grown_mib} MiB"
    assert os.path.getsize(tmp_path / "model.ckpt-1.data-00000-of-00001") >= 576 << 20


def test_bad_input_is_refused_naming_the_tensor_and_leaves_no_checkpoint(tmp_path):
    with checkpoint.CheckpointWriter(tmp_path, 1) as writer:
        writer.add_dense("w", np.ones(2, np.float32))
    with pytest.raises(errors.InvalidArgumentError, match=r"table t shard 0: values .*\[4, 2\]"):
        with checkpoint.CheckpointWriter(tmp_path, 2) as writer:
            writer.add_table_shard("t", 0, np.arange(3, dtype=np.int64),
                                   np.ones((4, 2), np.float32))
    with pytest.raises(errors.InvalidArgumentError, match="z: numpy dtype complex64 has no TensorFlow dtype"):
        with checkpoint.CheckpointWriter(tmp_path, 3) as writer:
            writer.add_dense("z", np.ones(2, np.complex64))
    with pytest.raises(ZeroDivisionError):
        with checkpoint.CheckpointWriter(tmp_path, 4) as writer:
            writer.add_dense("w", np.ones(2, np.float32))
            1 / 0
    # Only step 1 was written; the state file still names it.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint", "model.ckpt-1.data-00000-of-00001", "model.ckpt-1.index"]
    assert checkpoint.latest_checkpoint(tmp_path) == str(tmp_path / "model.ckpt-1")
    assert checkpoint.latest_checkpoint(tmp_path / "nothing_here") is None
    with pytest.raises(errors.FailedPreconditionError, match="finished"):
        writer.finish()
