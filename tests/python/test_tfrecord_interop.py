"""TFRecord files both ways: tf.data.TFRecordDataset reads recship's files, and
recship reads tf.io.TFRecordWriter's; a corrupt file is an error for both."""

import base64
import json

import numpy as np
import pytest
import tensorflow as tf


def sample_records():
    rng = np.random.default_rng(7)
    records = [b"", b"hello", b"\x00" * 9, bytes(range(256)), b""]
    records += [rng.bytes(int(n)) for n in rng.integers(0, 2000, size=50)]
    records.append(rng.bytes(5 << 20))  # A large record: 5 MiB.
    records.append(tf.train.Example(features=tf.train.Features(feature={
        "ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, -2, 2**40])),
    })).SerializeToString())
    return records


def read_with_recship(fmt_tool, path):
    out = fmt_tool.ok("read-tfrecord", path).stdout
    return [base64.b64decode(r) for r in json.loads(out)]


def test_tf_reads_recship_tfrecords(tmp_path, fmt_tool):
    records = sample_records()
    spec = tmp_path / "records.json"
    spec.write_text(json.dumps([base64.b64encode(r).decode() for r in records]))
    path = tmp_path / "data.tfrecord"
    fmt_tool.ok("write-tfrecord", path, spec)
    got = [t.numpy() for t in tf.data.TFRecordDataset(str(path))]
    assert got == records


def test_tf_reads_recship_empty_file(tmp_path, fmt_tool):
    spec = tmp_path / "none.json"
    spec.write_text("[]")
    path = tmp_path / "empty.tfrecord"
    fmt_tool.ok("write-tfrecord", path, spec)
    assert path.stat().st_size == 0
    assert list(tf.data.TFRecordDataset(str(path))) == []


def write_with_tf(path, records):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def test_recship_reads_tf_tfrecords(tmp_path, fmt_tool):
    records = sample_records()
    path = tmp_path / "tf.tfrecord"
    write_with_tf(path, records)
    assert read_with_recship(fmt_tool, path) == records


def test_corrupt_record_is_an_error_for_both(tmp_path, fmt_tool):
    records = [b"first record", b"second record", b"third"]
    path = tmp_path / "corrupt.tfrecord"
    write_with_tf(path, records)
    data = bytearray(path.read_bytes())
    # Flip a byte inside the second record's data (after its 12-byte header).
    second = 12 + len(records[0]) + 4
    data[second + 12 + 3] ^= 0x20
    path.write_bytes(bytes(data))

    result = fmt_tool.fails("read-tfrecord", path)
    assert str(path) in result.stderr
    assert "checksum" in result.stderr
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(path)))
