"""What a run says about its scene and model: warnings, its first line, summary parts."""

import warnings
from typing import Any

from ..export.classifier import SingleSensorClassifier
from ..export.metadata import ModelMetadata
from .engine.tiling import PatchGrid
from .scene.opening import Scene
from .scene.resampling import describe_cell, describe_pixel


def warn_if_synthetic_model(
    classifier: SingleSensorClassifier, scene: Scene, stacklevel: int = 2
) -> None:
    """Warn when a model trained on synthetic data classifies a scene that is not.

    Args:
        classifier: The classifier.
        scene: The scene (geokd's synthetic scenes are tagged ``SYNTHETIC``).
        stacklevel: As for :func:`warnings.warn`, counted from the caller.
    """
    meta = classifier.metadata
    if meta.synthetic and not scene.synthetic:
        data = meta.training_data.dataset if meta.training_data else None
        warnings.warn(
            f'the {meta.modality} model was trained on SYNTHETIC data ({data}): it '
            'labels real scenes with the classes of simulated patches, which say '
            'nothing reliable about real land cover; train on real data for real maps',
            stacklevel=stacklevel + 1,
        )


def tile_unit(meta: ModelMetadata) -> int:
    """What a segmenter's tiles must be a multiple of: ``2 ** encoder_depth`` pixels.

    Args:
        meta: The model's metadata.

    Returns:
        The unit in pixels (1 for a classifier).
    """
    return 2 ** (meta.encoder_depth or 0) if meta.kind == 'segmenter' else 1


def _cell(scene: Scene, grid: PatchGrid, kind: str) -> str:
    """What one output cell is, in words, for a classifier or a segmenter."""
    if kind == 'segmenter':
        return describe_pixel(grid.patch_size, scene.resolution)
    return describe_cell(grid.patch_size, grid.stride, scene.resolution)


def announce(scene: Scene, grid: PatchGrid, kind: str = 'classifier') -> str:
    """The line printed before a run: band mapping, output cell, resampling.

    Args:
        scene: The opened scene.
        grid: Its patch grid.
        kind: The model's kind, 'classifier' or 'segmenter'.

    Returns:
        One line.
    """
    cell = _cell(scene, grid, kind)
    read = ''
    if scene.grid is not None:
        read = f"; read at the model's resolution from {_size(scene)} pixels"
        if scene.grid.reprojected_from is not None:
            read += (
                f' in {scene.grid.reprojected_from.to_string()}, reprojected to '
                f'{scene.grid.crs.to_string()}'
            )
    return (
        f'{scene.source}: bands (model <- scene) {scene.describe_bands()}; {cell}{read}'
    )


def _size(scene: Scene) -> str:
    """The scene's own pixel size in words (``20 m``, ``7.87 x 10 m``)."""
    native = scene.native_resolution
    if native is None:
        return 'unknown'
    x, y = native
    return f'{x:.3g} m' if abs(x - y) <= 1e-3 * y else f'{x:.3g} x {y:.3g} m'


def cell_summary(
    scene: Scene, grid: PatchGrid, kind: str = 'classifier'
) -> dict[str, Any]:
    """What one output cell is, for the summary's ``grid``.

    Args:
        scene: The opened scene.
        grid: Its patch grid.
        kind: The model's kind, 'classifier' or 'segmenter'.

    Returns:
        ``pixel_size_m`` (of what was read) and ``cell``, in words.
    """
    pixel = scene.resolution
    return {
        'pixel_size_m': [round(v, 4) for v in pixel] if pixel else None,
        'cell': _cell(scene, grid, kind),
    }
