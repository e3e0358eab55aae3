"""The tf.estimator vocabulary a model_fn uses.

``model_fn(features, mode, config)`` reads :class:`Features` (an
:class:`~recship.ops.Output` per dense or single-id feature, a :class:`Feature`
per id bag) and returns an :class:`EstimatorSpec`; a
``serving_input_receiver_fn()`` returns a :class:`ServingInputReceiver`.
Exports call both with ``mode`` ``ModeKeys.PREDICT``.
"""

from recship._recship import (
    EstimatorSpec,
    Feature,
    Features,
    ModeKeys,
    PredictOutput,
    RunConfig,
    ServingInputReceiver,
)

__all__ = [
    "EstimatorSpec",
    "Feature",
    "Features",
    "ModeKeys",
    "PredictOutput",
    "RunConfig",
    "ServingInputReceiver",
]
