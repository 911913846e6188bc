"""Whole-scene prediction with an exported single-sensor classifier (``geokd predict``).

A scene passes through three stages, one sub-package each: :mod:`.scene` resolves
what the user named (paths, folders of band files, URLs, STAC) once and opens it with
the model's bands at its resolution; :mod:`.engine` cuts it into the patch grid and
classifies it window by window; :mod:`.output` writes the outputs, resumably and under
a lock. :mod:`.pipeline` ties them together, :mod:`.workers` runs many scenes at once
and :mod:`.cli` is the command line.

The public names are imported on first use, so that ``geokd predict --help`` (which
imports :mod:`geokd.predict.cli`, and so this package) imports neither torch nor
rasterio.
"""

from typing import TYPE_CHECKING

from ..errors import PredictError
from ..lazy import lazy_attributes

if TYPE_CHECKING:
    from .engine.tiling import PatchGrid, grid_windows
    from .options import PredictOptions
    from .output.paths import OutputPaths
    from .pipeline import predict_scene
    from .scene.bands import resolve_bands
    from .scene.sources import SceneInput, band_files_input, scene_input

#: Public name -> the submodule that defines it.
_HOMES = {
    'OutputPaths': 'output.paths',
    'PatchGrid': 'engine.tiling',
    'PredictOptions': 'options',
    'SceneInput': 'scene.sources',
    'band_files_input': 'scene.sources',
    'grid_windows': 'engine.tiling',
    'predict_scene': 'pipeline',
    'resolve_bands': 'scene.bands',
    'scene_input': 'scene.sources',
}

__all__ = [
    'OutputPaths',
    'PatchGrid',
    'PredictError',
    'PredictOptions',
    'SceneInput',
    'band_files_input',
    'grid_windows',
    'predict_scene',
    'resolve_bands',
    'scene_input',
]

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
