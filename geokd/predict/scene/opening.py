"""A scene opened for prediction: the model's bands, at its resolution, and its grid.

Opening a scene (:func:`open_scene`) reads one raster, or stacks single-band files
(:mod:`.stacking`), names its bands and matches them to the model's
(:mod:`.bands`), and reads it at the model's ground sample distance
(:mod:`.resampling`). Nothing is copied: windows are read, stacked and resampled on
demand. Remote files are read by HTTP range requests (:mod:`.remote`): only the
header and the tiles of the windows read are fetched.
"""

import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.windows import Window

from ...errors import PredictError
from ..engine.tiling import PatchGrid
from .bands import BandMatch, band_code, describe_mapping, resolve_bands
from .remote import (
    Url,
    gdal_path,
    public,
    redact_queries,
    remote_failure,
    remote_options,
)
from .resampling import ReadGrid, pixel_size_m, read_grid, warped
from .sources import Location, SceneInput
from .stacking import stack_vrt


class Scene:
    """An opened scene that yields windows of the model's bands, in its order.

    Args:
        source: What the user named.
        dataset: The raster read: the file, the stack of band files, or either
            resampled to the model's GSD.
        matches: The scene band feeding each model band, in the model's order.
        resources: Closes the dataset and what it reads from.
        native_resolution: The scene's own pixel size in metres, None without CRS.
        grid: The resampled grid, None when the scene is read as it is.
        synthetic: Whether the scene is one of geokd's SYNTHETIC scenes.
        scaling: Per model band, the scale and offset that turn the file's values
            into physical ones (GDAL's band scale and offset), None when the file
            declares none.
        masked: Whether windows are masked by the file's GDAL mask (a dataset or
            alpha mask, read directly; the resampled path honours it itself).
    """

    def __init__(
        self,
        source: SceneInput,
        dataset: Any,
        matches: list[BandMatch],
        resources: ExitStack,
        native_resolution: tuple[float, float] | None = None,
        grid: ReadGrid | None = None,
        synthetic: bool = False,
        scaling: tuple[np.ndarray, np.ndarray] | None = None,
        masked: bool = False,
    ) -> None:
        self.source = source
        self.path = source.path
        self.dataset = dataset
        self.matches = matches
        self.resources = resources
        self.native_resolution = native_resolution
        self.grid = grid
        self.synthetic = synthetic
        self.scaling = scaling
        self.masked = masked

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.resources.close()

    @property
    def indexes(self) -> list[int]:
        """1-based bands of :attr:`dataset` that feed the model, in its order."""
        return [m.index for m in self.matches]

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.dataset.height)

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.dataset.width)

    @property
    def crs(self) -> CRS | None:
        """Coordinate reference system, None when the file has none."""
        return self.dataset.crs

    @property
    def transform(self) -> Affine:
        """Pixel-to-CRS transform (the identity when the file has none)."""
        transform: Affine = self.dataset.transform
        return transform

    @property
    def nodata(self) -> float | None:
        """Nodata value of the bands."""
        nodata: float | None = self.dataset.nodata
        return nodata

    @property
    def block(self) -> int:
        """Block (tile) height of the file, in pixels."""
        return int(self.dataset.block_shapes[0][0])

    @property
    def resolution(self) -> tuple[float, float] | None:
        """Pixel size of what is read, in metres (None without CRS)."""
        return pixel_size_m(self.dataset)

    def describe_bands(self) -> str:
        """The band mapping on one line: ``model band <- scene band, ...``."""
        return describe_mapping(self.matches)

    def reading(self) -> dict[str, Any]:
        """How the scene is read, for the summary.

        Returns:
            The files, the scene's own CRS and pixel size, and the resampling.
        """
        grid = self.grid
        native = self.native_resolution
        return {
            'files': [public(f) for f in self.source.files],
            'native_pixel_size_m': [round(v, 4) for v in native] if native else None,
            'resampled': grid is not None,
            'resampling': grid.resampling.name if grid else None,
            'reprojected_from': grid.reprojected_from.to_string()
            if grid and grid.reprojected_from
            else None,
        }

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
            raise PredictError(f'{self.source}: {err}') from err

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
        if self.masked or self.scaling is not None:
            self._mask_and_scale(out[:, r : r + h, c : c + w], inside)
        return out

    def _mask_and_scale(self, block: np.ndarray, window: Window) -> None:
        """Hide what the file's mask hides, and apply its scale and offset, in place."""
        if self.masked:
            block[self.dataset.read_masks(self.indexes, window=window) == 0] = np.nan
        if self.scaling is not None:
            nodata = self.dataset.nodata
            if nodata is not None and not np.isnan(nodata):
                block[block == np.float32(nodata)] = np.nan
            scale, offset = self.scaling
            block[:] = block.astype(np.float64) * scale + offset


def shown(path: Location) -> str:
    """A file's name for a one-line message, its control characters escaped.

    Args:
        path: The file.

    Returns:
        The name, printable.
    """
    text = str(path)
    if text.isprintable():
        return text
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _open(path: Location, resources: ExitStack) -> rasterio.DatasetReader:
    """Open a raster, or refuse with one line naming it."""
    if isinstance(path, Path) and not path.exists():
        msg = f'{shown(path)}: no such file'
        raise PredictError(msg)
    if isinstance(path, Path) and not path.is_file():
        # A FIFO would block the open forever; a device is read without end.
        msg = f'{path}: not a regular file (a FIFO, device or socket); give a raster'
        raise PredictError(msg)
    try:
        with warnings.catch_warnings():
            # geokd warns itself, naming the scene (warn_if_not_georeferenced).
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            return resources.enter_context(rasterio.open(gdal_path(path)))
    except RasterioIOError as err:
        if isinstance(path, Url):
            raise PredictError(remote_failure(path, str(err))) from err
        detail = str(err).replace(str(path), shown(path)).splitlines()[0]
        msg = f'{shown(path)}: not a readable raster ({detail})'
        raise PredictError(msg) from err


def scene_band_names(dataset: Any, path: Location) -> list[str | None]:
    """The names of a raster's bands: its descriptions, else its file name's code.

    A description carrying a band code (``Sigma0_VV_db``) is named by the code. A
    single-band file without description is named by the band code in its file name
    (``..._VV_grd.tif``), if any.

    Args:
        dataset: The opened raster.
        path: Its file.

    Returns:
        One name per band, None where unnamed.
    """
    names = [
        (band_code(d) or d.strip()) if d and d.strip() else None
        for d in dataset.descriptions
    ]
    if dataset.count == 1 and names[0] is None:
        names[0] = band_code(path.stem)
    return names


def _metadata_names(source: SceneInput, count: int) -> list[str | None]:
    """The band names the scene's metadata gives its file, checked against it."""
    if len(source.band_names) != count:
        msg = (
            f'{source}: its metadata names {len(source.band_names)} band(s) but '
            f'{source.path} has {count}'
        )
        raise PredictError(msg)
    return list(source.band_names)


def _is_synthetic(dataset: Any) -> bool:
    """Whether a raster is one of geokd's SYNTHETIC scenes (tagged so)."""
    return bool(dataset.tags().get('SYNTHETIC', '').startswith('yes'))


def _stacked(source: SceneInput, resources: ExitStack) -> tuple[Any, list[str], bool]:
    """The band files of a scene stacked in a VRT, their names, and if synthetic."""
    opened = [(name, _open(file, resources)) for name, file in source.band_files]
    xml = stack_vrt(opened, source)
    synthetic = all(_is_synthetic(src) for _, src in opened)
    return (
        resources.enter_context(rasterio.open(xml)),
        [n for n, _ in opened],
        synthetic,
    )


def _at_gsd(
    source: SceneInput, dataset: Any, gsd: float | None, resources: ExitStack
) -> tuple[tuple[float, float] | None, ReadGrid | None, Any]:
    """The scene's pixel size, and the scene resampled to the GSD when needed."""
    _check_earth(source, dataset.crs)
    try:
        native = pixel_size_m(dataset)
        grid = read_grid(dataset, gsd)
        if grid is not None:
            dataset = resources.enter_context(warped(dataset, grid))
    except (RasterioError, ValueError) as err:
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        msg = f"{source}: cannot be read at the model's {gsd} m resolution ({detail})"
        raise PredictError(msg) from err
    return native, grid, dataset


#: Semi-major axes of the Earth's ellipsoids, in metres (all within 6370 +- 15 km).
EARTH_RADII = (6_355_000.0, 6_390_000.0)


def _check_earth(source: SceneInput, crs: CRS | None) -> None:
    """Refuse a scene whose CRS is not of the Earth (a Mars or Moon product).

    Raises:
        PredictError: Naming the scene and its ellipsoid.
    """
    if crs is None:
        return
    import pyproj

    try:
        ellipsoid = pyproj.CRS.from_user_input(crs.to_wkt()).ellipsoid
    except pyproj.exceptions.CRSError:
        return  # rasterio read it; GDAL's own checks follow
    if ellipsoid is None:
        return
    radius = ellipsoid.semi_major_metre
    if not EARTH_RADII[0] <= radius <= EARTH_RADII[1]:
        msg = (
            f'{source}: its CRS is not of the Earth (ellipsoid {ellipsoid.name!r}, '
            f'radius {radius / 1000:.0f} km); geokd classifies Earth-observation scenes'
        )
        raise PredictError(msg)


def open_scene(
    source: SceneInput,
    band_names: Sequence[str],
    in_channels: int,
    bands: Sequence[str | int] | None = None,
    gsd: float | None = None,
) -> Scene:
    """Open a scene, match its bands to the model's and read it at the model's GSD.

    Args:
        source: The scene, as resolved from what the user named
            (:func:`~.sources.scene_input`, :func:`~.sources.band_files_input`, a
            STAC item).
        band_names: The model's band names (may be empty).
        in_channels: Number of bands the model reads.
        bands: User selection of bands (see :func:`~geokd.predict.resolve_bands`).
        gsd: The model's ground sample distance in metres; None reads the scene at
            its own resolution.

    Returns:
        The scene; close it (or use it as a context manager) when done.

    Raises:
        PredictError: If a file is missing or unreadable, the band files cannot be
            stacked, or the bands do not match, with one line naming the file.
    """
    if source.error:
        raise PredictError(source.error)
    resources = ExitStack()
    try:
        if source.remote:
            resources.enter_context(rasterio.Env(**remote_options()))
        names: Sequence[str | None]
        if source.band_files:
            dataset, names, synthetic = _stacked(source, resources)
            files = [redact_queries(str(f)) for _, f in source.band_files]
        else:
            dataset = _open(source.path, resources)
            names, files = scene_band_names(dataset, source.path), []
            if source.band_names:
                names = _metadata_names(source, dataset.count)
            synthetic = _is_synthetic(dataset)
        matches = resolve_bands(source, names, band_names, in_channels, bands)
        if files:
            matches = [replace(m, file=files[m.index - 1]) for m in matches]
        indexes = [m.index for m in matches]
        _check_real(source, dataset, indexes)
        scaling, masked = _pixel_meaning(dataset, indexes)
        native, grid, dataset = _at_gsd(source, dataset, gsd, resources)
        masked = masked and grid is None  # a warped read honours masks itself
    except PredictError as err:
        resources.close()
        if source.remote and source.label and not str(err).startswith(str(source)):
            # A remote file of a STAC item: say which item too.
            raise PredictError(f'{source}: {err}') from err
        raise
    except BaseException:
        resources.close()
        raise
    return Scene(
        source, dataset, matches, resources, native, grid, synthetic, scaling, masked
    )


def _check_real(source: SceneInput, dataset: Any, indexes: Sequence[int]) -> None:
    """Refuse complex bands (SLC products): which real value to classify is unknown."""
    for i in indexes:
        if dataset.dtypes[i - 1].startswith('complex'):
            msg = (
                f'{source}: band {i} holds complex values ({dataset.dtypes[i - 1]}); '
                'geokd classifies real values: give intensities (e.g. |z|^2, in dB '
                'if the model was trained so)'
            )
            raise PredictError(msg)


def _pixel_meaning(
    dataset: Any, indexes: Sequence[int]
) -> tuple[tuple[np.ndarray, np.ndarray] | None, bool]:
    """The bands' scale and offset (None when plain), and whether a mask hides pixels.

    Args:
        dataset: The opened file (or stack), before any resampling.
        indexes: The 1-based bands read.

    Returns:
        ``(scale, offset)`` arrays shaped for ``(C, h, w)`` windows, or None; and
        True when a band has a dataset or alpha mask (not only its nodata value).
    """
    from rasterio.enums import MaskFlags

    scale = np.array([dataset.scales[i - 1] for i in indexes], np.float64)
    offset = np.array([dataset.offsets[i - 1] for i in indexes], np.float64)
    plain = bool((scale == 1).all() and (offset == 0).all())
    scaling = None if plain else (scale[:, None, None], offset[:, None, None])
    flags = [dataset.mask_flag_enums[i - 1] for i in indexes]
    masked = any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags)
    return scaling, masked


def warn_if_not_georeferenced(scene: Scene, stacklevel: int = 2) -> None:
    """Warn when the outputs will lack a CRS or a geotransform.

    Args:
        scene: The scene.
        stacklevel: As for :func:`warnings.warn`, counted from the caller of this
            function (2: the warning names the line that called the caller).
    """
    if scene.crs is None:
        warnings.warn(
            f'{scene.source}: no CRS; outputs will carry none and class areas are '
            "unknown, and its pixels are taken to be of the model's size",
            stacklevel=stacklevel + 1,
        )
    if scene.transform == Affine.identity():
        warnings.warn(
            f'{scene.source}: no geotransform; outputs are on the pixel grid',
            stacklevel=stacklevel + 1,
        )
