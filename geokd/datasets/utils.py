"""Reading rasters and guarding against invalid pixels, shared by geokd's datasets."""

import logging
import os
import warnings
from typing import Literal

import numpy as np
import rasterio
import torch
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from torch import Tensor

from ..errors import DataError

logger = logging.getLogger(__name__)

#: What to do with NaN, inf and declared-nodata pixels: raise, or replace them.
Invalid = Literal['error', 'fill']

#: File extensions read with Pillow; everything else goes through rasterio.
PIL_EXTENSIONS = ('.png', '.jpg', '.jpeg')


def read_image(path: str) -> tuple[Tensor, Tensor | None]:
    """Read a GeoTIFF, PNG (8 or 16 bit) or JPEG as a float32 ``(C, H, W)`` tensor.

    16-bit PNGs (for example depth in millimetres) keep their integer values.

    Args:
        path: File to read.

    Returns:
        The image and, where the file declares a nodata value, a boolean ``(H, W)``
        or ``(C, H, W)`` mask of nodata pixels (else None).

    Raises:
        ValueError: If the file cannot be read, naming it.
    """
    if path.lower().endswith(PIL_EXTENSIONS):
        try:
            with Image.open(path) as img:
                array = np.asarray(img)
        except (OSError, ValueError) as err:
            detail = str(err).replace(f"'{path}'", 'it')
            msg = f'{path}: cannot read image ({detail})'
            raise DataError(msg) from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(array.astype(np.float32)), None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                array = src.read()
                nodata = src.nodata
    except RasterioError as err:
        msg = f'{path}: cannot read raster ({_gdal_reason(err)})'
        raise DataError(msg) from None
    mask = None
    if nodata is not None and not np.isnan(nodata):
        mask = torch.from_numpy(array == nodata)
    return torch.from_numpy(array.astype(np.float32)), mask


def _gdal_reason(err: BaseException) -> str:
    """GDAL's own reason for a failed read: the last error chained to rasterio's.

    rasterio reports a failed block read as "Read failed. See previous exception
    for details."; the chained GDAL errors say what failed (a truncated file, ...).
    """
    reason = str(err)
    cause = err.__cause__ or err.__context__
    while cause is not None:
        reason = str(cause)
        cause = cause.__cause__ or cause.__context__
    return ' '.join(reason.split())


def check_valid(
    image: Tensor,
    source: str,
    invalid: Invalid = 'error',
    fill_value: float = 0.0,
    nodata: Tensor | None = None,
) -> Tensor:
    """Make sure no NaN, inf or nodata pixel reaches the model silently.

    Args:
        image: Raw image.
        source: File (and position) the image came from, for messages.
        invalid: 'error' raises on the first invalid pixel; 'fill' replaces invalid
            pixels with ``fill_value`` and logs a warning with their count.
        fill_value: Replacement value, in the raw units of the file.
        nodata: Optional mask of pixels the file declares as nodata.

    Returns:
        The image, with invalid pixels replaced in 'fill' mode.

    Raises:
        ValueError: In 'error' mode if any pixel is invalid, or in either mode if
            every pixel is invalid.
    """
    # numpy: much faster than torch for one small image in a busy data worker.
    array = image.numpy()
    bad = ~np.isfinite(array)
    if nodata is not None:
        bad |= np.broadcast_to(nodata.numpy(), array.shape)
    count = int(bad.sum())
    if count == 0:
        return image
    if count == bad.size:
        msg = f'{source}: every pixel is NaN, inf or nodata'
        raise DataError(msg)
    if invalid == 'error':
        msg = (
            f'{source}: {count} NaN, inf or nodata values; pass invalid="fill" to '
            'replace them'
        )
        raise DataError(msg)
    logger.warning(
        '%s: replaced %d NaN, inf or nodata values with %s', source, count, fill_value
    )
    return image.masked_fill(torch.from_numpy(bad), fill_value)


def relative_stem(path: str, folder: str) -> str:
    """Path of a file relative to ``folder``, without its extension (the pairing key).

    Args:
        path: The file.
        folder: A folder containing it.

    Returns:
        For example ``'bedroom/0001'`` for ``folder/bedroom/0001.png``.
    """
    return os.path.splitext(os.path.relpath(path, folder))[0].replace(os.sep, '/')
