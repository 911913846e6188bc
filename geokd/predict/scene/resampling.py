"""Reading a scene at the model's ground sample distance (GSD).

A patch of ``P`` pixels must cover the same ground as the training patches: ``P``
times the model's GSD. A scene at another resolution is therefore read through a
:class:`~rasterio.vrt.WarpedVRT` on a grid at the model's GSD: windows are resampled
as they are read, the scene is never copied. Finer pixels are averaged; coarser ones
are repeated (nearest neighbour), which keeps the measured values and their texture
(SAR speckle) that the model learnt from, where interpolation would smooth them: a
synthetic-trained demo SAR model gave the class map of a real 10 m scene on 69% of
its cells from the 20 m version read with nearest neighbour, 47% with bilinear. A scene in a geographic CRS (degrees, e.g. EPSG:4326 chips)
is reprojected to the UTM zone of its centre, where pixels are square and metric;
its outputs are then in that UTM zone. Scenes whose pixel size is within
:data:`TOLERANCE` of the GSD, scenes without CRS and models that do not record their
GSD are read as they are.
"""

import math
from dataclasses import dataclass
from typing import Any

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform, transform_bounds

#: Relative difference between a scene's pixel size and the model's GSD under which
#: the scene is read as it is (EuroSAT's tiles are 9.996 x 10.006 m).
TOLERANCE = 0.01
#: Metres per degree of latitude (WGS 84 mean), for the pixel size of geographic CRSs.
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class ReadGrid:
    """The grid a scene is read on when resampled.

    Attributes:
        crs: CRS of the grid.
        transform: Its transform (pixels of the model's GSD).
        width: Width in pixels.
        height: Height in pixels.
        resampling: How pixels are resampled.
        reprojected_from: The scene's own CRS when it was reprojected, else None.
        read_as: The CRS the scene is read in when not its own: a geographic CRS
            whose longitudes wrap around the scene's centre (``+lon_wrap``), for
            scenes that cross the antimeridian or use 0..360 longitudes.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int
    resampling: Resampling
    reprojected_from: CRS | None = None
    read_as: CRS | None = None


def pixel_size_m(dataset: Any) -> tuple[float, float] | None:
    """Pixel width and height of a raster in metres.

    Geographic CRSs are converted at the raster's central latitude.

    Args:
        dataset: An opened raster.

    Returns:
        ``(width, height)`` in metres, None without CRS.
    """
    crs, t = dataset.crs, dataset.transform
    if crs is None:
        return None
    x, y = math.hypot(t.a, t.d), math.hypot(t.b, t.e)
    if crs.is_geographic:
        _, south, _, north = transform_bounds(crs, 'EPSG:4326', *dataset.bounds)
        cos = math.cos(math.radians((south + north) / 2))
        return x * _METRES_PER_DEGREE * cos, y * _METRES_PER_DEGREE
    factor = crs.linear_units_factor[1]
    return x * factor, y * factor


def utm_zone(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """The WGS 84 UTM zone of the centre of an area.

    Args:
        crs: CRS of the bounds.
        bounds: ``(left, bottom, right, top)``.

    Returns:
        ``EPSG:326NN`` (north) or ``EPSG:327NN`` (south).
    """
    west, south, east, north = transform_bounds(crs, 'EPSG:4326', *bounds)
    lon, lat = (west + east) / 2, (south + north) / 2
    lon = (lon + 180) % 360 - 180  # 0..360 longitudes, and scenes across 180
    zone = min(60, int((lon + 180) // 6) + 1)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def read_grid(dataset: Any, gsd: float | None) -> ReadGrid | None:
    """The grid at the model's GSD a scene must be read on, None to read it as is.

    Args:
        dataset: The opened scene.
        gsd: The model's ground sample distance in metres, None when unknown.

    Returns:
        The grid, or None when the scene is already at the GSD (within
        :data:`TOLERANCE`), has no CRS, or the GSD is unknown.
    """
    size = pixel_size_m(dataset)
    if gsd is None or size is None:
        return None
    crs = dataset.crs
    rotated = bool(dataset.transform.b or dataset.transform.d)
    close = all(abs(s - gsd) <= TOLERANCE * gsd for s in size)
    if crs.is_projected and close and not rotated:
        return None
    target = utm_zone(crs, dataset.bounds) if crs.is_geographic else crs
    units = 1.0 if crs.is_geographic else crs.linear_units_factor[1]
    read_as = _wrapped(crs, dataset.bounds)
    transform, width, height = calculate_default_transform(
        read_as or crs,
        target,
        dataset.width,
        dataset.height,
        *dataset.bounds,
        resolution=gsd / units,
    )
    finer = math.sqrt(size[0] * size[1]) < gsd * (1 - TOLERANCE)
    return ReadGrid(
        target,
        transform,
        width,
        height,
        Resampling.average if finer else Resampling.nearest,
        crs if crs.is_geographic else None,
        read_as,
    )


def _wrapped(crs: CRS, bounds: Any) -> CRS | None:
    """A geographic CRS whose longitudes wrap around a scene's centre, if it needs one.

    PROJ returns longitudes in -180..180: a scene reaching past 180 (across the
    antimeridian, or in 0..360 longitudes) would lose every pixel beyond when
    warped back from the UTM grid. Other scenes need none (None), and are read
    exactly as before.
    """
    if not crs.is_geographic or -180 <= bounds[0] <= bounds[2] <= 180:
        return None
    centre = (bounds[0] + bounds[2]) / 2
    return CRS.from_proj4(f'{crs.to_proj4()} +lon_wrap={centre!r}')


def warped(dataset: rasterio.DatasetReader, grid: ReadGrid) -> WarpedVRT:
    """The scene resampled on the fly onto a grid, as float32 with NaN nodata.

    Args:
        dataset: The opened scene; its declared nodata is left out of the resampling.
        grid: The grid.

    Returns:
        The virtual raster; close it before the scene.
    """
    wrapped = {'src_crs': grid.read_as} if grid.read_as is not None else {}
    return WarpedVRT(
        dataset,
        crs=grid.crs,
        transform=grid.transform,
        width=grid.width,
        height=grid.height,
        resampling=grid.resampling,
        nodata=float('nan'),
        dtype='float32',
        **wrapped,
    )


def _metres(value: float) -> str:
    """A ground distance for people: ``640 m``, ``1.28 km``, ``0.5 m``."""
    if value >= 1000:
        return f'{value / 1000:.3g} km'
    return f'{value:.3g} m'


def _ground(pixels: int, pixel_size: tuple[float, float]) -> str:
    """The ground size of ``pixels`` pixels: ``640 m``, or ``640 m x 506 m``."""
    x, y = pixel_size
    if math.isclose(x, y, rel_tol=TOLERANCE):
        return _metres(pixels * x)
    return f'{_metres(pixels * x)} x {_metres(pixels * y)}'


def describe_cell(
    patch: int, stride: int, pixel_size: tuple[float, float] | None
) -> str:
    """What one output cell is, in words.

    Args:
        patch: Patch size in pixels.
        stride: Stride in pixels (the output cell's side).
        pixel_size: Pixel width and height in metres, None when unknown.

    Returns:
        E.g. ``one class per 64 x 64 patch = 640 m at 10 m per pixel``.
    """
    if pixel_size is None:
        at, cell, whole = ' (ground size unknown: no CRS)', '', ''
    else:
        at = f' at {_ground(1, pixel_size)} per pixel'
        cell, whole = (
            f' = {_ground(stride, pixel_size)}',
            f' = {_ground(patch, pixel_size)}',
        )
    if stride == patch:
        return f'one class per {patch} x {patch} patch{whole}{at}'
    return (
        f'one class per {stride} x {stride} cell{cell}{at}: the mean of the '
        f'{(patch // stride) ** 2} overlapping {patch} x {patch} patches{whole} covering it'
    )


def describe_pixel(tile: int, pixel_size: tuple[float, float] | None) -> str:
    """What one output cell of a segmenter is, in words.

    Args:
        tile: Tile size in pixels (the model's patch size).
        pixel_size: Pixel width and height in metres, None when unknown.

    Returns:
        E.g. ``one class per pixel at 10 m, blended from the 64 x 64 tiles (640 m)
        overlapping by half that cover it``.
    """
    if pixel_size is None:
        at, whole = ' (ground size unknown: no CRS)', ''
    else:
        at, whole = f' at {_ground(1, pixel_size)}', f' ({_ground(tile, pixel_size)})'
    return (
        f'one class per pixel{at}, blended from the {tile} x {tile} tiles{whole} '
        'overlapping by half that cover it'
    )
