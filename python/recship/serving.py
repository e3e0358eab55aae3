"""recship's model server in this process, and a small PredictionService client.

:class:`ModelServer` is ``recship serve``: TensorFlow Serving's gRPC API (and
REST with ``rest_api_port``) on loopback by default, started on a free port
unless told one. Any TensorFlow Serving client can call it; :func:`predict`
is the shortest way from numpy arrays to numpy arrays::

    with ModelServer("ctr", "exports/ctr") as server:
        out = predict(server, "ctr", {"user_id": np.array([1, 2])})

Starting (which loads every version found), stopping and each request run
with the GIL released.
"""

import os
import time
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from recship import _recship

__all__ = ["ModelServer", "predict"]


class ModelServer:
    """A running model server; a context manager that stops it on exit.

    Give ``model_base_path`` (with ``model_name``, default ``"default"``), a
    ``model_config_file`` (TensorFlow Serving's ModelServerConfig text), or a
    distributed export's ``layout_base_path`` with ``model_name``. An entry
    model's shards are called at ``remote_addresses`` (``recship serve
    --remote_addresses`` syntax). Every configured version is loaded (or has
    failed) when the constructor returns: :meth:`model_status` says which.
    The server logs what ``recship serve`` logs to stderr, unless ``log`` is
    False.
    """

    def __init__(self, model_name: Optional[str] = None, model_base_path=None, *,
                 model_config_file=None, layout_base_path=None, host: str = "127.0.0.1",
                 port: int = 0, rest_api_port: int = 0, poll_wait_seconds: float = 1.0,
                 remote_addresses: Optional[str] = None, enable_batching: bool = False,
                 batching_parameters_file=None, max_batch_size: int = 0, log: bool = True):
        options = {
            "model_name": model_name, "model_base_path": _path(model_base_path),
            "model_config_file": _path(model_config_file),
            "layout_base_path": _path(layout_base_path), "host": host, "port": port,
            "rest_api_port": rest_api_port, "poll_wait_seconds": poll_wait_seconds,
            "remote_addresses": remote_addresses, "enable_batching": enable_batching,
            "batching_parameters_file": _path(batching_parameters_file),
            "max_batch_size": max_batch_size, "log": log,
        }
        self.host = host
        self._server = _recship._ModelServer(options)

    @property
    def port(self) -> int:
        """The gRPC port."""
        return self._server.port

    @property
    def rest_port(self) -> int:
        """The REST port, 0 when REST is off."""
        return self._server.rest_port

    @property
    def address(self) -> str:
        """``host:port`` of the gRPC API."""
        return f"{self.host}:{self.port}"

    def model_status(self, model: str) -> Dict[int, Tuple[str, str]]:
        """{version: (state, error message)} of ``model``, as ModelService's
        GetModelStatus reports them (state AVAILABLE, LOADING, END, ...)."""
        return {version: (state, error)
                for version, state, error in self._server.model_status(model)}

    def stop(self) -> None:
        """Stops serving; requests in flight finish first. Idempotent."""
        self._server.stop()

    def serve_forever(self) -> None:
        """Serves until Ctrl-C (SIGINT) or :meth:`stop` from another thread,
        then stops, as ``recship serve`` does."""
        try:
            while self._server.running:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> "ModelServer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()


def predict(server: Union[ModelServer, str], model: str, inputs: Mapping[str, object], *,
            signature_name: str = "serving_default", version: Optional[int] = None,
            output_filter: Optional[Sequence[str]] = None,
            timeout: float = 30.0) -> Dict[str, np.ndarray]:
    """Calls PredictionService.Predict; returns the outputs as numpy arrays.

    ``server`` is a :class:`ModelServer` or any TensorFlow Serving address
    (``host:port``). Inputs are arrays of the signature's dtypes. Errors raise
    the :mod:`recship.errors` class of the gRPC status (an unknown input is
    an ``InvalidArgumentError``, a stopped server an ``UnavailableError``).
    """
    address = server.address if isinstance(server, ModelServer) else str(server)
    return _recship._predict(address, model, dict(inputs), signature_name, version,
                             None if output_filter is None else list(output_filter), timeout)


def _path(path) -> Optional[str]:
    return None if path is None else os.fspath(path)
