# Regenerates the files in this folder with real TensorFlow (the build's venv):
#   build/venv/bin/python tests/cpp/testdata/make_tf_golden.py tests/cpp/testdata
# tf_bundle.* is a tensor bundle written by TensorFlow's SaveV2 kernel and
# tf.tfrecord a TFRecord file written by tf.io.TFRecordWriter. The C++ tests
# read them and check that recship writes the same bytes.
import os
import sys

import numpy as np
import tensorflow as tf

out = sys.argv[1]
names = ["a_float", "b_int64_scalar", "c_strings", "d_bool", "e_half", "f_empty"]
tensors = [
    tf.constant(np.array([[1.5, -2.0, 0.25], [3.0, 0.0, -0.5]], np.float32)),
    tf.constant(np.int64(-7)),
    tf.constant([b"", b"x", b"\x00\xff"]),
    tf.constant([True, False, True]),
    tf.constant(np.array([1.0, -2.5], np.float16)),
    tf.constant(np.zeros([0, 3], np.int32)),
]
tf.raw_ops.SaveV2(prefix=os.path.join(out, "tf_bundle"), tensor_names=names,
                  shape_and_slices=[""] * len(names), tensors=tensors)
with tf.io.TFRecordWriter(os.path.join(out, "tf.tfrecord")) as writer:
    for record in [b"", b"hello", bytes(range(256))]:
        writer.write(record)
