"""Deployment of single-sensor classifiers: model export and whole-scene prediction."""

from .export import (
    ModelLoadError,
    ModelMetadata,
    SingleSensorClassifier,
    export_checkpoint,
    export_model,
    load_checkpoint,
    load_classifier,
    load_exported,
)
from .predict import OutputPaths, PredictError, PredictOptions, predict_scene
from .tiling import PatchGrid, grid_windows

__all__ = [
    'ModelLoadError',
    'ModelMetadata',
    'OutputPaths',
    'PatchGrid',
    'PredictError',
    'PredictOptions',
    'SingleSensorClassifier',
    'export_checkpoint',
    'export_model',
    'grid_windows',
    'load_checkpoint',
    'load_classifier',
    'load_exported',
    'predict_scene',
]
