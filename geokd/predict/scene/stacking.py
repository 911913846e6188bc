"""Single-band files stacked on the fly into one virtual raster (GDAL VRT).

The VRT is an XML description that GDAL opens like a file: each of its bands reads
one source file, resampled onto a common grid when read, so nothing is copied. The
common grid is the finest file's pixel grid over the area every file covers:
Sentinel-2's 20 m and 60 m bands are interpolated (bilinear) onto its 10 m grid, as in
the training data (EuroSAT's 20 m bands are smooth at 10 m, not blocky).
"""

import math
import warnings
from collections.abc import Sequence
from xml.sax.saxutils import escape

import rasterio
from affine import Affine
from rasterio.enums import MaskFlags
from rasterio.windows import Window, from_bounds

from ...errors import PredictError


def _number(value: float) -> str:
    """A number as GDAL reads it back exactly."""
    return format(float(value), '.17g')


def _check_stackable(sources: Sequence[rasterio.DatasetReader]) -> None:
    """Refuse files that cannot be stacked band for band, naming the file."""
    first = sources[0]
    for src in sources:
        if src.count != 1:
            msg = f'{src.name}: has {src.count} bands; band files must hold one band'
            raise PredictError(msg)
        if src.crs != first.crs:
            msg = (
                f'{src.name}: its CRS ({src.crs}) differs from {first.name} '
                f'({first.crs}); band files of one scene must share a CRS'
            )
            raise PredictError(msg)
        if src.transform.b or src.transform.d:
            msg = f'{src.name}: rotated pixel grids cannot be stacked'
            raise PredictError(msg)
    if first.crs is None and len({s.shape for s in sources}) > 1:
        msg = (
            f'{first.name}: band files without a CRS can only be stacked when they '
            'have the same size'
        )
        raise PredictError(msg)


def common_grid(
    sources: Sequence[rasterio.DatasetReader], scene: object
) -> tuple[Affine, int, int]:
    """The finest file's pixel grid over the area all files cover.

    Args:
        sources: The opened band files.
        scene: The scene (named in error messages).

    Returns:
        Transform, width and height of the grid.

    Raises:
        PredictError: If the files do not overlap.
    """
    finest = min(sources, key=lambda s: abs(s.transform.a))
    left = max(s.bounds.left for s in sources)
    right = min(s.bounds.right for s in sources)
    bottom = max(s.bounds.bottom for s in sources)
    top = min(s.bounds.top for s in sources)
    if any(s.transform.e > 0 for s in sources):
        shown = next(s.name for s in sources if s.transform.e > 0)
        msg = (
            f'{shown}: its rows run south to north (south-up); band files must be '
            'north-up to be stacked (e.g. gdalwarp it, or give a multi-band file)'
        )
        raise PredictError(msg)
    if right <= left or top <= bottom:
        msg = f'{scene}: its band files do not overlap'
        raise PredictError(msg)
    _warn_if_cropped(sources, scene, (right - left) * (top - bottom))
    window = from_bounds(left, bottom, right, top, finest.transform)
    # Whole pixels of the finest grid inside the common area (1e-6 px of slack).
    c0, r0 = math.ceil(window.col_off - 1e-6), math.ceil(window.row_off - 1e-6)
    c1 = math.floor(window.col_off + window.width + 1e-6)
    r1 = math.floor(window.row_off + window.height + 1e-6)
    if c1 <= c0 or r1 <= r0:
        msg = f'{scene}: its band files do not overlap'
        raise PredictError(msg)
    return finest.transform @ Affine.translation(c0, r0), c1 - c0, r1 - r0


def _warn_if_cropped(
    sources: Sequence[rasterio.DatasetReader], scene: object, common: float
) -> None:
    """Say how much of a band file's area is left out of the area all files cover."""
    areas = [
        (s.bounds.right - s.bounds.left) * (s.bounds.top - s.bounds.bottom)
        for s in sources
    ]
    lost, name = max(
        (1 - common / a, s.name) for a, s in zip(areas, sources, strict=True)
    )
    if lost > 0.01:
        warnings.warn(
            f'{scene}: its band files cover different areas; the area they all '
            f'cover is classified, leaving out {lost:.0%} of {name}',
            stacklevel=2,
        )


def _masked_vrt(src: rasterio.DatasetReader, value: float) -> str:
    """``src``'s band 1 with the pixels its mask hides set to ``value`` (VRT XML)."""
    return (
        f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">'
        '<VRTRasterBand dataType="Float64" band="1"><NoDataFromMaskSource>'
        f'<SourceFilename relativeToVRT="0">{escape(src.name)}</SourceFilename>'
        '<SourceBand>1</SourceBand><MaskValueThreshold>0</MaskValueThreshold>'
        f'<NODATA>{_number(value)}</NODATA></NoDataFromMaskSource></VRTRasterBand>'
        '</VRTDataset>'
    )


def _band_xml(
    index: int, name: str, src: rasterio.DatasetReader, grid: tuple[Affine, int, int]
) -> str:
    """One VRT band reading ``src``'s band 1 onto the grid."""
    transform, width, height = grid
    if src.crs is None:
        window = Window(0, 0, src.width, src.height)
    else:
        left, top = transform @ (0, 0)
        right, bottom = transform @ (width, height)
        window = from_bounds(left, bottom, right, top, src.transform)
    coarser = abs(src.transform.a) > abs(transform.a) * (1 + 1e-6)
    finer = abs(src.transform.a) < abs(transform.a) * (1 - 1e-6)
    resampling = 'bilinear' if coarser else 'average' if finer else 'nearest'
    # What the file says of its pixels, as a single file's read honours it: a mask
    # hiding pixels (read through an inner VRT that gives them the nodata value),
    # and a scale and offset (int16 dB x 100, say).
    source = escape(src.name)
    flags = src.mask_flag_enums[0]
    hidden = src.nodata
    if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
        hidden = math.nan if hidden is None else hidden
        source = escape(_masked_vrt(src, hidden))
    nodata = '' if hidden is None else f'<NODATA>{_number(hidden)}</NODATA>'
    scale, offset = src.scales[0], src.offsets[0]
    if (scale, offset) != (1.0, 0.0):
        nodata += (
            f'<ScaleOffset>{_number(offset)}</ScaleOffset>'
            f'<ScaleRatio>{_number(scale)}</ScaleRatio>'
        )
    return (
        f'<VRTRasterBand dataType="Float32" band="{index}">'
        f'<Description>{escape(name)}</Description><NoDataValue>nan</NoDataValue>'
        f'<ComplexSource resampling="{resampling}">'
        f'<SourceFilename relativeToVRT="0">{source}</SourceFilename>'
        f'<SourceBand>1</SourceBand>'
        f'<SrcRect xOff="{_number(window.col_off)}" yOff="{_number(window.row_off)}" '
        f'xSize="{_number(window.width)}" ySize="{_number(window.height)}"/>'
        f'<DstRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>'
        f'{nodata}</ComplexSource></VRTRasterBand>'
    )


def stack_vrt(
    bands: Sequence[tuple[str, rasterio.DatasetReader]], scene: object
) -> str:
    """Describe single-band files as one multi-band raster, as GDAL VRT XML.

    Args:
        bands: ``(band name, opened file)`` in stack order.
        scene: The scene (named in error messages).

    Returns:
        The VRT document: float32 bands, NaN where a file has no data (its declared
        nodata, or outside it), named after the bands; open it with
        :func:`rasterio.open`.

    Raises:
        PredictError: If a file has several bands, the files' CRSs differ or they
            do not overlap.
    """
    sources = [src for _, src in bands]
    _check_stackable(sources)
    grid = common_grid(sources, scene)
    transform, width, height = grid
    srs = (
        ''
        if sources[0].crs is None
        else f'<SRS>{escape(sources[0].crs.to_wkt())}</SRS>'
    )
    geo = ', '.join(_number(v) for v in transform.to_gdal())
    body = ''.join(
        _band_xml(i, name, src, grid) for i, (name, src) in enumerate(bands, 1)
    )
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">{srs}'
        f'<GeoTransform>{geo}</GeoTransform>{body}</VRTDataset>'
    )
