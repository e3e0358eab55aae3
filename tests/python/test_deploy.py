"""deploy/: the Kubernetes manifests validate against Kubernetes' own schemas
(kubernetes-validate, offline), and the very commands they give their
containers work: the export Job's script for every completion index, each
shard's server, then the entry, run on loopback with paths and addresses
mapped, answer as numpy computes from the checkpoint once the entry's
readiness probe passes. The image's entrypoint script serves MODEL_NAME
from MODEL_BASE_PATH with extra arguments passed through."""

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import grpc
import kubernetes_validate
import numpy as np
import pytest
import yaml

from conftest import REPO_DIR
from ctr_model import NUM_PS, SPEC, export, make_batch, numpy_predictions
from recship_server import outputs_of, predict_request
from tensorflow_serving.apis import prediction_service_pb2_grpc

K8S = REPO_DIR / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"  # Pod-index labels (1.28) and gRPC probes (1.27) are in.


def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests():
    """(file, document) of every resource the kustomizations list."""
    found = []
    for kustomization in sorted(K8S.glob("*/kustomization.yaml")):
        for resource in yaml.safe_load(kustomization.read_text())["resources"]:
            path = kustomization.parent / resource
            if path.is_dir():
                assert (path / "kustomization.yaml").exists(), path
                continue
            found += [(path, d) for d in documents(path)]
    return found


def test_every_manifest_validates_against_kubernetes_schemas():
    resources = manifests()
    kinds = sorted({d["kind"] for _, d in resources})
    assert kinds == ["ConfigMap", "Deployment", "Job", "PersistentVolumeClaim", "Service",
                     "StatefulSet"]
    for path, document in resources:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    # The Job exports one sub-model per index: the entry and every shard.
    [job] = [d for _, d in resources if d["kind"] == "Job"]
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == NUM_PS + 1
    # Every shard Service selects pods the StatefulSets make.
    sets = [d for _, d in resources if d["kind"] == "StatefulSet"]
    assert sorted(s["spec"]["replicas"] for s in sets) == [NUM_PS, NUM_PS]
    for s in sets:
        assert s["spec"]["template"]["metadata"]["labels"]["app"] == "recship-ps"
    shard_services = sorted(d["metadata"]["name"] for _, d in resources
                            if d["kind"] == "Service" and "apps.kubernetes.io/pod-index"
                            in d["spec"].get("selector", {}))
    assert shard_services == [f"recship-ps-{i}" for i in range(NUM_PS)]


def container(kind, name=None):
    """The first container of the resource of that kind (and name)."""
    for _, d in manifests():
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d["spec"]["template"]["spec"]["containers"][0]
    raise AssertionError(f"no {kind} {name}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mapped:
    """Runs a container's command on this machine: `recship` on the PATH,
    the pod's mounts under a temporary folder, loopback for 0.0.0.0."""

    def __init__(self, recship, root, train_dir):
        self.bin = root / "bin"
        self.bin.mkdir()
        (self.bin / "recship").symlink_to(recship.path)
        self.mounts = {"/train": str(train_dir), "/models": str(root / "models"),
                       "/etc/recship": str(root / "etc")}
        (root / "etc").mkdir()
        [config_map] = [d for _, d in manifests() if d["kind"] == "ConfigMap"]
        for name, text in config_map["data"].items():
            (root / "etc" / name).write_text(text)
        self.processes = []

    def argv(self, spec, replace=()):
        words = list(spec.get("command", [])) + list(spec.get("args", []))
        mapped = []
        for word in words:
            for mount, local in self.mounts.items():
                word = word.replace(f" {mount}/", f" {local}/").replace(f"={mount}/", f"={local}/")
                if word.startswith(f"{mount}/"):
                    word = local + word[len(mount):]
            for old, new in replace:
                word = word.replace(old, new)
            mapped.append(word)
        return mapped

    def env(self, **extra):
        return {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}", **extra}

    def run(self, spec, **env):
        result = subprocess.run(self.argv(spec), env=self.env(**env), capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result

    def start(self, spec, log, replace=(), **env):
        process = subprocess.Popen(self.argv(spec, replace), env=self.env(**env),
                                   stdout=open(log, "w"), stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            assert process.wait(timeout=30) == 0


def wait_for(ready, what, log, timeout=60):
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} never got ready:\n{log.read_text()}"
        time.sleep(0.1)


def grpc_serving(address):
    channel = grpc.insecure_channel(address)
    try:
        answer = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=1)
        return answer == b"\x08\x01"
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def test_the_manifests_commands_export_and_serve_the_layout(recship, model_dir, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    shutil.copy(SPEC, train / "spec.json")
    (train / "model").symlink_to(model_dir)
    pods = Mapped(recship, tmp_path, train)
    job = container("Job")
    for index in range(NUM_PS + 1):
        pods.run(job, JOB_COMPLETION_INDEX=str(index))
    assert sorted(os.listdir(tmp_path / "models" / "ctr")) == \
        ["entry"] + [f"ps_{i}" for i in range(NUM_PS)]
    for sub_model in os.listdir(tmp_path / "models" / "ctr"):
        assert os.listdir(tmp_path / "models" / "ctr" / sub_model) == ["2"], sub_model

    shard = container("StatefulSet", "recship-ps-a")
    entry = container("Deployment", "recship-entry")
    ports = [free_port() for _ in range(2 * NUM_PS + 2)]
    try:
        for i in range(NUM_PS):
            log = tmp_path / f"ps_{i}.log"
            pods.start(shard, log, [("--host 0.0.0.0", "--host 127.0.0.1"),
                                    ("--port 8500", f"--port {ports[i]}"),
                                    ("--rest_api_port 8501",
                                     f"--rest_api_port {ports[NUM_PS + 2 + i]}")],
                       HOSTNAME=f"recship-ps-a-{i}")
            wait_for(lambda: grpc_serving(f"127.0.0.1:{ports[i]}"), f"ps_{i}", log)
        addresses = ",".join(f"ps_{i}=127.0.0.1:{ports[i]}" for i in range(NUM_PS))
        grpc_port, rest_port = ports[NUM_PS:NUM_PS + 2]
        log = tmp_path / "entry.log"
        pods.start(entry, log, [("--host=0.0.0.0", "--host=127.0.0.1"),
                                ("--port=8500", f"--port={grpc_port}"),
                                ("--rest_api_port=8501", f"--rest_api_port={rest_port}"),
                                ("--remote_address_template=dns:///recship-ps-{i}:8500",
                                 f"--remote_addresses={addresses}")])
        probe = entry["readinessProbe"]["httpGet"]
        assert probe["port"] == 8501
        wait_for(lambda: http_ok(f"http://127.0.0.1:{rest_port}{probe['path']}"), "entry", log)
        feed, bags = make_batch(16, np.random.default_rng(16))
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(predict_request("ctr", feed), timeout=30)
        assert response.model_spec.version.value == 2
        np.testing.assert_allclose(outputs_of(response)["prediction"],
                                   numpy_predictions(model_dir / "model.ckpt-2", feed, bags),
                                   rtol=1e-5, atol=1e-7)
        metrics_path = "/monitoring/prometheus/metrics"
        assert http_ok(f"http://127.0.0.1:{rest_port}{metrics_path}")
    finally:
        pods.stop()


def test_the_image_entrypoint_serves_model_name_with_extra_arguments(recship, model_dir,
                                                                     tmp_path):
    export(recship, model_dir, tmp_path / "models" / "ctr", "--global-step", 7)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "recship").symlink_to(recship.path)
    grpc_port, rest_port = free_port(), free_port()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MODEL_NAME": "ctr",
           "MODEL_BASE_PATH": str(tmp_path / "models"), "RECSHIP_HOST": "127.0.0.1"}
    log = tmp_path / "entrypoint.log"
    process = subprocess.Popen([REPO_DIR / "deploy" / "docker" / "entrypoint.sh",
                                f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                                "--file_system_poll_wait_seconds=2"],
                               env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{rest_port}/v1/models/ctr"), "server", log)
        feed, _ = make_batch(4, np.random.default_rng(4))
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            assert stub.Predict(predict_request("ctr", feed), timeout=30) \
                .model_spec.version.value == 7
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()
