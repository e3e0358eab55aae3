"""StandaloneExporter, judged by TensorFlow: `recship synth` writes a CTR
training folder (examples/ctr.json), `recship export` exports it, and both of
TensorFlow's loaders must predict what numpy computes from the checkpoint's
own tensors, for unseen, negative and zero ids and empty bags."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from ctr_model import SPEC, export, make_batch, numpy_predictions, predict_tf1, predict_tf2


@pytest.mark.parametrize("shared", [False, True], ids=["copy", "shared"])
@pytest.mark.parametrize("batch", [1, 1000])
def test_export_predicts_like_numpy(recship, model_dir, tmp_path, shared, batch):
    path = export(recship, model_dir, tmp_path / "export",
                  *(["--shared-embedding"] if shared else []))
    feed, bags = make_batch(batch, np.random.default_rng(batch))
    want = numpy_predictions(model_dir / "model.ckpt-2", feed, bags)
    assert want.shape == (batch, 1)
    np.testing.assert_allclose(predict_tf2(path, feed), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_tf1(path, feed), want, rtol=1e-5, atol=1e-6)
    if batch > 1:
        assert np.std(want) > 1e-3, "predictions should vary with the inputs"


def test_export_holds_only_serving_tensors(recship, model_dir, tmp_path):
    path = export(recship, model_dir, tmp_path / "export")
    names = {name for name, _ in tf.train.list_variables(f"{path}/variables/variables")}
    assert names, "the export has no variables"
    assert not [n for n in names if n.endswith(("-freqs", "-timestamps")) or "-slot-" in n]
    assert not [n for n in names if n == "global_step"]
    checkpoint = {name for name, _ in tf.train.list_variables(str(model_dir / "model.ckpt-2"))}
    assert names == {n for n in checkpoint
                     if n.endswith(("-keys", "-values")) or n.startswith("mlp/")}


def test_shared_export_outlives_its_checkpoint(recship, model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    path = export(recship, copy, tmp_path / "export", "--shared-embedding", "--global-step", 7)
    feed, bags = make_batch(16, np.random.default_rng(3))
    want = numpy_predictions(copy / "model.ckpt-2", feed, bags)
    shutil.rmtree(copy)
    assert path.endswith("/7")
    np.testing.assert_allclose(predict_tf1(path, feed), want, rtol=1e-5, atol=1e-6)


def test_export_older_checkpoint_and_never_overwrite(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    path = export(recship, model_dir, base, "--checkpoint", model_dir / "model.ckpt-1",
                  "--global-step", 1)
    feed, bags = make_batch(8, np.random.default_rng(5))
    np.testing.assert_allclose(predict_tf1(path, feed),
                               numpy_predictions(model_dir / "model.ckpt-1", feed, bags),
                               rtol=1e-5, atol=1e-6)
    again = recship.fails("export", "--model", SPEC, "--model-dir", model_dir,
                          "--export-dir-base", base, "--global-step", 1)
    assert "already exists" in again.stderr
    assert sorted(p.name for p in base.iterdir()) == ["1"]


def test_export_errors_leave_nothing_behind(recship, model_dir, tmp_path):
    base = tmp_path / "export"
    missing = recship.fails("export", "--model", SPEC, "--model-dir", tmp_path / "nothing",
                            "--export-dir-base", base)
    assert "no checkpoint" in missing.stderr
    # A spec whose table dim differs from the checkpoint's: a shape mismatch.
    spec = tmp_path / "wrong.json"
    spec.write_text(SPEC.read_text().replace('"dim": 8, "num_shards": 4}', '"dim": 6, "num_shards": 4}', 1))
    mismatch = recship.fails("export", "--model", spec, "--model-dir", model_dir,
                             "--export-dir-base", base)
    assert "user_id/shard_0-values" in mismatch.stderr
    assert not base.exists() or not any(base.iterdir())
