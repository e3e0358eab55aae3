"""Runs `recship serve` as a subprocess and talks to it with TensorFlow
Serving's official Python client (tensorflow-serving-api over grpcio)."""

import re
import signal
import subprocess
import time

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc, predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc


def predict_request(model, feed, signature=None, version=None, output_filter=(), label=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if signature is not None:
        request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for name, value in feed.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    request.output_filter.extend(output_filter)
    return request


def outputs_of(response):
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


class Server:
    """One `recship serve --port 0 ...` process; its log is a file. It is
    ready once it writes its port to --port_file (docs/cli.md)."""

    def __init__(self, binary, args, log_path, timeout=60, port=0, host="127.0.0.1",
                 prefix=()):
        """`prefix` runs it through another command (`ip netns exec NS`),
        listening on `host`."""
        self.log_path = log_path
        self._log = open(log_path, "w")
        port_file = log_path.with_name(log_path.name + ".port")
        port_file.unlink(missing_ok=True)
        self.process = subprocess.Popen([*map(str, prefix), str(binary), "serve", "--host", host,
                                         "--port", str(port), "--port_file", str(port_file),
                                         *map(str, args)],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if port_file.exists():
                # The gRPC port, then the REST port when REST is on.
                ports = [int(line) for line in port_file.read_text().split()]
                self.address = f"{host}:{ports[0]}"
                self.rest_address = f"{host}:{ports[1]}" if len(ports) > 1 else None
                break
            if self.process.poll() is not None:
                raise AssertionError(f"recship serve exited {self.process.returncode}:\n"
                                     f"{self.log()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"recship serve did not start:\n{self.log()}")
            time.sleep(0.05)
        self.channel = grpc.insecure_channel(self.address)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model_service = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def log(self):
        return self.log_path.read_text()

    def predict(self, model, feed, timeout=30, **kwargs):
        return self.stub.Predict(predict_request(model, feed, **kwargs), timeout=timeout)

    def metadata(self, model, version=None):
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = model
        if version is not None:
            request.model_spec.version.value = version
        request.metadata_field.append("signature_def")
        response = self.stub.GetModelMetadata(request, timeout=30)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        assert response.metadata["signature_def"].Unpack(signatures)
        return response, signatures

    def model_status(self, model, version=None, label=None):
        """ModelService.GetModelStatus: [(version, state name, error code
        name, error message)], as reported."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        if version is not None:
            request.model_spec.version.value = version
        if label is not None:
            request.model_spec.version_label = label
        response = self.model_service.GetModelStatus(request, timeout=30)
        state = get_model_status_pb2.ModelVersionStatus.State
        return [(v.version, state.Name(v.state), v.status.error_code, v.status.error_message)
                for v in response.model_version_status]

    def reload(self, config_text, timeout=60):
        """ModelService.HandleReloadConfigRequest with a ModelServerConfig in
        text format; the response."""
        request = model_management_pb2.ReloadConfigRequest()
        text_format.Parse(config_text, request.config)
        return self.model_service.HandleReloadConfigRequest(request, timeout=timeout)

    def raw_call(self, method, payload, timeout=30):
        """Calls `method` with `payload` bytes as the serialized request."""
        call = self.channel.unary_unary(method, request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        return call(payload, timeout=timeout)

    def health(self, service=""):
        """SERVING (1), NOT_SERVING (2), or the gRPC error code's name."""
        encoded = service.encode()
        request = (b"\x0a" + bytes([len(encoded)]) + encoded) if encoded else b""
        try:
            response = self.raw_call("/grpc.health.v1.Health/Check", request)
        except grpc.RpcError as error:
            return error.code().name
        return response[1] if response else 0

    def wait_for_log(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            assert self.process.poll() is None, f"recship serve died:\n{self.log()}"
            assert time.monotonic() < deadline, f"no '{pattern}' in the log:\n{self.log()}"
            time.sleep(0.05)

    def stop(self, timeout=30):
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError(f"recship serve ignored SIGTERM:\n{self.log()}")
        self.channel.close()
        self._log.close()
        return self.process.returncode


def assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
