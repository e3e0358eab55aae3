"""Fixtures for the interop tests, where real TensorFlow judges recship's files.

They locate the build tree (RECSHIP_BUILD_DIR, else <repo>/build), the
`recship` binary and the `recship_fmt_tool` test tool, and offer helpers to
run them and to write tensor bundles from numpy arrays. A missing binary is a
failure, never a skip: these tests are the judge and must run.
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

# Quiet TensorFlow's C++ logging before any test module imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from recship_testlib import numpy_dtype_name

REPO_DIR = Path(__file__).resolve().parents[2]
# examples/python/custom_model.py is also the Python package's test model.
sys.path.insert(0, str(REPO_DIR / "examples" / "python"))


@pytest.fixture(scope="session")
def build_dir():
    path = Path(os.environ.get("RECSHIP_BUILD_DIR", REPO_DIR / "build")).resolve()
    if not path.is_dir():
        pytest.fail(f"build dir {path} does not exist (set RECSHIP_BUILD_DIR or build first)")
    return path


def _binary(path):
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: build the project first")
    return path


class Cli:
    """Runs one binary; ok() expects exit 0, fails() expects a non-zero exit."""

    def __init__(self, path):
        self.path = path

    def run(self, *args, timeout=120):
        return subprocess.run([str(self.path), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (
            f"{self.path.name} {' '.join(map(str, args))} exited {result.returncode}:\n"
            f"{result.stderr}")
        return result

    def fails(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        assert result.returncode != 0, (
            f"{self.path.name} {' '.join(map(str, args))} succeeded but should have failed:\n"
            f"{result.stdout}")
        return result


@pytest.fixture(scope="session")
def recship(build_dir):
    return Cli(_binary(build_dir / "recship"))


@pytest.fixture(scope="session")
def fmt_tool(build_dir):
    return Cli(_binary(build_dir / "tests" / "tools" / "recship_fmt_tool"))


@pytest.fixture(scope="session")
def saved_model_cli():
    return Cli(_binary(Path(sys.executable).parent / "saved_model_cli"))


@pytest.fixture(scope="session")
def write_bundle(fmt_tool):
    """write_bundle(prefix, {name: array}, shards={name: k}, num_shards=n).

    Numeric arrays go through raw little-endian files; object arrays of bytes
    become string tensors (base64 in the spec).
    """
    assert sys.byteorder == "little"

    def write(prefix, tensors, shards=None, num_shards=1):
        prefix = Path(prefix)
        spec_dir = prefix.parent / (prefix.name + ".spec")
        spec_dir.mkdir(parents=True)
        spec = {"num_shards": num_shards, "tensors": []}
        for i, (name, array) in enumerate(tensors.items()):
            entry = {"name": name, "dtype": numpy_dtype_name(array), "shape": list(array.shape),
                     "shard": (shards or {}).get(name, 0)}
            if array.dtype == object:
                entry["encoding"] = "base64"
                entry["strings"] = [base64.b64encode(s).decode() for s in array.ravel()]
            else:
                entry["data_file"] = f"{i}.bin"
                (spec_dir / entry["data_file"]).write_bytes(np.ascontiguousarray(array).tobytes())
            spec["tensors"].append(entry)
        (spec_dir / "spec.json").write_text(json.dumps(spec))
        fmt_tool.ok("write-bundle", prefix, spec_dir / "spec.json")
        return str(prefix)

    return write


@pytest.fixture(scope="session")
def read_bundle(fmt_tool):
    """read_bundle(prefix, out_dir) -> {name: (dtype_name, numpy array)} via recship."""

    def read(prefix, out_dir):
        fmt_tool.ok("read-bundle", prefix, out_dir)
        out_dir = Path(out_dir)
        tensors = {}
        for entry in json.loads((out_dir / "manifest.json").read_text()):
            shape = tuple(entry["shape"])
            raw = (out_dir / entry["file"]).read_bytes()
            if entry["dtype"] == "string":
                strings = [base64.b64decode(s) for s in json.loads(raw)]
                array = np.empty(len(strings), dtype=object)
                array[:] = strings
                array = array.reshape(shape)
            else:
                array = np.frombuffer(raw, dtype=np.dtype(entry["dtype"])).reshape(shape)
            tensors[entry["name"]] = (entry["dtype"], array)
        return tensors

    return read



@pytest.fixture(scope="session")
def model_dir(recship, tmp_path_factory):
    """A training folder of the CTR model (examples/ctr.json), shared by the
    test modules that do not define their own; tests must not change it."""
    from ctr_model import NUM_PS, SPEC

    out = tmp_path_factory.mktemp("ctr") / "model"
    recship.ok("synth", "--model", SPEC, "--out", out, "--ids", 2000, "--num-ps", NUM_PS)
    return out


@pytest.fixture
def serve(recship, tmp_path):
    """serve(*args) starts a `recship serve` that is stopped (and must exit 0)
    at teardown."""
    from recship_server import Server

    servers = []

    def start(*args):
        server = Server(recship.path, args, tmp_path / f"serve-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.stop() == 0, server.log()
