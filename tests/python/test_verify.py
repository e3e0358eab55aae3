"""`recship export --verify` and `recship verify`: the export, run in
recship's runtime (the entry with its shards), against the model's own graph
over the training checkpoint. An export that serves its checkpoint passes
with re-sharding, filtering and compression; one that does not (another
checkpoint's rows, filters the reference was not told of, a tolerance no
compressed export meets) fails, and `export --verify` then publishes
nothing."""

import json

import numpy as np

from ctr_model import SPEC
from test_deltas import train_step


def verify_json(recship, *args):
    result = recship.run("verify", *args, "--model", SPEC, "--json")
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else None


def test_exports_verify_through_resharding_filtering_and_compression(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 3000, "--num-ps", 2)
    cases = [("standalone", [], 1e-5, "float32"),
             ("distributed", ["--num-ps", 3, "--embedding-dtype", "int8"], 3e-2, "int8"),
             ("standalone", ["--min-frequency", 50, "--embedding-dtype", "float16"], 2e-3,
              "float16")]
    for i, (mode, flags, tolerance, dtype) in enumerate(cases):
        base = tmp_path / f"export{i}"
        out = json.loads(recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                                    "--export-dir-base", base, "--mode", mode, "--verify",
                                    "--global-step", 5, "--json", *flags).stdout)
        report = out["verify"]
        assert report["passed"] and report["tolerance"] == tolerance, report
        assert report["embedding_dtype"] == dtype and report["requests"] == 16
        error = report["outputs"]["prediction"]["max_relative_error"]
        assert error <= tolerance, report
        if dtype == "float32":
            assert error == 0, report  # The same arithmetic as the reference.
        else:
            assert error > 0, report  # Compression is not free.
        # `recship verify` on the published export agrees.
        filters = [f for f in flags if f in ("--min-frequency", 50)]
        code, again = verify_json(recship, base, "--model-dir", model_dir, *filters)
        assert code == 0 and again["outputs"] == report["outputs"], again


def test_verify_fails_an_export_that_is_not_the_checkpoints_model(recship, tmp_path,
                                                                 write_bundle):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 2000, "--num-ps", 4)
    base = tmp_path / "export"
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
               "--mode", "distributed", "--min-frequency", 50, "--global-step", 5)
    code, report = verify_json(recship, base, "--model-dir", model_dir, "--min-frequency", 50)
    assert code == 0 and report["passed"], report
    # The reference was not told of the filter: the left-out ids differ.
    code, report = verify_json(recship, base, "--model-dir", model_dir)
    assert code == 1 and not report["passed"], report
    # A newer checkpoint (1% of the rows changed) is not what was exported.
    train_step(model_dir, 10, np.random.default_rng(2), write_bundle)
    code, report = verify_json(recship, base, "--model-dir", model_dir, "--min-frequency", 50)
    assert code == 1 and report["outputs"]["prediction"]["max_relative_error"] > 1e-3, report


def test_a_failed_verify_publishes_nothing(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 1000)
    for mode in ("standalone", "distributed"):
        base = tmp_path / mode
        result = recship.run("export", "--model", SPEC, "--model-dir", model_dir,
                             "--export-dir-base", base, "--mode", mode, "--verify",
                             "--embedding-dtype", "int8", "--tolerance", "1e-9")
        assert result.returncode == 1, result.stdout
        assert "--verify" in result.stderr and "nothing was published" in result.stderr
        assert "max relative error" in result.stderr, result.stderr
        assert not any(base.rglob("saved_model.pb")), mode
        assert not [p for p in base.rglob("temp-*")], mode


def test_verify_uses_the_warmup_requests_when_the_export_has_them(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 1000)
    first = tmp_path / "first"
    recship.ok("export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", first,
               "--global-step", 1)
    warmup = tmp_path / "warmup"
    recship.ok("warmup", "--saved-model", first / "1", "--out", warmup, "--count", 7)
    out = json.loads(recship.ok("export", "--model", SPEC, "--model-dir", model_dir,
                                "--export-dir-base", tmp_path / "export", "--mode",
                                "distributed", "--warmup-file", warmup, "--verify",
                                "--embedding-dtype", "bfloat16", "--json").stdout)
    report = out["verify"]
    assert report["passed"] and report["requests"] == 7, report
    assert not report["generated_requests"]
