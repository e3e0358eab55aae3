"""recship: ship recommendation models from their training checkpoints to serving.

The same library as the ``recship`` command, for Python:

- :mod:`recship.model_export` exports a model (standalone or distributed),
  with the API of Monolith's ``model_export``;
- :mod:`recship.ops`, :mod:`recship.layers` and :mod:`recship.estimator` build
  a model_fn in Python; :mod:`recship.zoo` builds one from a JSON spec;
- :mod:`recship.checkpoint` reads and writes training checkpoints as numpy arrays;
- :mod:`recship.serving` starts a model server in this process and calls one.

Errors are :class:`recship.errors.Error` subclasses carrying the library's message.
"""

import os as _os
import sys as _sys

# The extension resolves its own libraries' symbols first (RTLD_DEEPBIND):
# TensorFlow, loaded in the same process, exports protobuf, gRPC and Abseil
# symbols of other versions than the system's ones recship links.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_DEEPBIND)
try:
    from recship import _recship  # noqa: F401
finally:
    _sys.setdlopenflags(_flags)

from recship import errors

__version__ = "0.1.0"
__all__ = ["errors", "__version__"]
