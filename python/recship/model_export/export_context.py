"""Export mode (Monolith's ``model_export.export_context``).

While a model is exported, layers ask which mode they build for: standalone
(one graph) or distributed (an entry graph plus parameter-server sub-graphs,
held by the :class:`ExportContext`). The mode belongs to the thread that
entered it, so exports on two threads never see each other.
"""

import contextlib
from typing import Iterator, Optional

from recship import _recship
from recship._recship import (
    ExportContext,
    ExportMode,
    get_current_export_ctx,
    is_exporting,
    is_exporting_distributed,
    is_exporting_standalone,
)

__all__ = [
    "ExportContext",
    "ExportMode",
    "enter_export_mode",
    "get_current_export_ctx",
    "is_exporting",
    "is_exporting_distributed",
    "is_exporting_standalone",
]


@contextlib.contextmanager
def enter_export_mode(mode: ExportMode,
                      export_ctx: Optional[ExportContext] = None) -> Iterator[None]:
    """Enters export mode ``mode`` on this thread for the ``with`` block.

    Layers built inside build for ``mode``; ``export_ctx`` is the context
    :func:`get_current_export_ctx` returns there. Entering while already
    exporting raises :class:`recship.errors.FailedPreconditionError`. The
    exporters enter export mode themselves: this is for code that builds
    graphs of its own.
    """
    handle = _recship._enter_export_mode(mode, export_ctx)
    try:
        yield
    finally:
        handle.exit()
