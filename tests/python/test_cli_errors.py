"""The command line's errors, as a user meets them: each names what is at
fault (the spec field, the folder, the option, the version) and leaves
nothing behind."""

import json

import pytest

from conftest import REPO_DIR

DEEPFM = REPO_DIR / "examples" / "deepfm.json"


@pytest.fixture(scope="module")
def model_dir(recship, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    recship.ok("synth", "--model", DEEPFM, "--out", out, "--ids", 500, "--steps", 1)
    return out


def export(recship, *args, mode="standalone"):
    return ["export", "--model-dir", args[0], "--export-dir-base", args[1], "--mode", mode,
            *args[2:]]


@pytest.mark.parametrize("command", ["synth", "export"])
def test_bad_spec_names_file_and_field(recship, model_dir, tmp_path, command):
    spec = json.loads(DEEPFM.read_text())
    spec["architecture"]["hidden_unit"] = [4]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    args = (["synth", "--model", bad, "--out", tmp_path / "m"] if command == "synth" else
            ["export", "--model", bad, "--model-dir", model_dir, "--export-dir-base",
             tmp_path / "e"])
    result = recship.fails(*args)
    assert result.returncode == 1
    assert str(bad) in result.stderr
    assert "architecture.hidden_unit: is not a field of a deepfm architecture" in result.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "e").exists()
    bad.write_text("{\"name\": ")
    assert "not valid JSON" in recship.fails(*args).stderr
    assert "no_such.json" in recship.fails(*[str(a).replace(str(bad), str(tmp_path / "no_such.json"))
                                             for a in args]).stderr


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_missing_model_dir_is_named(recship, tmp_path, mode):
    result = recship.fails("export", "--model", DEEPFM, "--model-dir", tmp_path / "nothing",
                           "--export-dir-base", tmp_path / "e", "--mode", mode)
    assert result.returncode == 1
    assert str(tmp_path / "nothing") in result.stderr
    assert not (tmp_path / "e").exists() or not any((tmp_path / "e").rglob("*"))


@pytest.mark.parametrize("argv", [["export", "--modle", "x"], ["synth", "--idz", "3"],
                                  ["demo", "--bogus"], ["frobnicate"]])
def test_unknown_option_or_command(recship, argv):
    result = recship.fails(*argv)
    assert result.returncode != 0
    named = argv[1] if len(argv) > 1 else f"unknown command '{argv[0]}'"
    assert named in result.stderr
    assert "Run with --help" in result.stderr


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_existing_version_is_refused_and_kept(recship, model_dir, tmp_path, mode):
    base = tmp_path / "e"
    args = ["export", "--model", DEEPFM, "--model-dir", model_dir, "--export-dir-base", base,
            "--mode", mode, "--global-step", 7]
    recship.ok(*args)
    before = {p: p.stat().st_mtime_ns for p in base.rglob("*")}
    result = recship.fails(*args)
    assert result.returncode == 1
    assert "7" in result.stderr and "already exists" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in base.rglob("*")} == before, "nothing was touched"
