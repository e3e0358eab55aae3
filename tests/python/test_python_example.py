"""examples/python/custom_model.py runs as a user would run it, and type-checks
against the installed package's stubs."""

import subprocess
import sys

from conftest import REPO_DIR

EXAMPLE = REPO_DIR / "examples" / "python" / "custom_model.py"


def test_the_example_trains_exports_and_serves_what_numpy_computes(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), "--work", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: both layouts serve what numpy computes" in result.stdout
    assert (tmp_path / "ctr" / "entry").is_dir() and (tmp_path / "standalone").is_dir()


def test_the_example_type_checks_against_the_stubs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                             "--cache-dir", str(tmp_path), str(EXAMPLE)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_a_wrong_call_through_the_stubs(tmp_path):
    # The stubs carry real signatures: a wrong call is a type error.
    wrong = tmp_path / "wrong.py"
    wrong.write_text("from recship import layers\nlayers.dense('x', units='8')\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                             "--cache-dir", str(tmp_path / "cache"), str(wrong)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout
    assert 'Argument 1 to "dense" has incompatible type "str"' in result.stdout, result.stdout


def test_the_package_type_checks_with_its_own_stubs(tmp_path):
    # The installed package's modules against the extension's stub.
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                             "--cache-dir", str(tmp_path), "-p", "recship"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found" in result.stdout
