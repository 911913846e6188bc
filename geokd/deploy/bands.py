"""Which of a scene's bands feed the model, and in which order (pure functions)."""

import re
from collections.abc import Sequence
from pathlib import Path

from .options import PredictError

_BAND_NUMBER = re.compile(r'^B0*(\d+A?)$')


def canonical_band(name: str) -> str:
    """Compare band names loosely: case-insensitive, 'B01' equals 'B1'.

    Args:
        name: A band name or description.

    Returns:
        The name in the form band names are compared in.
    """
    name = name.strip().upper()
    match = _BAND_NUMBER.match(name)
    return f'B{match.group(1)}' if match else name


def resolve_bands(
    path: Path,
    descriptions: Sequence[str | None],
    expected: Sequence[str],
    in_channels: int,
    bands: Sequence[str | int] | None,
) -> list[int]:
    """Choose the scene's bands (1-based) that feed the model, in the model's order.

    Args:
        path: The scene (for error messages).
        descriptions: The scene's band descriptions.
        expected: The model's band names (may be empty).
        in_channels: Number of bands the model reads.
        bands: User selection: 1-based indexes or band names; None matches the
            model's band names to the descriptions, or takes the bands in file order
            when the counts agree.

    Returns:
        1-based band indexes.

    Raises:
        PredictError: If the bands cannot be matched.
    """
    count = len(descriptions)
    names = [canonical_band(d) if d else None for d in descriptions]
    if any(descriptions):
        listing = f' ({", ".join(d or "?" for d in descriptions)})'
    else:
        listing = ' (unnamed)'
    wanted = f'{in_channels} bands' + (f' ({", ".join(expected)})' if expected else '')
    if bands:
        indexes = [_selected_band(path, b, names, listing) for b in bands]
        if len(indexes) != in_channels:
            msg = f'--bands selects {len(indexes)} bands but the model reads {wanted}'
            raise PredictError(msg)
        return indexes
    model_names = [canonical_band(b) for b in expected]
    if model_names and all(b in names for b in model_names):
        return [names.index(b) + 1 for b in model_names]
    if count == in_channels:
        return list(range(1, count + 1))
    msg = (
        f'{path}: has {count} band(s){listing} but the model reads {wanted}; '
        'select them with --bands'
    )
    raise PredictError(msg)


def _selected_band(
    path: Path, band: str | int, names: Sequence[str | None], listing: str
) -> int:
    """The 1-based index of one band the user selected by index or by name."""
    if isinstance(band, int) or str(band).isdigit():
        index = int(band)
        if not 1 <= index <= len(names):
            msg = f'{path}: has no band {index} (it has {len(names)}{listing})'
            raise PredictError(msg)
        return index
    if canonical_band(str(band)) in names:
        return names.index(canonical_band(str(band))) + 1
    msg = f'{path}: has no band named {band!r} (bands{listing})'
    raise PredictError(msg)
