"""File formats of ``geokd predict``'s outputs: COGs, QGIS style, polygons, JSON.

Every file is written under a temporary name in its final directory and renamed,
so a file with its final name is always complete, and the temporary file is created
exclusively (never through a symbolic link someone left at its name).
"""

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil

#: Output nodata of a class map of up to 255 classes (uint8, classes 0..254).
CLASS_NODATA = 255
#: Output nodata of a class map of more classes (uint16, classes 0..65534).
CLASS_NODATA_16 = 65535


def class_encoding(num_classes: int) -> tuple[str, int]:
    """Data type and nodata value of a class map that holds every class.

    Args:
        num_classes: Number of classes (at most 65535).

    Returns:
        ``('uint8', 255)`` up to 255 classes, else ``('uint16', 65535)``.

    Raises:
        ValueError: If there are more classes than uint16 holds beside nodata.
    """
    if num_classes <= CLASS_NODATA:
        return 'uint8', CLASS_NODATA
    if num_classes <= CLASS_NODATA_16:
        return 'uint16', CLASS_NODATA_16
    msg = f'{num_classes} classes: a class map holds at most {CLASS_NODATA_16}'
    raise ValueError(msg)


#: Colours of the classes (matplotlib's tab20, reordered for contrast), cycled.
PALETTE = (
    (31, 119, 180), (44, 160, 44), (188, 189, 34), (127, 127, 127), (214, 39, 40),
    (152, 223, 138), (140, 86, 75), (255, 127, 14), (23, 190, 207), (174, 199, 232),
    (148, 103, 189), (227, 119, 194), (255, 187, 120), (197, 176, 213), (196, 156, 148),
    (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229), (255, 152, 150),
)  # fmt: skip


def class_colors(num_classes: int) -> dict[int, tuple[int, int, int, int]]:
    """Colour table of a class map.

    Args:
        num_classes: Number of classes.

    Returns:
        RGBA per class value, with the nodata value transparent.
    """
    colors = {i: (*PALETTE[i % len(PALETTE)], 255) for i in range(num_classes)}
    colors[class_encoding(num_classes)[1]] = (0, 0, 0, 0)
    return colors


def working_profile(
    profile: dict[str, Any], count: int, dtype: str, nodata: float, block: int
) -> dict[str, Any]:
    """Profile of a tiled GeoTIFF written window by window before conversion to COG.

    Args:
        profile: ``crs``, ``transform``, ``width`` and ``height`` of the output grid.
        count: Number of bands.
        dtype: Data type.
        nodata: Nodata value.
        block: Tile size (a multiple of 16), the window size.

    Returns:
        The rasterio profile.
    """
    return {
        **profile,
        'driver': 'GTiff',
        'count': count,
        'dtype': dtype,
        'nodata': nodata,
        'tiled': True,
        'blockxsize': block,
        'blockysize': block,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }


def overview_count(height: int, width: int) -> int:
    """Internal overview levels of a COG: halving until about 4 cells across.

    GDAL's COG driver makes overviews only for rasters larger than one 128-pixel
    tile by default, so the class map of a whole scene (often fewer cells) had none;
    every map gets them down to a few cells.

    Args:
        height: Rows.
        width: Columns.

    Returns:
        The number of levels (0 for a raster of one cell across).
    """
    side = max(height, width)
    return max(1, math.ceil(math.log2(side / 4))) if side > 1 else 0


def to_cog(
    source: Path, destination: Path, resampling: str, overviews: str | None = None
) -> None:
    """Convert a finished working GeoTIFF to a Cloud-Optimized GeoTIFF and verify it.

    Args:
        source: The working GeoTIFF.
        destination: The COG to write (a temporary name; the caller renames it).
        resampling: Resampling of the conversion ('NEAREST' for classes).
        overviews: Resampling of the internal overviews (:func:`overview_count`
            levels): 'MODE' for classes (the most frequent class of the cells
            below), 'AVERAGE' otherwise; None takes ``resampling``.

    Raises:
        OSError: If the written file is not a valid COG matching the source.
    """
    with rasterio.open(source) as src:
        levels = overview_count(src.height, src.width)
    rasterio.shutil.copy(
        source,
        destination,
        driver='COG',
        COMPRESS='DEFLATE',
        BLOCKSIZE=128,
        RESAMPLING=resampling,
        OVERVIEW_RESAMPLING=overviews or resampling,
        OVERVIEW_COUNT=levels,
        **({} if levels else {'OVERVIEWS': 'NONE'}),
        BIGTIFF='IF_SAFER',
    )
    with rasterio.open(source) as src, rasterio.open(destination) as dst:
        layout = dst.tags(ns='IMAGE_STRUCTURE').get('LAYOUT')
        if (
            layout != 'COG'
            or dst.shape != src.shape
            or dst.count != src.count
            or dst.crs != src.crs
            or dst.transform != src.transform
        ):
            msg = f'{destination}: the written COG does not match {source}'
            raise OSError(msg)


def write_qml(path: Path, class_names: Sequence[str]) -> None:
    """Write a QGIS style beside a class map so QGIS shows the class names.

    QGIS loads ``<raster name>.qml`` automatically when the raster is opened.

    Args:
        path: The ``.qml`` file.
        class_names: Class names in label order.
    """
    colors = class_colors(len(class_names))
    entries = '\n'.join(
        f'        <paletteEntry value="{i}" color="#{r:02x}{g:02x}{b:02x}" '
        f'alpha="255" label={quoteattr(name)}/>'
        for i, name in enumerate(class_names)
        for r, g, b, _ in [colors[i]]
    )
    write_text(
        path,
        '<!DOCTYPE qgis>\n<qgis version="3.28">\n  <pipe>\n'
        '    <rasterrenderer type="paletted" band="1" opacity="1">\n'
        f'      <colorPalette>\n{entries}\n      </colorPalette>\n'
        '    </rasterrenderer>\n  </pipe>\n</qgis>\n',
    )


def write_categories(path: Path, class_names: Sequence[str]) -> None:
    """Write GDAL category names beside a class map (``<class map>.aux.xml``).

    GDAL (and every reader built on it: QGIS, ArcGIS, rasterio's VRTs, gdalinfo)
    reads a raster's category names from this PAM sidecar; GeoTIFF has no place for
    them inside the file.

    Args:
        path: The sidecar, ``<class map file name>.aux.xml``.
        class_names: Class names in label order (category ``i`` is value ``i``).
    """
    categories = ''.join(
        f'      <Category>{escape(name)}</Category>\n' for name in class_names
    )
    write_text(
        path,
        '<PAMDataset>\n  <PAMRasterBand band="1">\n    <CategoryNames>\n'
        f'{categories}    </CategoryNames>\n  </PAMRasterBand>\n</PAMDataset>\n',
    )


def write_polygons(
    path: Path,
    classes_path: Path,
    confidence_path: Path,
    class_names: Sequence[str],
) -> int:
    """Vectorise a class map into a GeoPackage of polygons.

    Each polygon is a 4-connected region of one class, with its class name, mean
    confidence and area. The class map is read whole (one byte per output cell).

    Args:
        path: The GeoPackage to write.
        classes_path: The class map.
        confidence_path: The confidence raster on the same grid.
        class_names: Class names in label order.

    Returns:
        The number of polygons.
    """
    import geopandas as gpd
    from shapely.geometry import shape

    with rasterio.open(classes_path) as src, rasterio.open(confidence_path) as conf:
        classes = src.read(1)
        confidence = conf.read(1)
        transform, crs, nodata = src.transform, src.crs, src.nodata
    geoms, values = [], []
    for geom, value in rasterio.features.shapes(
        classes, mask=classes != nodata, transform=transform
    ):
        geoms.append(geom)
        values.append(int(value))
    ids = rasterio.features.rasterize(
        zip(geoms, range(1, len(geoms) + 1), strict=True),
        out_shape=classes.shape,
        transform=transform,
        dtype='int32',
    )
    valid = np.isfinite(confidence) & (ids > 0)
    sums = np.bincount(ids[valid], confidence[valid], minlength=len(geoms) + 1)
    counts = np.bincount(ids[valid], minlength=len(geoms) + 1)
    mean = sums[1:] / np.maximum(counts[1:], 1)
    frame = gpd.GeoDataFrame(
        {
            'class_id': values,
            'class_name': [class_names[v] for v in values],
            'confidence': mean.astype('float32'),
            'cells': counts[1:],
        },
        geometry=[shape(g) for g in geoms],
        crs=crs,
    )
    write_atomic(path, lambda tmp: _to_gpkg(frame, tmp))
    return len(frame)


def _to_gpkg(frame: Any, path: Path) -> None:
    """Write a GeoDataFrame as a GeoPackage; failures are OSErrors."""
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        frame.to_file(path, driver='GPKG', layer='classes')
    except (DataSourceError, DataLayerError) as err:  # e.g. a full disk
        raise OSError(str(err).splitlines()[0]) from err


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path``, then rename it.

    The temporary file is in a new directory with a random name, so nothing left at
    a predictable name (a symbolic link to someone's file) is written through; the
    rename replaces a link at ``path`` itself, never what it points to.

    Args:
        path: Destination.
        write: Writes the file at the path it is given (same name as ``path``, in a
            directory of its own).
    """
    directory = Path(tempfile.mkdtemp(dir=path.parent, prefix=f'.{path.name}.'))
    try:
        tmp = directory / path.name
        write(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (see :func:`write_atomic`).

    Args:
        path: Destination.
        text: Its content.
    """
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (see :func:`write_atomic`).

    Args:
        path: Destination.
        data: JSON-compatible data.
    """
    write_text(path, json.dumps(data, indent=2))
