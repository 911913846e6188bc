"""Which of a scene's bands feed the model, and in which order (pure functions).

Bands are matched by name, never guessed: a scene whose bands carry no names is
refused unless the user says which band is which (``--bands``), or says that the
file's order is the model's (``--bands file-order``). Names are compared in a
canonical spelling (:func:`canonical_band`), and single-band files are named by the
band code in their file name (:func:`band_code`).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import PredictError

#: The ``--bands`` value that takes the scene's bands in file order, knowingly.
FILE_ORDER = 'file-order'

_BAND_NUMBER = re.compile(r'^(?:S2_)?B0*(\d+A?)$')
#: Sentinel-2 band codes (B1..B12, B8A in any spelling) and SAR polarisations.
_CODE = re.compile(r'^(?:B0*(\d{1,2}A?)|VV|VH|HH|HV)$')
_SEPARATORS = re.compile(r'[\s_.\-]+')
_POLARISATIONS = ('VV', 'VH', 'HH', 'HV')


def canonical_band(name: str) -> str:
    """Compare band names loosely: case-insensitive, 'B01', 'B1' and 'S2_B01' alike.

    Args:
        name: A band name or description.

    Returns:
        The name in the form band names are compared in (``B8A``, ``VV``, ...).
    """
    name = name.strip().upper()
    match = _BAND_NUMBER.match(name)
    return f'B{match.group(1)}' if match else name


def band_code(text: str) -> str | None:
    """The one band code a file name or description carries, if any.

    Words are separated by ``_``, ``-``, ``.`` or spaces, so Sentinel-2 band files
    (``T31TCJ_20200101T105441_B8A_20m.jp2``, ``..._B08.tif``), Sentinel-1 files
    (``s1a-iw-grd-vv-20200101t....tiff``, ``..._VH.tif``) and SNAP band names
    (``Sigma0_VV_db``) are recognised.

    Args:
        text: A file name (with or without extension) or a band description.

    Returns:
        The canonical code (``B8A``, ``B2``, ``VV``), or None when the text carries
        none or several different ones.
    """
    found = set()
    for word in _SEPARATORS.split(text.upper()):
        if _CODE.match(word):
            found.add(canonical_band(word))
    return found.pop() if len(found) == 1 else None


def band_order(name: str) -> tuple[int, float, str]:
    """Sort key putting bands in their sensor's usual order (B1..B8, B8A, B9..B12).

    Args:
        name: A canonical band name.

    Returns:
        The key.
    """
    match = _BAND_NUMBER.match(name)
    if match:
        code = match.group(1)
        return 0, int(code.rstrip('A')) + (0.5 if code.endswith('A') else 0), name
    if name in _POLARISATIONS:
        return 1, _POLARISATIONS.index(name), name
    return 2, 0, name


@dataclass(frozen=True)
class BandMatch:
    """One model band and the scene band that feeds it.

    Attributes:
        model: The model's band name (its 1-based position when unnamed).
        index: 1-based band of the scene.
        scene: The scene band's name, None when unnamed.
        file: The file the band is read from, for scenes of several files.
    """

    model: str
    index: int
    scene: str | None
    file: str | None = None

    def __str__(self) -> str:
        """``model <- index (scene name)``, or ``model <- file name``."""
        if self.file:
            return f'{self.model} <- {Path(self.file).name}'
        return f'{self.model} <- {self.index}' + (
            f' ({self.scene})' if self.scene else ''
        )


def describe_mapping(matches: Sequence[BandMatch]) -> str:
    """The resolved mapping on one line.

    Args:
        matches: The mapping, in the model's order.

    Returns:
        E.g. ``VV <- 1 (VV), VH <- 2 (VH)``.
    """
    return ', '.join(str(m) for m in matches)


def resolve_bands(
    scene: object,
    names: Sequence[str | None],
    expected: Sequence[str],
    in_channels: int,
    bands: Sequence[str | int] | None,
) -> list[BandMatch]:
    """Choose the scene's bands that feed the model, in the model's order.

    Args:
        scene: The scene (named in error messages).
        names: The scene's band names (descriptions or codes), None where unnamed.
        expected: The model's band names (may be empty for models of unnamed data).
        in_channels: Number of bands the model reads.
        bands: The user's selection: 1-based indexes or band names in the model's
            order, or ``[FILE_ORDER]``; None matches the model's band names to the
            scene's.

    Returns:
        One match per model band, in the model's order.

    Raises:
        PredictError: With one line naming the scene, if the bands cannot be
            matched: unnamed bands without ``--bands``, a band missing or named twice,
            a ``--bands`` entry out of range, repeated or of the wrong count.
    """
    model = list(expected) or [str(i + 1) for i in range(in_channels)]
    if bands:
        indexes = _selection(scene, bands, names, model, in_channels)
    elif expected:
        indexes = _match_names(scene, names, model)
    elif len(names) == in_channels:
        # The model records no band names (e.g. RGB images): nothing to match.
        indexes = list(range(1, in_channels + 1))
    else:
        msg = (
            f'{scene}: has {len(names)} band(s) ({_listing(names)}) but the model '
            f'reads {in_channels} (its bands have no names); select them with --bands'
        )
        raise PredictError(msg)
    return [BandMatch(m, i, names[i - 1]) for m, i in zip(model, indexes, strict=True)]


def _listing(names: Sequence[str | None]) -> str:
    """``VV, VH``, ``unnamed`` or ``VV, ?``."""
    if not any(names):
        return 'unnamed'
    return ', '.join(n or '?' for n in names)


def _match_names(
    scene: object, names: Sequence[str | None], model: Sequence[str]
) -> list[int]:
    """Match the model's band names to the scene's."""
    order = ', '.join(model)
    if not any(names):
        example = ','.join(str(i + 1) for i in range(min(3, len(model))))
        msg = (
            f'{scene}: its {len(names)} band(s) carry no names, so which is which is '
            f'unknown; the model reads {len(model)} bands in this order: {order}; pass '
            f"--bands with the scene's band numbers in that order (e.g. --bands "
            f'{example}{",..." if len(model) > 3 else ""}), or --bands {FILE_ORDER} if '
            "the file's bands are exactly in that order"
        )
        raise PredictError(msg)
    canonical = [canonical_band(n) if n else None for n in names]
    wanted = [canonical_band(b) for b in model]
    twice = sorted({b for b in wanted if canonical.count(b) > 1})
    if twice:
        msg = (
            f'{scene}: has several bands named {", ".join(twice)} (its bands: '
            f'{_listing(names)}); select the ones to use with --bands'
        )
        raise PredictError(msg)
    missing = [b for b, w in zip(model, wanted, strict=True) if w not in canonical]
    if missing:
        msg = (
            f'{scene}: has no band {", ".join(missing)} (its bands: '
            f'{_listing(names)}); the model reads {order}'
        )
        present = [b for b in model if b not in missing]
        if present:
            msg += (
                '; a model needs every band it was trained on: classify this scene '
                f'with a model trained on {", ".join(present)} only'
            )
        raise PredictError(msg)
    return [canonical.index(w) + 1 for w in wanted]


def _selection(
    scene: object,
    bands: Sequence[str | int],
    names: Sequence[str | None],
    model: Sequence[str],
    in_channels: int,
) -> list[int]:
    """The 1-based bands of a ``--bands`` selection, checked."""
    count = len(names)
    wanted = f'{in_channels} bands ({", ".join(model)})'
    if [str(b) for b in bands] == [FILE_ORDER]:
        if count != in_channels:
            msg = (
                f"{scene}: --bands {FILE_ORDER} needs exactly the model's "
                f'{wanted} but the scene has {count} ({_listing(names)})'
            )
            raise PredictError(msg)
        return list(range(1, count + 1))
    indexes = [_selected_band(scene, b, names) for b in bands]
    repeated = sorted({i for i in indexes if indexes.count(i) > 1})
    if repeated:
        msg = (
            f'{scene}: --bands uses band {", ".join(map(str, repeated))} more than '
            'once; each model band needs its own scene band'
        )
        raise PredictError(msg)
    if len(indexes) != in_channels:
        msg = (
            f'{scene}: --bands selects {len(indexes)} band(s) but the model reads '
            f'{wanted}'
        )
        raise PredictError(msg)
    return indexes


def _selected_band(scene: object, band: str | int, names: Sequence[str | None]) -> int:
    """The 1-based index of one band the user selected by index or by name."""
    text = str(band).strip()
    if text.isdigit():
        index = int(text)
        if not 1 <= index <= len(names):
            msg = (
                f'{scene}: has no band {index} (it has {len(names)}: {_listing(names)})'
            )
            raise PredictError(msg)
        return index
    canonical = [canonical_band(n) if n else None for n in names]
    if canonical_band(text) in canonical:
        return canonical.index(canonical_band(text)) + 1
    msg = f'{scene}: has no band named {text!r} (its bands: {_listing(names)})'
    raise PredictError(msg)
