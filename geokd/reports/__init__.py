"""Reports of trained runs: confusion matrices, per-class scores, embedding plots."""

from .report import (
    diagnostics,
    discomkd_embeddings,
    per_class_table,
    plot_confusion,
    plot_embeddings,
    write_report,
)

__all__ = [
    'diagnostics',
    'discomkd_embeddings',
    'per_class_table',
    'plot_confusion',
    'plot_embeddings',
    'write_report',
]
