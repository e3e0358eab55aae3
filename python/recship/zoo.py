"""The built-in architectures: a JSON model spec as a model_fn and a serving_input_receiver_fn.

The spec is the one ``recship export --model`` reads (README, "Model specs"):
give a path, the JSON text, a dict, or a :class:`ModelSpec`. The functions
returned run natively when an exporter calls them, and may also be called
inside a Python model_fn to build on the zoo model.
"""

import json
import os
from typing import Any, Dict, Union

from recship import _recship
from recship._recship import ModelSpec, NativeModelFn, NativeReceiverFn

__all__ = ["ModelSpec", "load_spec", "model_fn", "serving_input_receiver_fn"]

SpecLike = Union[str, "os.PathLike[str]", Dict[str, Any], ModelSpec]


def load_spec(spec: SpecLike) -> ModelSpec:
    """Parses and checks a spec; errors name the field at fault."""
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        return _recship._parse_model_spec(json.dumps(spec))
    text = os.fspath(spec)
    if text.lstrip().startswith("{"):
        return _recship._parse_model_spec(text)
    return _recship._load_model_spec(text)


def model_fn(spec: SpecLike) -> NativeModelFn:
    """The spec's model_fn: outputs ``prediction``, or one per task."""
    return _recship._zoo_model_fn(load_spec(spec))


def serving_input_receiver_fn(spec: SpecLike) -> NativeReceiverFn:
    """The spec's serving inputs: ``<name>`` per id or dense feature, and
    ``<name>_indices``, ``<name>_values``, ``<name>_dense_shape`` per id bag."""
    return _recship._zoo_receiver_fn(load_spec(spec))
