"""A scene opened for prediction: the model's bands, its grid and georeferencing."""

import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from .bands import resolve_bands
from .options import PredictError
from .tiling import PatchGrid


class Scene:
    """An opened raster that yields windows of the model's bands, in its order.

    Args:
        path: The scene file (for messages).
        dataset: The opened raster; closed with the scene.
        indexes: 1-based bands of ``dataset`` that feed the model, in its order.
    """

    def __init__(
        self, path: Path, dataset: rasterio.DatasetReader, indexes: list[int]
    ) -> None:
        self.path = path
        self.dataset = dataset
        self.indexes = indexes

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.dataset.close()

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.dataset.height

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.dataset.width

    @property
    def crs(self) -> CRS | None:
        """Coordinate reference system, None when the file has none."""
        return self.dataset.crs

    @property
    def transform(self) -> Affine:
        """Pixel-to-CRS transform (the identity when the file has none)."""
        return self.dataset.transform

    @property
    def nodata(self) -> float | None:
        """Nodata value of the bands."""
        return self.dataset.nodata

    @property
    def block(self) -> int:
        """Block (tile) height of the file, in pixels."""
        return self.dataset.block_shapes[0][0]

    def patch_grid(self, patch_size: int, stride: int) -> PatchGrid:
        """The grid of patches covering the scene.

        Args:
            patch_size: Patch size in pixels.
            stride: Stride in pixels.

        Returns:
            The grid.

        Raises:
            PredictError: If the stride does not divide the patch size.
        """
        try:
            return PatchGrid(self.height, self.width, patch_size, stride)
        except ValueError as err:
            raise PredictError(f'{self.path}: {err}') from err

    def read(self, window: Window) -> np.ndarray:
        """Read a window that may reach past the scene, as float32 with NaN outside.

        Args:
            window: The window, in pixels.

        Returns:
            The model's bands ``(C, height, width)``.
        """
        out = np.full(
            (len(self.indexes), int(window.height), int(window.width)),
            np.nan,
            np.float32,
        )
        inside = window.intersection(Window(0, 0, self.width, self.height))
        r = int(inside.row_off - window.row_off)
        c = int(inside.col_off - window.col_off)
        h, w = int(inside.height), int(inside.width)
        out[:, r : r + h, c : c + w] = self.dataset.read(self.indexes, window=inside)
        return out


def open_scene(
    path: Path,
    band_names: Sequence[str],
    in_channels: int,
    bands: Sequence[str | int] | None = None,
) -> Scene:
    """Open a raster and match its bands to the model's.

    Args:
        path: The scene file.
        band_names: The model's band names (may be empty).
        in_channels: Number of bands the model reads.
        bands: User selection of bands (see :func:`~geokd.deploy.resolve_bands`).

    Returns:
        The scene; close it (or use it as a context manager) when done.

    Raises:
        PredictError: If the file is missing, unreadable or its bands do not match,
            with one line naming the file.
    """
    if not path.exists():
        msg = f'{path}: no such file'
        raise PredictError(msg)
    try:
        dataset = rasterio.open(path)
    except RasterioIOError as err:
        msg = f'{path}: not a readable raster ({str(err).splitlines()[0]})'
        raise PredictError(msg) from err
    try:
        indexes = resolve_bands(
            path, dataset.descriptions, band_names, in_channels, bands
        )
    except PredictError:
        dataset.close()
        raise
    return Scene(path, dataset, indexes)


def warn_if_not_georeferenced(scene: Scene, stacklevel: int = 2) -> None:
    """Warn when the outputs will lack a CRS or a geotransform.

    Args:
        scene: The scene.
        stacklevel: As for :func:`warnings.warn`, counted from the caller of this
            function (2: the warning names the line that called the caller).
    """
    if scene.crs is None:
        warnings.warn(
            f'{scene.path}: no CRS; outputs will carry none and class areas are unknown',
            stacklevel=stacklevel + 1,
        )
    if scene.transform == Affine.identity():
        warnings.warn(
            f'{scene.path}: no geotransform; outputs are on the pixel grid',
            stacklevel=stacklevel + 1,
        )
