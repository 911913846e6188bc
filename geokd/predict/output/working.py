"""The run's working rasters: written window by window, checked on resume, staged.

Windows are written into tiled working GeoTIFFs in the run's partial directory; when
every window is done they are converted to Cloud-Optimized GeoTIFFs, still in the
partial directory, for :func:`~geokd.predict.output.paths.commit` to move in.
"""

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from torch import Tensor

import geokd

from ..engine.tiling import GridWindow
from ..scene.sources import Location
from . import writers
from .io_errors import FAILURES, writing
from .paths import OutputPaths


def class_map(
    probs: Tensor, dtype: str = 'uint8', nodata: int = writers.CLASS_NODATA
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class map and confidence of mean class probabilities.

    Args:
        probs: Probabilities ``(K, rows, cols)``, NaN where no patch was classified.
        dtype: Data type of the class map (see
            :func:`~geokd.predict.output.writers.class_encoding`).
        nodata: Its nodata value.

    Returns:
        Classes (``nodata`` where invalid), confidence (the maximum probability, NaN
        where invalid) and the valid cells.
    """
    valid = ~probs.isnan().any(0)
    confidence, classes = probs.nan_to_num(0).max(0)
    class_map = torch.where(valid, classes, nodata).numpy().astype(dtype)
    confidence_map = torch.where(valid, confidence, torch.nan).numpy()
    return class_map, confidence_map, valid.numpy()


class WorkingRasters:
    """The run's working GeoTIFFs, written window by window, then staged as COGs.

    Args:
        partial: The run's partial directory.
        probabilities: Also write every class probability.
        num_classes: Number of classes (sets the class map's data type).
    """

    def __init__(self, partial: Path, probabilities: bool, num_classes: int) -> None:
        self.files = {
            'classes': partial / 'classes.tif',
            'confidence': partial / 'confidence.tif',
        }
        if probabilities:
            self.files['probabilities'] = partial / 'probabilities.tif'
        self.partial = partial
        self.num_classes = num_classes
        self.dtype, self.nodata = writers.class_encoding(num_classes)

    def _profiles(self, grid: dict[str, Any], block: int) -> dict[str, dict[str, Any]]:
        """The rasterio profile of each file."""
        k = self.num_classes
        profiles = {
            'classes': writers.working_profile(grid, 1, self.dtype, self.nodata, block),
            'confidence': writers.working_profile(grid, 1, 'float32', np.nan, block),
            'probabilities': writers.working_profile(grid, k, 'float32', np.nan, block),
        }
        return {name: profiles[name] for name in self.files}

    def create(
        self,
        grid: dict[str, Any],
        block: int,
        class_names: Sequence[str],
        modality: str,
        scene: Location,
        evaluation: str = 'patch',
    ) -> None:
        """Create the empty rasters, with colours, names and descriptions.

        Args:
            grid: ``crs``, ``transform``, ``width`` and ``height`` of the output grid.
            block: Tile size (a multiple of 16): the window size in cells.
            class_names: Class names in label order.
            modality: The model's modality.
            scene: The scene (its name is recorded).
            evaluation: How the cells were classified ('patch', 'dense', or
                'segmenter': per pixel).
        """
        names = list(class_names)
        tags = {
            'CLASS_NAMES': json.dumps(names),
            'MODALITY': modality,
            'SOURCE_SCENE': scene.name,
            'EVALUATION': evaluation,
            'GEOKD_VERSION': geokd.__version__,
        }
        for name, profile in self._profiles(grid, block).items():
            path = self.files[name]
            path.unlink(missing_ok=True)
            with writing(path), rasterio.open(path, 'w', **profile) as dst:
                dst.update_tags(**tags)
                if name == 'classes':
                    dst.write_colormap(1, writers.class_colors(len(names)))
                    dst.set_band_description(1, 'class')
                    dst.update_tags(**{f'CLASS_{i}': n for i, n in enumerate(names)})
                elif name == 'confidence':
                    dst.set_band_description(1, 'confidence (max class probability)')
                else:
                    for i, n in enumerate(names):
                        dst.set_band_description(i + 1, n)
            with writing(path), rasterio.open(path):  # a full disk may leave it broken
                pass

    def write_window(
        self, w: GridWindow, classes: np.ndarray, confidence: np.ndarray, probs: Tensor
    ) -> None:
        """Write one window of every raster.

        Each file is closed after writing, so the window is on disk before the
        progress file says it is done.

        Args:
            w: The window.
            classes: Its class map.
            confidence: Its confidence.
            probs: Its class probabilities ``(K, rows, cols)``.
        """
        data = {'classes': classes[None], 'confidence': confidence[None]}
        if 'probabilities' in self.files:
            data['probabilities'] = probs.numpy()
        for name, values in data.items():
            path = self.files[name]
            with writing(path), rasterio.open(path, 'r+') as dst:
                dst.write(values, window=w.cells)

    def damage(
        self, grid: dict[str, Any], block: int, done: Sequence[GridWindow]
    ) -> str | None:
        """What is wrong with the rasters of an interrupted run, if anything.

        A run stopped by a full disk or a crash while a file was written may leave it
        unreadable; every window done is read back.

        Args:
            grid: The output grid (as for :meth:`create`).
            block: Tile size.
            done: The windows the progress file says are written.

        Returns:
            None when every file is as :meth:`create` made it and every window done
            reads back, else what is wrong.
        """
        for name, profile in self._profiles(grid, block).items():
            path = self.files[name]
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    return f'{path.name} is not a regular file'
                with rasterio.open(path) as src:
                    if (src.count, src.dtypes[0], src.shape, src.block_shapes[0]) != (
                        profile['count'],
                        profile['dtype'],
                        (profile['height'], profile['width']),
                        (block, block),
                    ):
                        return f'{path.name} has another layout'
                    for w in done:
                        src.read(window=w.cells)
            except FAILURES as err:
                return f'{path.name} is unreadable ({str(err).splitlines()[0]})'
        return None

    def stage(
        self, paths: OutputPaths, class_names: Sequence[str], polygons: bool
    ) -> list[str]:
        """Write the outputs, complete, in the partial directory.

        Args:
            paths: The outputs.
            class_names: Class names in label order (for the style and polygons).
            polygons: Also write the class map's polygons.

        Returns:
            The names of the outputs staged (all but the summary).
        """
        for name, source in self.files.items():
            staged = paths.staged(name)
            staged.unlink(missing_ok=True)
            how = ('NEAREST', 'MODE') if name == 'classes' else ('AVERAGE', 'AVERAGE')
            with writing(staged):
                writers.to_cog(source, staged, *how)
        names = list(self.files)
        with writing(paths.staged('style')):
            writers.write_qml(paths.staged('style'), class_names)
        with writing(paths.staged('categories')):
            writers.write_categories(paths.staged('categories'), class_names)
        names += ['style', 'categories']
        if polygons:
            with writing(paths.staged('polygons')):
                writers.write_polygons(
                    paths.staged('polygons'),
                    paths.staged('classes'),
                    paths.staged('confidence'),
                    class_names,
                )
            names.append('polygons')
        return names


def count_classes(path: Path, num_classes: int) -> list[int]:
    """Cells of each class in a class map, read block by block.

    Args:
        path: The class map.
        num_classes: Number of classes.

    Returns:
        Cells per class (longer when a cell holds a value that is no class).
    """
    counts = np.zeros(num_classes, np.int64)
    with rasterio.open(path) as src:
        for _, window in src.block_windows(1):
            classes = src.read(1, window=window)
            found = np.bincount(classes[classes != src.nodata], minlength=num_classes)
            if len(found) > num_classes:  # a value that is no class: never equal
                return found.tolist()
            counts += found
    return counts.tolist()
