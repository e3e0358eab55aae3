"""The exporters (Monolith's ``model_export.saved_model_exporters``).

Both read the training checkpoint (the newest in ``model_dir`` unless
``checkpoint_path`` names one), build the serving graph with ``model_fn`` in
PREDICT mode, and write each version folder under ``temp-<version>`` before
renaming it into place: a failed or interrupted export (Ctrl-C) publishes
nothing. The version is ``global_step`` when given, else the Unix time.

The export itself runs in recship's C++ library with the GIL released; it
calls back into Python only to run a Python ``model_fn``,
``serving_input_receiver_fn`` or ``progress`` callback.

Differences from Monolith's exporters:

- ``export_saved_model`` returns the version folder's path (``str``); the
  distributed exporter returns every path written, shards first and the
  entry last.
- Keyword-only extras: ``model_name`` (distributed: the name the entry calls
  its shards by, default the last part of ``export_dir_base``), ``num_ps``,
  ``pin_versions``, ``embedding_dtype``, ``min_frequency``,
  ``max_age_seconds`` and ``progress`` (called with a dict per step). They
  are the ``recship export`` flags of the same names (docs/cli.md).
- ``model_fn`` builds with :mod:`recship.ops` and :mod:`recship.layers`, not
  TensorFlow; :mod:`recship.zoo` gives one for a JSON spec.
"""

import os
from typing import Any, Callable, Dict, List, Optional, Sequence

from recship import _recship

__all__ = ["StandaloneExporter", "DistributedExporter"]

ProgressFn = Callable[[Dict[str, Any]], None]


def _extras(embedding_dtype: str, min_frequency: Optional[int],
            max_age_seconds: Optional[float]) -> Dict[str, Any]:
    return {
        "embedding_dtype": embedding_dtype,
        "min_frequency": min_frequency,
        "max_age_seconds": max_age_seconds,
    }


class StandaloneExporter:
    """Exports a trained model as one SavedModel for single-machine serving.

    Args:
      model_fn: ``(features, mode, config) -> EstimatorSpec``, written with
        :mod:`recship.ops` and :mod:`recship.layers`, or ``recship.zoo.model_fn(spec)``.
      model_dir: the training folder holding the checkpoints.
      export_dir_base: where ``<version>/`` is written.
      shared_embedding: hard-link (or reflink) the checkpoint's embedding data
        files instead of copying them.
      warmup_file: a TensorFlow Serving warmup file, checked and shipped as
        ``assets.extra/tf_serving_warmup_requests``.
    """

    def __init__(self, model_fn, model_dir, export_dir_base, shared_embedding=False,
                 warmup_file=None, *, embedding_dtype: str = "float32",
                 min_frequency: Optional[int] = None, max_age_seconds: Optional[float] = None,
                 progress: Optional[ProgressFn] = None):
        self._model_fn = model_fn
        self._model_dir = os.fspath(model_dir)
        self._export_dir_base = os.fspath(export_dir_base)
        self._options = {"shared_embedding": shared_embedding, "warmup_file": warmup_file,
                         **_extras(embedding_dtype, min_frequency, max_age_seconds)}
        self._progress = progress
        self.last_summary: Optional[Dict[str, Any]] = None

    def export_saved_model(self, serving_input_receiver_fn, checkpoint_path=None,
                           global_step=None) -> str:
        """Exports; returns the path of the version folder written.

        Args:
          serving_input_receiver_fn: ``() -> ServingInputReceiver``, mapping a
            serving request to the model's inputs.
          checkpoint_path: the checkpoint prefix to export; default the newest
            in ``model_dir`` (``recship.checkpoint.latest_checkpoint``).
          global_step: the version to write; default the current Unix time.
        """
        summary = _recship._export_standalone(
            self._model_fn, self._model_dir, self._export_dir_base, serving_input_receiver_fn,
            _path_or_none(checkpoint_path), global_step, self._options, self._progress)
        self.last_summary = summary
        return summary["paths"][0]


class DistributedExporter:
    """Exports a trained model as an entry model plus one model per shard.

    Writes ``<export_dir_base>/ps_<i>/<v>/`` for each parameter-server shard,
    then ``entry/<v>/`` (and ``dense_0/<v>/`` with ``with_remote_gpu``); the
    entry calls the shards through TensorFlow Serving's remote-predict op.

    Args (besides :class:`StandaloneExporter`'s):
      dense_only: write only the entry, a cheap refresh of the dense network.
      allow_gpu: keep GPU device placements (else they are pinned to CPU).
      with_remote_gpu: move the dense network into ``dense_0``, called by the entry.
      clear_entry_devices: clear every device field of the entry graph.
      include_graphs: write only these sub-models (``entry``, ``ps_3``, ...).
      global_step_as_timestamp: name the version after the global step, so that
        processes exporting different sub-models in parallel agree on it.
    """

    def __init__(self, model_fn, model_dir, export_dir_base, shared_embedding=False,
                 warmup_file=None, dense_only=False, allow_gpu=False, with_remote_gpu=False,
                 clear_entry_devices=False, include_graphs=None, global_step_as_timestamp=False,
                 *, model_name: Optional[str] = None, num_ps: int = 0, pin_versions: bool = False,
                 embedding_dtype: str = "float32", min_frequency: Optional[int] = None,
                 max_age_seconds: Optional[float] = None, progress: Optional[ProgressFn] = None):
        self._model_fn = model_fn
        self._model_dir = os.fspath(model_dir)
        self._export_dir_base = os.fspath(export_dir_base)
        if model_name is None:
            model_name = os.path.basename(os.path.normpath(self._export_dir_base))
        self._options = {
            "shared_embedding": shared_embedding, "warmup_file": warmup_file,
            "dense_only": dense_only, "allow_gpu": allow_gpu, "with_remote_gpu": with_remote_gpu,
            "clear_entry_devices": clear_entry_devices,
            "include_graphs": _names_or_none(include_graphs),
            "global_step_as_timestamp": global_step_as_timestamp, "model_name": model_name,
            "num_ps": num_ps, "pin_versions": pin_versions,
            **_extras(embedding_dtype, min_frequency, max_age_seconds)}
        self._progress = progress
        self.last_summary: Optional[Dict[str, Any]] = None

    def export_saved_model(self, serving_input_receiver_fn, checkpoint_path=None,
                           global_step=None) -> List[str]:
        """Exports; returns the paths written, shards first and the entry last.

        Arguments as :meth:`StandaloneExporter.export_saved_model`; with
        ``global_step_as_timestamp`` and no ``global_step``, the version is
        the checkpoint's global_step.
        """
        summary = _recship._export_distributed(
            self._model_fn, self._model_dir, self._export_dir_base, serving_input_receiver_fn,
            _path_or_none(checkpoint_path), global_step, self._options, self._progress)
        self.last_summary = summary
        return list(summary["paths"])


def _path_or_none(path) -> Optional[str]:
    return None if path is None else os.fspath(path)


def _names_or_none(names: Optional[Sequence[str]]) -> Optional[List[str]]:
    return None if names is None else [str(n) for n in names]
