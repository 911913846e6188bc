"""SYNTHETIC whole scenes for the demo: a mosaic of the synthetic dataset's classes.

Nothing here is real satellite data. A scene is rendered with the same land-cover
classes, materials and sensor model as :class:`~geokd.datasets.SyntheticMSSAR`, one
patch-sized block at a time, and written as a tiled, georeferenced GeoTIFF, window by
window, so a scene of any size needs little memory. Beside it, the true class of
every block is written, to measure how well a classifier maps the scene
(``geokd predict --synthetic-scene`` writes one, classifies it and reports this).
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window
from torch import Generator, Tensor

from ..datasets.synthetic import SyntheticMSSAR, _layout, _render_ms, _render_sar

#: Nodata of each modality as geokd's real inputs have it: MS digital numbers use 0,
#: SAR backscatter in dB uses NaN.
NODATA = {'ms': 0.0, 'sar': float('nan')}
#: The ``SYNTHETIC`` tag of the scenes and truths written here: an existing file is
#: replaced only when it carries it (truths of older versions carry plain 'yes'). It
#: names this module's former home: scenes written before the move keep their tag.
SCENE_TAG = 'yes: geokd.datasets.synthetic_scene'
TRUTH_TAGS = ('yes: geokd.datasets.synthetic_scene truth', 'yes')


def block_classes(rows: int, cols: int, region: int, seed: int) -> np.ndarray:
    """Class of every block: square regions of ``region`` blocks, with some variety.

    Args:
        rows: Number of block rows.
        cols: Number of block columns.
        region: Side of a region of one dominant class, in blocks.
        seed: Random seed.

    Returns:
        ``(rows, cols)`` class indices.
    """
    rng = np.random.default_rng(seed)
    k = len(SyntheticMSSAR.classes)
    regions = rng.integers(0, k, (-(-rows // region), -(-cols // region)))
    classes = np.kron(regions, np.ones((region, region), dtype=int))[:rows, :cols]
    # A few blocks of another class inside each region, as in real landscapes.
    other = rng.random((rows, cols)) < 0.1
    classes[other] = rng.integers(0, k, int(other.sum()))
    return classes


def nodata_mask(
    height: int, width: int, row: int, col: int, h: int, w: int
) -> np.ndarray:
    """Nodata of a window: a corner cut off along a diagonal, like a swath edge.

    Args:
        height: Scene height.
        width: Scene width.
        row: First row of the window.
        col: First column of the window.
        h: Window height.
        w: Window width.

    Returns:
        ``(h, w)`` boolean, True where the scene has no data.
    """
    y, x = np.mgrid[row : row + h, col : col + w]
    return x / width + y / height < 0.25


def render_block(
    modality: str, label: int, block: int, looks: int, generator: Generator
) -> Tensor:
    """Render one block of a class with the dataset's materials and sensor model.

    Args:
        modality: 'ms' or 'sar'.
        label: Class index in :attr:`SyntheticMSSAR.classes`.
        block: Side of the block in pixels.
        looks: Equivalent number of looks of the SAR speckle.
        generator: Random generator of the block.

    Returns:
        The block ``(bands, block, block)``.
    """
    frac = _layout(SyntheticMSSAR.classes[label], block, generator)
    if modality == 'ms':
        # 0 is nodata: valid digital numbers start at 1.
        return _render_ms(frac, generator).clamp_min(1)
    return _render_sar(frac, looks, generator)


def write_synthetic_scene(
    path: str | Path,
    modality: str = 'sar',
    height: int = 1024,
    width: int = 1024,
    block: int = 64,
    region: int = 3,
    looks: int = 3,
    seed: int = 0,
    crs: str = 'EPSG:32631',
    resolution: float = 10.0,
    origin: tuple[float, float] = (500_000.0, 4_600_000.0),
) -> Path:
    """Write a SYNTHETIC scene and, beside it, its true class per block.

    Args:
        path: The GeoTIFF to write (``<stem>_truth.tif`` is written beside it: the class
            of each block, on the grid of ``block``-pixel cells, nodata 255).
        modality: 'ms' (13 Sentinel-2-like bands, uint16 DN, nodata 0) or 'sar'
            (VV, VH in dB, float32, nodata NaN).
        height: Height in pixels.
        width: Width in pixels.
        block: Side of the blocks each rendered as one sample of a class; use the
            model's patch size so that every patch sees one class.
        region: Side of the regions of one dominant class, in blocks.
        looks: Equivalent number of looks of the SAR speckle.
        seed: Random seed; the same seed gives the same scene.
        crs: Coordinate reference system.
        resolution: Pixel size in CRS units.
        origin: Upper-left corner ``(x, y)``.

    Returns:
        The path of the scene.

    Raises:
        ValueError: On an unknown modality or a block size not a multiple of 16.
        FileExistsError: If the scene's or the truth's path holds a file that is not
            one written here (it is left as it is).
    """
    if modality not in NODATA:
        msg = f'modality must be one of {list(NODATA)}, got {modality!r}'
        raise ValueError(msg)
    if block % 16:
        msg = f'block must be a multiple of 16 (GeoTIFF tiles), got {block}'
        raise ValueError(msg)
    path = Path(path)
    _check_replaceable(path, (SCENE_TAG,))
    _check_replaceable(truth_path(path), TRUTH_TAGS)
    path.parent.mkdir(parents=True, exist_ok=True)
    bands = SyntheticMSSAR.all_band_names[modality]
    rows, cols = -(-height // block), -(-width // block)
    classes = block_classes(rows, cols, region, seed)
    transform = Affine.translation(*origin) @ Affine.scale(resolution, -resolution)
    profile = {
        'driver': 'GTiff', 'height': height, 'width': width, 'count': len(bands),
        'dtype': 'uint16' if modality == 'ms' else 'float32',
        'nodata': NODATA[modality], 'crs': CRS.from_user_input(crs),
        'transform': transform, 'tiled': True, 'blockxsize': block,
        'blockysize': block, 'compress': 'deflate',
    }  # fmt: skip

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, 'w', **profile) as dst:
            dst.descriptions = bands
            dst.update_tags(SYNTHETIC=SCENE_TAG, MODALITY=modality)
            for r in range(rows):
                for c in range(cols):
                    win = Window(c * block, r * block, block, block).intersection(
                        Window(0, 0, width, height)
                    )
                    gen = Generator().manual_seed(seed * 1_000_003 + r * cols + c)
                    image = render_block(modality, classes[r, c], block, looks, gen)
                    h, w = int(win.height), int(win.width)
                    data = image[:, :h, :w].numpy()
                    mask = nodata_mask(height, width, r * block, c * block, h, w)
                    data = np.where(mask, NODATA[modality], data)
                    dst.write(data.astype(profile['dtype']), window=win)

    _write_atomic(path, write)
    _write_truth(
        truth_path(path), classes, height, width, block, profile['crs'], transform
    )
    return path


def _write_truth(
    path: Path,
    classes: np.ndarray,
    height: int,
    width: int,
    block: int,
    crs: CRS,
    transform: Affine,
) -> None:
    """Write the class of each block; a block is nodata when its centre is."""
    rows, cols = classes.shape
    yc, xc = np.meshgrid(
        (np.arange(rows) + 0.5) * block, (np.arange(cols) + 0.5) * block, indexing='ij'
    )
    truth = np.where(xc / width + yc / height < 0.25, 255, classes).astype('uint8')
    profile = {
        'driver': 'GTiff', 'height': rows, 'width': cols, 'count': 1,
        'dtype': 'uint8', 'nodata': 255, 'crs': crs,
        'transform': transform @ Affine.scale(block),
    }  # fmt: skip

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, 'w', **profile) as dst:
            dst.write(truth, 1)
            dst.update_tags(
                CLASS_NAMES=','.join(SyntheticMSSAR.classes), SYNTHETIC=TRUTH_TAGS[0]
            )

    _write_atomic(path, write)


def _check_replaceable(path: Path, tags: tuple[str, ...]) -> None:
    """Refuse a path holding anything but a file written here (by its tag)."""
    if not os.path.lexists(path):
        return
    ours = False
    if not path.is_symlink() and path.is_file():
        try:
            with rasterio.open(path) as src:
                ours = src.tags().get('SYNTHETIC') in tags
        except rasterio.errors.RasterioIOError:
            pass
    if not ours:
        msg = (
            f'{path}: exists and is not a synthetic scene geokd wrote; not replaced '
            '(choose another path)'
        )
        raise FileExistsError(msg)


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` in a new temporary folder beside ``path``, then rename."""
    directory = Path(tempfile.mkdtemp(dir=path.parent, prefix=f'.{path.name}.'))
    try:
        write(directory / path.name)
        os.replace(directory / path.name, path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def truth_path(path: str | Path) -> Path:
    """Where :func:`write_synthetic_scene` writes a scene's true classes.

    Args:
        path: The synthetic scene.

    Returns:
        ``<stem>_truth.tif`` beside it.
    """
    path = Path(path)
    return path.with_name(f'{path.stem}_truth.tif')


def agreement(classes: Path, truth: Path) -> float | None:
    """Fraction of a class map's cells that have the class the synthetic truth says.

    The comparison is made on the class map's grid, whatever its cell size (any
    ``--stride``) or CRS: each cell takes the true class of the block at its centre.

    Args:
        classes: A class map of the synthetic scene (e.g. ``geokd predict``'s).
        truth: The scene's true classes (:func:`truth_path`).

    Returns:
        The fraction of cells valid in both with the same class, or None when they
        share no valid cell.
    """
    with rasterio.open(classes) as a, rasterio.open(truth) as b:
        pred = a.read(1)
        true = np.full(pred.shape, b.nodata, dtype=b.dtypes[0])
        reproject(
            rasterio.band(b, 1), true, dst_transform=a.transform, dst_crs=a.crs or b.crs,
            dst_nodata=b.nodata, resampling=Resampling.nearest,
        )  # fmt: skip
        both = (pred != a.nodata) & (true != b.nodata)
    return float((pred[both] == true[both]).mean()) if both.any() else None
