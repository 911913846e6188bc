"""File formats of ``geokd predict``'s outputs: COGs, QGIS style, polygons, JSON."""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil

#: Output nodata of the class map (uint8); classes are 0..num_classes - 1.
CLASS_NODATA = 255

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
    colors[CLASS_NODATA] = (0, 0, 0, 0)
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


def to_cog(source: Path, destination: Path, resampling: str) -> None:
    """Convert a finished working GeoTIFF to a Cloud-Optimized GeoTIFF and verify it.

    Args:
        source: The working GeoTIFF.
        destination: The COG to write (a temporary name; the caller renames it).
        resampling: Overview resampling ('NEAREST' for classes, 'AVERAGE' otherwise).

    Raises:
        OSError: If the written file is not a valid COG matching the source.
    """
    rasterio.shutil.copy(
        source,
        destination,
        driver='COG',
        COMPRESS='DEFLATE',
        BLOCKSIZE=128,
        RESAMPLING=resampling,
        OVERVIEW_RESAMPLING=resampling,
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
        '        <paletteEntry value="{}" color="#{:02x}{:02x}{:02x}" alpha="255" '
        'label={}/>'.format(i, *colors[i][:3], quoteattr(name))
        for i, name in enumerate(class_names)
    )
    path.write_text(
        '<!DOCTYPE qgis>\n<qgis version="3.28">\n  <pipe>\n'
        '    <rasterrenderer type="paletted" band="1" opacity="1">\n'
        f'      <colorPalette>\n{entries}\n      </colorPalette>\n'
        '    </rasterrenderer>\n  </pipe>\n</qgis>\n'
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
        transform, crs = src.transform, src.crs
    geoms, values = [], []
    for geom, value in rasterio.features.shapes(
        classes, mask=classes != CLASS_NODATA, transform=transform
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
    tmp = path.with_name(f'.{path.stem}.tmp{path.suffix}')
    if tmp.exists():
        tmp.unlink()
    frame.to_file(tmp, driver='GPKG', layer='classes')
    os.replace(tmp, path)
    return len(frame)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file, so a partial file never has the name.

    Args:
        path: Destination.
        data: JSON-compatible data.
    """
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
