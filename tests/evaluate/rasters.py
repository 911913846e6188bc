"""Small georeferenced class maps and reference rasters for the evaluate tests."""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

#: A UTM zone (metres) and the map's grid: 100 m cells from (500000, 4000000).
UTM = CRS.from_epsg(32631)
ORIGIN = (500_000.0, 4_000_000.0)
NAMES = ('dry', 'partly flooded', 'flooded')


def write_raster(
    path: Path,
    data: np.ndarray,
    transform: Affine | None,
    crs: CRS | None = UTM,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a GeoTIFF of one or more bands.

    Args:
        path: The file.
        data: ``(H, W)`` or ``(C, H, W)`` values.
        transform: Its transform (None: none written).
        crs: Its CRS (None: none written).
        nodata: Its nodata value.
        tags: Dataset tags.

    Returns:
        The file.
    """
    bands = data[None] if data.ndim == 2 else data
    profile = {
        'driver': 'GTiff', 'height': bands.shape[1], 'width': bands.shape[2],
        'count': bands.shape[0], 'dtype': bands.dtype.name, 'nodata': nodata,
        **({'crs': crs} if crs is not None else {}),
        **({'transform': transform} if transform is not None else {}),
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(bands)
        if tags:
            dst.update_tags(**tags)
    return path


def write_map(
    path: Path,
    classes: np.ndarray,
    cell: float = 100.0,
    names: Sequence[str] = NAMES,
    crs: CRS | None = UTM,
) -> Path:
    """Write a class map as ``geokd predict`` does: uint8, nodata 255, named classes.

    Args:
        path: The file.
        classes: ``(H, W)`` classes, 255 for nodata.
        cell: Cell size in metres.
        names: Class names.
        crs: Its CRS.

    Returns:
        The file.
    """
    transform = Affine(cell, 0, ORIGIN[0], 0, -cell, ORIGIN[1])
    tags = {'CLASS_NAMES': json.dumps(list(names))}
    return write_raster(path, classes.astype('uint8'), transform, crs, 255, tags)


def pixel_transform(size: float = 10.0) -> Affine:
    """Transform of a reference of ``size`` m pixels on the map's origin.

    Args:
        size: Pixel size in metres.

    Returns:
        The transform.
    """
    return Affine(size, 0, ORIGIN[0], 0, -size, ORIGIN[1])
