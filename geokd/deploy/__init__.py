"""Deployment of single-sensor classifiers: model export and whole-scene prediction.

The public names are imported on first use, so that ``geokd predict --help`` (which
imports :mod:`geokd.deploy.cli`, and so this package) imports neither torch nor
rasterio.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bands import resolve_bands
    from .export import (
        SingleSensorClassifier,
        export_checkpoint,
        export_model,
        load_checkpoint,
        load_classifier,
        load_exported,
    )
    from .metadata import ModelLoadError, ModelMetadata
    from .options import PredictError, PredictOptions
    from .outputs import OutputPaths
    from .predict import predict_scene
    from .sources import SceneInput, band_files_input, scene_input
    from .tiling import PatchGrid, grid_windows

#: Public name -> the submodule that defines it.
_HOMES = {
    'ModelLoadError': 'metadata',
    'ModelMetadata': 'metadata',
    'OutputPaths': 'outputs',
    'PatchGrid': 'tiling',
    'PredictError': 'options',
    'PredictOptions': 'options',
    'SceneInput': 'sources',
    'SingleSensorClassifier': 'export',
    'band_files_input': 'sources',
    'export_checkpoint': 'export',
    'export_model': 'export',
    'grid_windows': 'tiling',
    'load_checkpoint': 'export',
    'load_classifier': 'export',
    'load_exported': 'export',
    'predict_scene': 'predict',
    'resolve_bands': 'bands',
    'scene_input': 'sources',
}

__all__ = [
    'ModelLoadError',
    'ModelMetadata',
    'OutputPaths',
    'PatchGrid',
    'PredictError',
    'PredictOptions',
    'SceneInput',
    'SingleSensorClassifier',
    'band_files_input',
    'export_checkpoint',
    'export_model',
    'grid_windows',
    'load_checkpoint',
    'load_classifier',
    'load_exported',
    'predict_scene',
    'resolve_bands',
    'scene_input',
]


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule on first use.

    Args:
        name: The attribute.

    Returns:
        Its value.

    Raises:
        AttributeError: If the package has no such public name.
    """
    if name not in _HOMES:
        msg = f'module {__name__!r} has no attribute {name!r}'
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f'.{_HOMES[name]}', __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
