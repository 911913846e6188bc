"""The files a prediction run writes: names, working rasters, and finishing.

Windows are written into tiled working GeoTIFFs in the run's partial directory; when
every window is done they are converted to Cloud-Optimized GeoTIFFs under temporary
names and only then renamed to their final names, so a file with a final name is
always complete.
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from torch import Tensor

import geokd

from . import writers
from .options import PredictError
from .tiling import GridWindow


@dataclass(frozen=True)
class OutputPaths:
    """Files written for one scene, from a prefix ``dir/name``.

    Attributes:
        prefix: Output prefix.
    """

    prefix: Path

    def _file(self, suffix: str) -> Path:
        return self.prefix.with_name(self.prefix.name + suffix)

    @property
    def classes(self) -> Path:
        """Class map COG."""
        return self._file('_classes.tif')

    @property
    def style(self) -> Path:
        """QGIS style of the class map."""
        return self._file('_classes.qml')

    @property
    def confidence(self) -> Path:
        """Confidence (maximum probability) COG."""
        return self._file('_confidence.tif')

    @property
    def probabilities(self) -> Path:
        """All class probabilities COG."""
        return self._file('_probabilities.tif')

    @property
    def polygons(self) -> Path:
        """GeoPackage of class polygons."""
        return self._file('_classes.gpkg')

    @property
    def summary(self) -> Path:
        """JSON summary, written last: its presence means the run completed."""
        return self._file('_summary.json')

    @property
    def partial(self) -> Path:
        """Directory of the unfinished run (working rasters and progress)."""
        return self.prefix.with_name(f'.{self.prefix.name}.partial')

    @property
    def progress(self) -> Path:
        """Progress of the unfinished run, in its partial directory."""
        return self.partial / 'progress.json'


def prepare_output_dir(paths: OutputPaths) -> None:
    """Create the output directory and check that it is writable.

    Args:
        paths: The outputs.

    Raises:
        PredictError: If the directory cannot be created or written to.
    """
    directory = paths.prefix.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f'{directory}: output directory cannot be created ({err.strerror})'
        raise PredictError(msg) from err
    if not os.access(directory, os.W_OK | os.X_OK):
        msg = f'{directory}: output directory is not writable'
        raise PredictError(msg)


def class_map(probs: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class map and confidence of mean class probabilities.

    Args:
        probs: Probabilities ``(K, rows, cols)``, NaN where no patch was classified.

    Returns:
        Classes (uint8, :data:`~geokd.deploy.writers.CLASS_NODATA` where invalid),
        confidence (the maximum probability, NaN where invalid) and the valid cells.
    """
    valid = ~probs.isnan().any(0)
    confidence, classes = probs.nan_to_num(0).max(0)
    classes = torch.where(valid, classes, writers.CLASS_NODATA).numpy().astype(np.uint8)
    confidence = torch.where(valid, confidence, torch.nan).numpy()
    return classes, confidence, valid.numpy()


class WorkingRasters:
    """The run's working GeoTIFFs, written window by window, then finished as COGs.

    Args:
        partial: The run's partial directory.
        probabilities: Also write every class probability.
    """

    def __init__(self, partial: Path, probabilities: bool) -> None:
        self.files = {
            'classes': partial / 'classes.tif',
            'confidence': partial / 'confidence.tif',
        }
        if probabilities:
            self.files['probabilities'] = partial / 'probabilities.tif'
        self.partial = partial

    def create(
        self,
        grid: dict[str, Any],
        block: int,
        class_names: Sequence[str],
        modality: str,
        scene: Path,
    ) -> None:
        """Create the empty rasters, with colours, names and descriptions.

        Args:
            grid: ``crs``, ``transform``, ``width`` and ``height`` of the output grid.
            block: Tile size (a multiple of 16): the window size in cells.
            class_names: Class names in label order.
            modality: The model's modality.
            scene: The scene (its name is recorded).
        """
        names = list(class_names)
        tags = {
            'CLASS_NAMES': json.dumps(names),
            'MODALITY': modality,
            'SOURCE_SCENE': scene.name,
            'GEOKD_VERSION': geokd.__version__,
        }
        profile = writers.working_profile(grid, 1, 'uint8', writers.CLASS_NODATA, block)
        with rasterio.open(self.files['classes'], 'w', **profile) as dst:
            dst.write_colormap(1, writers.class_colors(len(names)))
            dst.set_band_description(1, 'class')
            dst.update_tags(**tags, **{f'CLASS_{i}': n for i, n in enumerate(names)})
        profile = writers.working_profile(grid, 1, 'float32', np.nan, block)
        with rasterio.open(self.files['confidence'], 'w', **profile) as dst:
            dst.set_band_description(1, 'confidence (max class probability)')
            dst.update_tags(**tags)
        if 'probabilities' in self.files:
            profile = writers.working_profile(
                grid, len(names), 'float32', np.nan, block
            )
            with rasterio.open(self.files['probabilities'], 'w', **profile) as dst:
                for i, name in enumerate(names):
                    dst.set_band_description(i + 1, name)
                dst.update_tags(**tags)

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
        with rasterio.open(self.files['classes'], 'r+') as dst:
            dst.write(classes, 1, window=w.cells)
        with rasterio.open(self.files['confidence'], 'r+') as dst:
            dst.write(confidence, 1, window=w.cells)
        if 'probabilities' in self.files:
            with rasterio.open(self.files['probabilities'], 'r+') as dst:
                dst.write(probs.numpy(), window=w.cells)

    def finish(
        self, paths: OutputPaths, class_names: Sequence[str], polygons: bool
    ) -> dict[str, str]:
        """Convert the rasters to COGs under temporary names, then rename them all.

        Args:
            paths: The final outputs.
            class_names: Class names in label order (for the style and polygons).
            polygons: Also write the class map's polygons.

        Returns:
            Path of each output written, by name; the summary's path comes last
            (the caller writes it).
        """
        finals = {
            'classes': paths.classes,
            'confidence': paths.confidence,
            'probabilities': paths.probabilities,
        }
        ready = {}
        for name, source in self.files.items():
            tmp = self.partial / f'{name}.cog.tif'
            writers.to_cog(source, tmp, 'NEAREST' if name == 'classes' else 'AVERAGE')
            ready[name] = tmp
        for name, tmp in ready.items():
            os.replace(tmp, finals[name])
        writers.write_qml(paths.style, class_names)
        outputs = {name: str(finals[name]) for name in ready}
        outputs['style'] = str(paths.style)
        if polygons:
            writers.write_polygons(
                paths.polygons, paths.classes, paths.confidence, class_names
            )
            outputs['polygons'] = str(paths.polygons)
        outputs['summary'] = str(paths.summary)
        return outputs
