"""What the user names as one scene: one raster, or single-band files read together.

Real products are often delivered one file per band: Sentinel-1 GRD one file per
polarisation, Sentinel-2 one file per band at 10, 20 and 60 m. Such a scene is given

* as a directory: every raster in it (searched recursively) whose file name carries
  exactly one band code (``..._B08.tif``, ``T31TCJ_..._B8A_20m.jp2``,
  ``s1a-iw-grd-vv-....tiff``, ``..._VH.tif``) is one band; files without a code
  (``TCI``, ``SCL``, masks, labels) are ignored. When a band comes at several
  resolutions (Sentinel-2 L2A's ``R10m``/``R20m``/``R60m``), the finest is used;
* or as ``--band-file NAME=PATH`` pairs, naming each file's band.

The files are stacked on the fly (:mod:`.stacking`), never copied. A scene or band
file may be remote: an http(s) URL is a :class:`~.remote.Url`, read by range requests
(:mod:`.remote`); STAC Items become scenes in :mod:`.stac`.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import PredictError
from .bands import band_code, band_order, canonical_band
from .remote import Url, is_url, redact_queries, safe_name

#: A file a scene reads: a local path, or the URL of a remote file.
type Location = Path | Url

#: File extensions read as band files in a directory.
RASTER_EXTENSIONS = ('.tif', '.tiff', '.jp2', '.img', '.vrt')
#: Files in a product directory that carry a band code but are not that band.
_NOT_BANDS = ('MSK_', 'QI_DATA')
#: Characters that separate the words of a file name.
_WORD_ENDS = '_-. '


@dataclass(frozen=True)
class SceneInput:
    """One scene as the user gave it.

    A file is a local :class:`~pathlib.Path` or a remote :class:`~.remote.Url`
    (open it by :func:`~.remote.gdal_path`).

    Attributes:
        name: Name of the scene's outputs (``NAME_classes.tif``).
        path: The raster file, or the directory of band files (for ``--band-file``
            scenes, ``name`` in the first file's directory; for STAC items, the
            item's JSON file).
        band_files: ``(band name, file)`` of each single-band file, in stack order;
            empty for a scene that is one raster.
        label: How messages name the scene; None names it by ``path``.
        band_names: Names of the bands of ``path`` from its metadata (a STAC
            asset's bands), used instead of the file's band descriptions; empty to
            read the file's.
        error: Why the scene cannot be read, known before it is opened (an
            unreadable STAC item); opening it raises this message.
    """

    name: str
    path: Location
    band_files: tuple[tuple[str, Location], ...] = ()
    label: str | None = None
    band_names: tuple[str | None, ...] = ()
    error: str | None = None

    def __str__(self) -> str:
        """The scene as named in messages (a URL's query, its credentials, left out)."""
        return redact_queries(self.label or str(self.path))

    @property
    def files(self) -> list[Location]:
        """Every file the scene reads."""
        return [f for _, f in self.band_files] or [self.path]

    @property
    def remote(self) -> bool:
        """Whether a file of the scene is remote."""
        return any(isinstance(f, Url) for f in self.files)

    @property
    def key(self) -> Path | str:
        """What tells the scene apart in one call: its path, or its label.

        The label of a remote scene (its URL) or of a STAC item.
        """
        return self.path if isinstance(self.path, Path) else self.label or self.path

    @property
    def folder(self) -> str:
        """Absolute folder of :attr:`path` (a URL's host and folders for remote ones)."""
        if isinstance(self.path, Url):
            return self.path.folder
        return os.path.abspath(self.path.parent)


def location(file: str | Path) -> Location:
    """A file argument as a :class:`~.remote.Url` when remote, else a path.

    Args:
        file: The argument.

    Returns:
        The location.
    """
    return Url(file) if is_url(file) else Path(file)


def scene_input(path: str | Path) -> SceneInput:
    """A scene given by one path: a raster file, or a directory of band files.

    Args:
        path: The path.

    Returns:
        The scene.

    Raises:
        PredictError: If a directory holds no band file, or two for one band at
            the same resolution.
    """
    if is_url(path):
        url = Url(path)
        return SceneInput(safe_name(url.stem or 'scene'), url)
    path = Path(path)
    if not path.is_dir():
        return SceneInput(path.stem, path)
    named = Path(os.path.abspath(path))  # '.' and '..' are named by the folder
    name = named.stem if named.suffix.upper() == '.SAFE' else named.name
    return SceneInput(name, path, _band_files_in(path))


def band_files_input(pairs: Sequence[str]) -> SceneInput:
    """A scene given as ``NAME=PATH`` pairs (``--band-file``).

    Args:
        pairs: ``NAME=PATH`` strings, in the stack's order.

    Returns:
        The scene, named after what its files' names share.

    Raises:
        PredictError: If a pair is malformed or a band is named twice.
    """
    files: list[tuple[str, Location]] = []
    for pair in pairs:
        name, sep, file = pair.partition('=')
        if not sep or not name.strip() or not file:
            msg = f'--band-file {pair!r}: expected NAME=PATH, e.g. VV=scene_vv.tif'
            raise PredictError(msg)
        files.append((name.strip(), location(file)))
    names = [canonical_band(n) for n, _ in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        msg = f'--band-file: band {", ".join(twice)} given more than once'
        raise PredictError(msg)
    _check_distinct_files(files)
    stem = _common_stem([f.stem for _, f in files])
    first = files[0][1]
    path = first.parent / stem if isinstance(first, Path) else Url(f'{first}#{stem}')
    label = f'{path} (--band-file {", ".join(n for n, _ in files)})'
    return SceneInput(stem, path, tuple(files), label)


def _check_distinct_files(files: Sequence[tuple[str, Location]]) -> None:
    """Refuse one file given for two bands (its band would feed both)."""
    from ..output.paths import file_keys

    owner: dict[object, tuple[str, Location]] = {}
    for name, file in files:
        keys = [('url', str(file))] if isinstance(file, Url) else file_keys(file)
        for key in keys:
            if key in owner:
                first, path = owner[key]
                msg = (
                    f'--band-file: {first}={path} and {name}={file} are one file; '
                    'give each band its own file'
                )
                raise PredictError(msg)
            owner[key] = (name, file)


def _common_stem(stems: Sequence[str]) -> str:
    """What the file names of one scene share, in whole words.

    ``S1A_..._48`` of ``S1A_..._48_VV`` and ``S1A_..._48_VH``; ``scene`` of
    ``scene_vv`` and ``scene_vh`` (not ``scene_v``).
    """
    prefix = stems[0]
    for stem in stems[1:]:
        while not stem.startswith(prefix):
            prefix = prefix[:-1]
    if any(len(s) > len(prefix) and s[len(prefix)] not in _WORD_ENDS for s in stems):
        prefix = prefix[: max((prefix.rfind(c) for c in _WORD_ENDS), default=-1) + 1]
    return prefix.rstrip(_WORD_ENDS) or 'scene'


def _band_files_in(directory: Path) -> tuple[tuple[str, Path], ...]:
    """The band files of a directory, one per band (the finest resolution)."""
    candidates: dict[str, list[Path]] = {}
    for path in sorted(directory.rglob('*')):
        if path.suffix.lower() not in RASTER_EXTENSIONS or path.is_dir():
            continue
        # Only below the folder given: its own parents may be named anyhow.
        if any(p.startswith(_NOT_BANDS) for p in path.relative_to(directory).parts):
            continue
        code = band_code(path.stem)
        if code is None:
            continue
        if path.exists() and not path.is_file():
            # Skipped, its band would be missing for no reason the user can see;
            # opened, a FIFO would block forever.
            msg = (
                f'{path}: not a regular file (a FIFO, device or socket); give a raster'
            )
            raise PredictError(msg)
        if path.is_file():
            candidates.setdefault(code, []).append(path)
    if not candidates:
        msg = (
            f'{directory}: no band file found (raster files whose names carry one '
            'band code, such as ..._B08.tif or ..._VV.tif); name the files with '
            '--band-file NAME=PATH'
        )
        raise PredictError(msg)
    chosen = {
        code: _finest(directory, code, paths) for code, paths in candidates.items()
    }
    return tuple((code, chosen[code]) for code in sorted(chosen, key=band_order))


def _finest(directory: Path, code: str, paths: list[Path]) -> Path:
    """The finest-resolution file of a band; several at that resolution are refused."""
    if len(paths) == 1:
        return paths[0]
    import rasterio
    from rasterio.errors import RasterioIOError

    sizes = {}
    for path in paths:
        try:
            with rasterio.open(path) as src:
                sizes[path] = abs(src.res[0])
        except RasterioIOError as err:
            msg = f'{path}: not a readable raster ({str(err).splitlines()[0]})'
            raise PredictError(msg) from err
    finest = min(sizes.values())
    best = [p for p, r in sizes.items() if r == finest]
    if len(best) > 1:
        shown = ', '.join(str(p.relative_to(directory)) for p in best)
        msg = (
            f'{directory}: several files for band {code} ({shown}); keep one, or name '
            'the files with --band-file NAME=PATH'
        )
        raise PredictError(msg)
    return best[0]
