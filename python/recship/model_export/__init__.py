"""Monolith's ``model_export`` API over recship's exporters.

A script written for Monolith reads the same with ``recship.model_export``::

    from recship.model_export import delta_exporter, export_context, saved_model_exporters
from recship.model_export.delta_exporter import export_delta
    from recship.model_export.export_context import ExportMode

The names, keywords and defaults are the original's; where recship adds a
keyword or behaves differently, the class or function says so.
:func:`export_delta` (``delta_exporter``) is recship's own: fresh rows for
running servers without a full export.
"""

from recship.model_export import delta_exporter, export_context, saved_model_exporters
from recship.model_export.delta_exporter import export_delta
from recship.model_export.export_context import (
    ExportContext,
    ExportMode,
    enter_export_mode,
    get_current_export_ctx,
    is_exporting,
    is_exporting_distributed,
    is_exporting_standalone,
)
from recship.model_export.saved_model_exporters import DistributedExporter, StandaloneExporter

__all__ = [
    "DistributedExporter",
    "ExportContext",
    "ExportMode",
    "StandaloneExporter",
    "delta_exporter",
    "export_delta",
    "enter_export_mode",
    "export_context",
    "get_current_export_ctx",
    "is_exporting",
    "is_exporting_distributed",
    "is_exporting_standalone",
    "saved_model_exporters",
]
