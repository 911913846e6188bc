"""Reading a class map and a reference raster, with one-line errors naming the file."""

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from geokd.errors import GeokdError


@dataclass(frozen=True)
class Grid:
    """Georeferencing of a raster.

    Attributes:
        crs: Its CRS.
        transform: Its affine transform.
        height: Rows.
        width: Columns.
    """

    crs: CRS
    transform: Affine
    height: int
    width: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in the grid's CRS."""
        xs, ys = zip(
            *(
                self.transform @ (c, r)
                for c in (0, self.width)
                for r in (0, self.height)
            ),
            strict=True,
        )
        return min(xs), min(ys), max(xs), max(ys)


@dataclass(frozen=True)
class ClassMap:
    """A class map: one class per cell, and the classes' names.

    Attributes:
        path: The file.
        classes: ``(H, W)`` class indices (meaningless where not ``valid``).
        valid: ``(H, W)`` cells that hold a class.
        names: Class names, in index order.
        grid: Its georeferencing.
        tags: Its GDAL metadata.
    """

    path: Path
    classes: np.ndarray
    valid: np.ndarray
    names: tuple[str, ...]
    grid: Grid
    tags: dict[str, str]


@dataclass(frozen=True)
class Reference:
    """A reference raster's first band and where it is labelled.

    Attributes:
        path: The file.
        values: ``(H, W)`` values.
        labelled: ``(H, W)`` pixels that are neither nodata nor an ignored value.
        names: Class names from its ``CLASS_NAMES`` tag, if any.
        grid: Its georeferencing.
    """

    path: Path
    values: np.ndarray
    labelled: np.ndarray
    names: tuple[str, ...] | None
    grid: Grid


@contextmanager
def _opened(path: Path, what: str) -> Iterator[Any]:
    """Open a raster; a missing, unreadable or truncated file is one line."""
    if not path.exists():
        msg = f'{path}: no such file (check the path)'
        raise GeokdError(msg)
    if path.is_dir():
        msg = f'{path}: is a directory (give {what})'
        raise GeokdError(msg)
    try:
        with rasterio.open(path) as src:
            yield src
    except (RasterioError, CPLE_BaseError) as err:
        why = ' '.join(str(err).split()) or type(err).__name__
        msg = f'{path}: cannot read it as a raster ({why}); give {what}'
        raise GeokdError(msg) from err


def _grid(src: Any, path: Path) -> Grid:
    if src.crs is None:
        msg = (
            f'{path}: has no coordinate reference system, so it cannot be matched to '
            'the other raster (georeference it, e.g. gdal_translate -a_srs -a_ullr)'
        )
        raise GeokdError(msg)
    return Grid(src.crs, src.transform, src.height, src.width)


def _names(text: str | None) -> tuple[str, ...] | None:
    """Class names of a ``CLASS_NAMES`` tag: a JSON list, or comma-separated."""
    if text is None:
        return None
    try:
        names = json.loads(text)
    except ValueError:
        names = text.split(',')
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return tuple(names) or None


def read_class_map(path: Path) -> ClassMap:
    """Read a class map written by ``geokd predict``.

    Args:
        path: The class map.

    Returns:
        Its classes, valid cells, class names and grid.

    Raises:
        GeokdError: If it is missing, unreadable, not one band of integers, has no
            class names or CRS, or holds a class beyond its names.
    """
    what = "a class map (geokd predict's *_classes.tif)"
    with _opened(path, what) as src:
        if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            msg = (
                f'{path}: has {src.count} band(s) of {src.dtypes[0]}; {what} has one '
                'band of integer classes'
            )
            raise GeokdError(msg)
        names = _names(src.tags().get('CLASS_NAMES'))
        if names is None:
            msg = f'{path}: has no class names (CLASS_NAMES tag); give {what}'
            raise GeokdError(msg)
        grid = _grid(src, path)
        classes = src.read(1)
        tags = src.tags()
        nodata = src.nodata
    valid = classes != nodata if nodata is not None else np.ones(classes.shape, bool)
    beyond = valid & (classes >= len(names))
    if beyond.any():
        msg = (
            f'{path}: holds class {int(classes[beyond].max())} but names '
            f'{len(names)} classes'
        )
        raise GeokdError(msg)
    return ClassMap(path, classes, valid, names, grid, tags)


def read_reference(path: Path, ignore: Sequence[float] = ()) -> Reference:
    """Read a reference raster's only band and where it is labelled.

    Args:
        path: The reference.
        ignore: Values meaning "unlabelled", besides its nodata (e.g. -1 for
            Sen1Floods11); NaN ignores NaN.

    Returns:
        Its values, labelled pixels, class names (if tagged) and grid.

    Raises:
        GeokdError: If it is missing, unreadable, has several bands or no CRS, or
            holds no labelled pixel.
    """
    what = 'a single-band reference raster (labels or a mask)'
    with _opened(path, what) as src:
        if src.count != 1:
            msg = f'{path}: has {src.count} bands; give {what}'
            raise GeokdError(msg)
        grid = _grid(src, path)
        values = src.read(1)
        nodata = src.nodata
        names = _names(src.tags().get('CLASS_NAMES'))
    labelled = np.ones(values.shape, bool)
    for value in [*ignore, *([] if nodata is None else [nodata])]:
        if isinstance(value, float) and math.isnan(value):
            if np.issubdtype(values.dtype, np.floating):
                labelled &= ~np.isnan(values)
        else:
            labelled &= values != value
    if np.issubdtype(values.dtype, np.floating):
        labelled &= np.isfinite(values)
    if not labelled.any():
        msg = f'{path}: holds no labelled pixel (all nodata or ignored values)'
        raise GeokdError(msg)
    return Reference(path, values, labelled, names, grid)
