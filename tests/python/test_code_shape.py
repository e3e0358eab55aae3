"""The shape of the code: layers that depend only downwards, short functions,
and a command-line reference that matches the command."""

import shutil
import subprocess
import sys
from pathlib import Path

import lizard
import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK_LAYERS = REPO / "scripts" / "check_layers.py"
MAX_FUNCTION_LINES = 80


def check_layers(root):
    return subprocess.run([sys.executable, str(CHECK_LAYERS), str(root)], capture_output=True,
                          text=True)


@pytest.fixture
def repo_copy(tmp_path):
    """The files the layering check reads, copied so that a test may break them."""
    for part in ("src", "include", "tests/cpp"):
        shutil.copytree(REPO / part, tmp_path / part)
    shutil.copy(REPO / "CMakeLists.txt", tmp_path / "CMakeLists.txt")
    return tmp_path


def test_every_include_and_link_points_down_the_stack():
    result = check_layers(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_way_include_fails_naming_the_file_and_the_layers(repo_copy):
    tensor = repo_copy / "src/format/tensor.cc"
    tensor.write_text('#include "recship/serving/model_server.h"\n' + tensor.read_text())
    result = check_layers(repo_copy)
    assert result.returncode == 1
    assert "src/format/tensor.cc:1: layer format includes serving/" in result.stdout


def test_a_private_header_of_another_layer_fails(repo_copy):
    session = repo_copy / "src/runtime/session.cc"
    session.write_text('#include "src/export/export_steps.h"\n' + session.read_text())
    result = check_layers(repo_copy)
    assert result.returncode == 1
    assert "src/runtime/session.cc:1: layer runtime includes a private header of export/" \
        in result.stdout


def test_grpc_below_serving_fails(repo_copy):
    kernel = repo_copy / "src/runtime/kernels/remote_predict_kernel.cc"
    kernel.write_text('#include "grpcpp/grpcpp.h"\n' + kernel.read_text())
    result = check_layers(repo_copy)
    assert result.returncode == 1
    assert "remote_predict_kernel.cc:1: layer runtime includes gRPC" in result.stdout


def test_a_wrong_way_link_fails(repo_copy):
    cmake = repo_copy / "CMakeLists.txt"
    text = cmake.read_text()
    planted = text.replace("target_link_libraries(recship_runtime PUBLIC recship_graph",
                           "target_link_libraries(recship_runtime PUBLIC recship_graph recship_export")
    assert planted != text, "the runtime's link line moved; update this test"
    cmake.write_text(planted)
    result = check_layers(repo_copy)
    assert result.returncode == 1
    assert "recship_runtime links recship_export" in result.stdout


def test_a_test_including_a_layer_it_does_not_link_fails(repo_copy):
    test = repo_copy / "tests/cpp/predict_test.cc"
    test.write_text('#include "recship/export/standalone_exporter.h"\n' + test.read_text())
    result = check_layers(repo_copy)
    assert result.returncode == 1
    assert "tests/cpp/predict_test.cc:1: layer serving includes export/" in result.stdout


def test_no_function_in_src_is_over_80_lines():
    long_ones = []
    for path in sorted((REPO / "src").rglob("*.cc")) + sorted((REPO / "src").rglob("*.h")):
        for function in lizard.analyze_file(str(path)).function_list:
            if function.length > MAX_FUNCTION_LINES:
                long_ones.append(f"{path.relative_to(REPO)}:{function.start_line} "
                                 f"{function.name}: {function.length} lines")
    assert not long_ones, "\n".join(long_ones)


def test_the_cli_reference_is_the_commands_help(recship):
    result = subprocess.run([sys.executable, str(REPO / "scripts/cli_docs.py"), str(recship.path),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_flag_takes_either_separator(recship, tmp_path):
    """--model-name and --model_name, --model-dir and --model_dir: one flag each."""
    for spelling in ("--model_name", "--model-name"):
        failed = recship.fails("predict", "--server", "127.0.0.1:1", spelling, "m")
        assert "not expected" not in failed.stderr and "required" not in failed.stderr
        assert "127.0.0.1:1" in failed.stderr
    failed = recship.fails("export", "--model", str(tmp_path / "none.json"), "--model_dir",
                           str(tmp_path), "--export_dir_base", str(tmp_path / "out"))
    assert "none.json" in failed.stderr, failed.stderr
