"""Plain helpers shared by the interop tests: exact array comparison, string arrays."""

import numpy as np


def numpy_dtype_name(array):
    """recship's and TensorFlow's dtype name for a numpy array."""
    return "string" if array.dtype == object else array.dtype.name


def as_array(value):
    """A numpy array of what TensorFlow returns (it gives a string scalar as bytes)."""
    if isinstance(value, bytes):
        return np.array(value, dtype=object)
    return np.asarray(value)


def assert_same_array(got, expected, what=""):
    """Exactly equal: dtype, shape and every bit (NaN-safe); strings by bytes."""
    got = as_array(got)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    if expected.dtype == object:
        assert got.dtype == object, f"{what}: dtype {got.dtype} is not a string tensor"
        assert list(got.ravel()) == list(expected.ravel()), f"{what}: strings differ"
    else:
        assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
        assert got.tobytes() == expected.tobytes(), f"{what}: values differ"


def string_array(values, shape=None):
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array.reshape(shape if shape is not None else (len(values),))
