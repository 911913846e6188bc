"""Deployable single-sensor models: export from training, loading for prediction.

An exported model is a directory holding ``model.safetensors`` and ``model.json``.
Training (:class:`~geokd.callbacks.ExportClassifiers`, ``geokd export``) writes it and
prediction (:mod:`geokd.predict`) reads it; this package imports neither.

The public names are imported on first use, so that ``geokd export --help`` (which
imports :mod:`geokd.export.cli`, and so this package) imports no torch.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

if TYPE_CHECKING:
    from .classifier import (
        SingleSensorClassifier,
        export_checkpoint,
        export_model,
        load_classifier,
        load_exported,
    )
    from .metadata import ModelLoadError, ModelMetadata

#: Public name -> the submodule that defines it.
_HOMES = {
    'ModelLoadError': 'metadata',
    'ModelMetadata': 'metadata',
    'SingleSensorClassifier': 'classifier',
    'export_checkpoint': 'classifier',
    'export_model': 'classifier',
    'load_classifier': 'classifier',
    'load_exported': 'classifier',
}

__all__ = [
    'ModelLoadError',
    'ModelMetadata',
    'SingleSensorClassifier',
    'export_checkpoint',
    'export_model',
    'load_classifier',
    'load_exported',
]

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
