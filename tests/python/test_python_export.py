"""Exports from Python (recship.model_export): a model_fn written in Python
with a custom layer, trained by a numpy trainer that writes its folder
through recship.checkpoint, exports standalone and distributed and predicts
what numpy computes, in TensorFlow and in `recship serve`. Errors raised in a
model_fn come back unchanged and publish nothing."""

import numpy as np
import pytest
import tensorflow as tf

import custom_model
from custom_model import model_fn, serving_input_receiver_fn
from recship import errors, layers, ops
from recship.estimator import EstimatorSpec
from recship.model_export import DistributedExporter, StandaloneExporter, export_context
from recship_server import Server, outputs_of
from test_distributed import free_port
from test_export_interrupt import versions_and_temps
from zoo_model import predict_tf1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("python_export") / "model"
    params = custom_model.train(model_dir, steps=2)
    return model_dir, params


@pytest.fixture(scope="module")
def feed():
    return custom_model.make_batch(np.random.default_rng(7), 32)


def test_the_numpy_trainer_writes_a_folder_tensorflow_reads(trained):
    model_dir, params = trained
    latest = tf.train.latest_checkpoint(str(model_dir))
    assert latest.endswith("model.ckpt-2")
    reader = tf.train.load_checkpoint(latest)
    assert reader.get_tensor("global_step") == 2
    np.testing.assert_array_equal(reader.get_tensor("tower/logit/kernel"),
                                  params["tower/logit/kernel"])
    keys = reader.get_tensor("item/shard_1-keys")
    assert np.all(np.mod(keys, 2) == 1) and len(keys) == 175
    np.testing.assert_array_equal(reader.get_tensor("item/shard_1-values")[3],
                                  params["item"][int(keys[3])])


@pytest.fixture(scope="module")
def standalone(trained, tmp_path_factory):
    model_dir, _ = trained
    base = tmp_path_factory.mktemp("standalone_base")
    exporter = StandaloneExporter(model_fn, model_dir, base)
    path = exporter.export_saved_model(serving_input_receiver_fn, global_step=11)
    return path, exporter.last_summary


def test_standalone_export_predicts_like_numpy_in_tensorflow(standalone, trained, feed):
    path, summary = standalone
    assert path.endswith("/11") and summary["checkpoint"].endswith("model.ckpt-2")
    want = custom_model.predict(trained[1], feed)
    got = predict_tf1(path, feed, ["ctr"])
    np.testing.assert_allclose(got["ctr"], want["ctr"], rtol=1e-5, atol=1e-6)
    # The extra signature of export_outputs.
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        signature = meta.signature_def["logits"]
        logit = sess.run(signature.outputs["logit"].name,
                         {signature.inputs[k].name: v for k, v in feed.items()})
    np.testing.assert_allclose(logit, want["logit"], rtol=1e-5, atol=1e-5)


def test_standalone_export_serves_like_numpy_in_recship_serve(standalone, trained, feed,
                                                                recship, tmp_path):
    path, _ = standalone
    server = Server(recship.path, ["--model_name", "ctr", "--model_base_path",
                                   str(path).rsplit("/", 1)[0]], tmp_path / "serve.log")
    try:
        got = outputs_of(server.predict("ctr", feed))
    finally:
        assert server.stop() == 0
    np.testing.assert_allclose(got["ctr"], custom_model.predict(trained[1], feed)["ctr"],
                               rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def distributed(trained, tmp_path_factory):
    base = tmp_path_factory.mktemp("distributed_base") / "ctr"
    paths = DistributedExporter(model_fn, trained[0], base).export_saved_model(
        serving_input_receiver_fn, global_step=12)
    return base, paths


def test_each_shard_looks_up_its_rows_in_tensorflow(distributed, trained):
    base, paths = distributed
    assert paths == [str(base / "ps_0" / "12"), str(base / "ps_1" / "12"),
                     str(base / "entry" / "12")]
    params = trained[1]
    for shard in range(2):
        with tf.compat.v1.Session(graph=tf.Graph()) as sess:
            meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], paths[shard])
            lookup = meta.signature_def["lookup"]
            ids = np.array([shard, shard + 2, 10**9 + shard], np.int64)  # The last unseen.
            rows = sess.run(lookup.outputs["user"].name,
                            {lookup.inputs["user"].name: ids,
                             lookup.inputs["item"].name: np.zeros(0, np.int64)})
        want = np.stack([params["user"][int(ids[0])], params["user"][int(ids[1])],
                         np.zeros(custom_model.DIM, np.float32)])
        np.testing.assert_array_equal(rows, want)


def test_distributed_export_serves_like_numpy(distributed, trained, feed, recship, tmp_path):
    base, _ = distributed
    ports = [free_port() for _ in range(2)]
    # The entry calls its shards as "<model_name>:ps_<i>"; model_name defaults
    # to the export base's name.
    shards = [Server(recship.path, ["--model_name", f"ctr:ps_{i}", "--model_base_path",
                                    base / f"ps_{i}"], tmp_path / f"ps_{i}.log", port=ports[i])
              for i in range(2)]
    addresses = ",".join(f"ps_{i}=127.0.0.1:{p}" for i, p in enumerate(ports))
    entry = Server(recship.path, ["--model_name", "ctr", "--model_base_path", base / "entry",
                                  "--remote_addresses", addresses], tmp_path / "entry.log")
    try:
        got = outputs_of(entry.predict("ctr", feed))
    finally:
        assert [s.stop() for s in [entry, *shards]] == [0, 0, 0]
    np.testing.assert_allclose(got["ctr"], custom_model.predict(trained[1], feed)["ctr"],
                               rtol=1e-5, atol=1e-6)


def versions(base):
    return sorted(p.name for p in versions_and_temps(base))


class Boom(Exception):
    pass


def test_an_exception_in_model_fn_comes_back_unchanged_and_publishes_nothing(trained, tmp_path):
    def failing(features, mode, config):
        raise Boom("from the model_fn")

    with pytest.raises(Boom, match="from the model_fn"):
        StandaloneExporter(failing, trained[0], tmp_path / "a").export_saved_model(
            serving_input_receiver_fn, global_step=1)
    with pytest.raises(Boom):
        DistributedExporter(failing, trained[0], tmp_path / "b").export_saved_model(
            serving_input_receiver_fn, global_step=1)
    assert versions(tmp_path) == []
    assert not export_context.is_exporting()


def test_graph_errors_raise_at_the_line_that_made_them(trained, tmp_path):
    def mismatched(features, mode, config):
        # float32 + int64: TensorFlow's AddV2 takes one dtype.
        return EstimatorSpec(mode, {"y": features["context"] + features["user_id"]})

    with pytest.raises(errors.InvalidArgumentError, match="AddV2") as raised:
        StandaloneExporter(mismatched, trained[0], tmp_path).export_saved_model(
            serving_input_receiver_fn, global_step=1)
    # The traceback reaches the model_fn's own line.
    assert any(entry.name == "mismatched" for entry in raised.traceback)
    assert versions(tmp_path) == []


def test_export_errors_name_what_is_at_fault(trained, tmp_path):
    def not_a_spec(features, mode, config):
        return {"y": features["context"]}

    with pytest.raises(errors.InvalidArgumentError, match="model_fn returned .*dict"):
        StandaloneExporter(not_a_spec, trained[0], tmp_path).export_saved_model(
            serving_input_receiver_fn, global_step=1)

    def missing_variable(features, mode, config):
        return EstimatorSpec(mode, {"y": layers.dense(features["context"], 2, name="nowhere")})

    with pytest.raises(errors.Error, match="nowhere/kernel"):
        StandaloneExporter(missing_variable, trained[0], tmp_path).export_saved_model(
            serving_input_receiver_fn, global_step=1)
    with pytest.raises(KeyError, match="no feature 'price'"):
        StandaloneExporter(lambda f, m, c: f["price"], trained[0], tmp_path).export_saved_model(
            serving_input_receiver_fn, global_step=1)
    with pytest.raises(errors.NotFoundError):
        StandaloneExporter(model_fn, tmp_path / "no_model", tmp_path).export_saved_model(
            serving_input_receiver_fn)
    with pytest.raises(errors.InvalidArgumentError, match="include_graphs: 'ps-1'"):
        DistributedExporter(model_fn, trained[0], tmp_path, include_graphs=["ps-1"])\
            .export_saved_model(serving_input_receiver_fn, global_step=1)
    StandaloneExporter(model_fn, trained[0], tmp_path).export_saved_model(
        serving_input_receiver_fn, global_step=1)
    with pytest.raises(errors.AlreadyExistsError):
        StandaloneExporter(model_fn, trained[0], tmp_path).export_saved_model(
            serving_input_receiver_fn, global_step=1)
    assert versions(tmp_path) == ["1"]


def test_layers_see_the_export_mode(trained, tmp_path):
    seen = []

    def recording(features, mode, config):
        seen.append((export_context.is_exporting_standalone(),
                     export_context.is_exporting_distributed(),
                     export_context.get_current_export_ctx() is not None,
                     ops.is_building(), config.model_dir))
        return model_fn(features, mode, config)

    StandaloneExporter(recording, trained[0], tmp_path / "s").export_saved_model(
        serving_input_receiver_fn, global_step=1)
    DistributedExporter(recording, trained[0], tmp_path / "d").export_saved_model(
        serving_input_receiver_fn, global_step=1)
    assert seen == [(True, False, True, True, str(trained[0])),
                    (False, True, True, True, str(trained[0]))]
    assert not ops.is_building()


def test_two_threads_export_at_once(trained, tmp_path):
    # Export mode and the graph being built belong to each thread.
    import threading
    results, failures = {}, []

    def export(name):
        try:
            results[name] = StandaloneExporter(model_fn, trained[0], tmp_path / name) \
                .export_saved_model(serving_input_receiver_fn, global_step=5)
        except Exception as error:  # Reported below, with the thread's name.
            failures.append((name, error))

    threads = [threading.Thread(target=export, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    graphs = {(tmp_path / name / "5" / "saved_model.pb").read_bytes() for name in results}
    assert len(results) == 4 and len(graphs) == 1


def test_fresh_rows_reach_a_running_server_as_a_delta(tmp_path):
    # A numpy trainer's newer checkpoint changes, adds and removes rows; a
    # delta written from Python carries them to the server, which serves
    # them without a new version.
    import copy
    import time
    from recship.model_export import export_delta
    from recship.serving import ModelServer, predict

    params = custom_model.train(tmp_path / "model", steps=1)
    StandaloneExporter(model_fn, tmp_path / "model", tmp_path / "ctr").export_saved_model(
        serving_input_receiver_fn, global_step=1)
    fresh = copy.deepcopy(params)
    for user in range(0, 40, 3):
        fresh["user"][user] = fresh["user"][user] + 1.0
    fresh["user"][7777] = np.full(custom_model.DIM, 0.5, np.float32)
    del fresh["item"][5]
    custom_model.write_checkpoint(tmp_path / "model", 2, fresh)

    feed = custom_model.make_batch(np.random.default_rng(3), 16)
    feed["user_id"][:3] = [3, 7777, 4]
    feed["clicked_indices"] = np.array([[1, 0], [2, 0]], np.int64)
    feed["clicked_values"] = np.array([5, 6], np.int64)
    feed["clicked_dense_shape"] = np.array([16, 1], np.int64)
    with ModelServer("ctr", tmp_path / "ctr", poll_wait_seconds=0.1, log=False) as server:
        before = predict(server, "ctr", feed)["ctr"]
        np.testing.assert_allclose(before, custom_model.predict(params, feed)["ctr"],
                                   rtol=1e-5, atol=1e-6)
        summary = export_delta(tmp_path / "model", tmp_path / "ctr")
        assert summary["base_version"] == 1 and len(summary["deltas"]) == 1
        assert summary["deltas"][0]["tables"] == {"user": (15, 0), "item": (0, 1)}
        want = custom_model.predict(fresh, feed)["ctr"]
        deadline = time.monotonic() + 30
        while True:
            got = predict(server, "ctr", feed)["ctr"]
            if np.allclose(got, want, rtol=1e-5, atol=1e-6) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert server.model_status("ctr") == {1: ("AVAILABLE", "")}
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, want)
