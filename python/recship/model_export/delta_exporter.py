"""Delta exports: the rows of a newer checkpoint that differ from what a
published version serves, for running servers to apply while they serve
(``recship export --mode delta``; docs/freshness.md).

Not part of Monolith's API: recship's own, for trainers that ship fresh
embeddings without a full export.
"""

import os
from typing import Any, Dict, Optional

from recship import _recship

__all__ = ["export_delta"]


def export_delta(model_dir, export_dir_base, checkpoint_path=None, *,
                 base_version: Optional[int] = None,
                 since_time: Optional[int] = None) -> Dict[str, Any]:
    """Writes the next delta of each sub-model that serves tables under
    ``export_dir_base`` (the standalone model, or each ``ps_<i>``).

    Args:
      model_dir: the training folder; its newest checkpoint unless
        ``checkpoint_path`` names one.
      export_dir_base: where the served version was exported.
      base_version: the served version; default the newest published.
      since_time: rows updated (by the checkpoint's ``-timestamps``) before
        this Unix time are taken as served already.

    Returns ``{"checkpoint", "base_version", "deltas": [{"path", "sequence",
    "tables": {table: (rows, deleted)}}], "seconds"}``. Errors name the
    folder, table or tensor at fault; a failed delta publishes nothing.
    """
    return _recship._export_delta(os.fspath(model_dir),
                                  None if checkpoint_path is None else os.fspath(checkpoint_path),
                                  os.fspath(export_dir_base), base_version, since_time)
