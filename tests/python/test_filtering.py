"""Filtering at export: `--min-frequency F` leaves out the ids seen fewer
than F times (-freqs), `--max-age D` those not updated within D of the
checkpoint's newest -timestamps. Judged with TensorFlow: the export holds
exactly the rows the checkpoint's own freqs and timestamps select, stock
TensorFlow predicts on it what numpy predicts from the checkpoint with the
left-out ids as unseen (zeros), and a table without the tensor a filter
needs is an error naming the table and the flag, leaving no version."""

import json

import numpy as np
import tensorflow as tf

from ctr_model import SPEC, make_batch, numpy_predictions, predict_tf1
from recship_server import assert_close

TABLES = ["user_id", "item_id"]
MIN_FREQUENCY = 50
MAX_AGE_SECONDS = 300


def table_rows(prefix, parts=("values",)):
    """{table: {id: (one value per part)}} over every shard, by TensorFlow."""
    reader = tf.train.load_checkpoint(str(prefix))
    names = reader.get_variable_to_shape_map()
    rows = {t: {} for t in TABLES}
    for table in TABLES:
        for name in [n for n in names if n.startswith(f"{table}/shard_") and n.endswith("-keys")]:
            columns = [reader.get_tensor(name[:-len("keys")] + part) for part in parts]
            for key, *values in zip(reader.get_tensor(name), *columns):
                rows[table][int(key)] = tuple(values)
    return rows


def test_filters_keep_exactly_the_rows_they_select(recship, tmp_path):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 3000)
    rows = table_rows(model_dir / "model.ckpt-2", ("values", "freqs", "timestamps"))
    newest = max(ts for table in rows.values() for _, _, ts in table.values())
    keep = {t: {k for k, (_, freq, ts) in rows[t].items()
                if freq >= MIN_FREQUENCY and ts >= newest - MAX_AGE_SECONDS} for t in TABLES}
    assert all(0 < len(keep[t]) < len(rows[t]) for t in TABLES), "the filters select nothing"
    for t in TABLES:  # Each filter leaves out rows the other keeps.
        assert any(f < MIN_FREQUENCY and ts >= newest - MAX_AGE_SECONDS
                   for _, f, ts in rows[t].values())
        assert any(f >= MIN_FREQUENCY and ts < newest - MAX_AGE_SECONDS
                   for _, f, ts in rows[t].values())

    for mode, variables in (("standalone", "export/7/variables/variables"),
                            ("distributed", None)):
        base = tmp_path / mode / "export"
        out = json.loads(recship.ok(
            "export", "--model", SPEC, "--model-dir", model_dir, "--export-dir-base", base,
            "--mode", mode, "--min-frequency", MIN_FREQUENCY, "--max-age",
            f"{MAX_AGE_SECONDS}s", "--global-step", 7, "--json").stdout)
        for table in TABLES:
            assert out["filtered_tables"][table] == {
                "kept": len(keep[table]), "dropped": len(rows[table]) - len(keep[table])}
        prefixes = ([tmp_path / mode / variables] if variables else
                    [base / f"ps_{i}" / "7" / "variables" / "variables" for i in range(4)])
        got = {t: {} for t in TABLES}
        for prefix in prefixes:
            for table, exported in table_rows(prefix).items():
                got[table].update(exported)
        for table in TABLES:
            assert got[table].keys() == keep[table], f"{mode}: {table}"
            for key in keep[table]:
                np.testing.assert_array_equal(got[table][key][0], rows[table][key][0])
        assert not list(base.glob("temp-*"))

    # Stock TensorFlow on the standalone export predicts what numpy predicts
    # with the left-out ids unseen.
    feed, bags = make_batch(256, np.random.default_rng(5))
    unseen = {t: {k: np.zeros_like(rows[t][k][0]) for k in rows[t] if k not in keep[t]}
              for t in TABLES}
    assert_close(predict_tf1(tmp_path / "standalone" / "export" / "7", feed),
                 numpy_predictions(model_dir / "model.ckpt-2", feed, bags, unseen))


def test_a_filter_on_a_table_without_its_tensor_names_both(recship, tmp_path, write_bundle):
    model_dir = tmp_path / "model"
    recship.ok("synth", "--model", SPEC, "--out", model_dir, "--ids", 500)
    reader = tf.train.load_checkpoint(str(model_dir / "model.ckpt-2"))
    tensors = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
               if not (n.startswith("item_id/") and n.endswith("-freqs"))}
    write_bundle(model_dir / "model.ckpt-3", tensors)
    (model_dir / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-3"\n')
    for mode in ("standalone", "distributed"):
        base = tmp_path / mode
        result = recship.run("export", "--model", SPEC, "--model-dir", model_dir,
                             "--export-dir-base", base, "--mode", mode, "--min-frequency", 2)
        assert result.returncode != 0
        assert "--min-frequency" in result.stderr and "'item_id'" in result.stderr, result.stderr
        assert not base.exists() or not any(base.rglob("saved_model.pb")), mode
