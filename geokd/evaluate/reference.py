"""A reference raster brought onto a class map's grid, as classes (pure functions).

A label raster is resampled by the mode of the labelled pixels in each cell; a flood
mask gives each cell its flooded fraction among labelled pixels, classed by the rule
the dataset labels patches with (:func:`geokd.datasets.ombria.fraction_classes`).
Either way a cell is compared only where enough of it is labelled.
"""

from collections.abc import Sequence

import numpy as np
from rasterio.warp import Resampling, reproject, transform_bounds

from geokd.errors import GeokdError

from .rasters import ClassMap, Grid, Reference

#: How a reference becomes classes: its values are classes, or a flood mask.
KINDS = ('labels', 'flood-fraction')
#: Nodata of resampled labels (no class index reaches it).
_NO_LABEL = np.iinfo(np.int32).min


def _onto(
    source: np.ndarray, grid: Grid, target: Grid, nodata: float | None, how: Resampling
) -> np.ndarray:
    """Resample one array from ``grid`` onto ``target``."""
    fill = 0 if nodata is None else nodata
    out = np.full((target.height, target.width), fill, dtype=source.dtype)
    reproject(
        source,
        out,
        src_transform=grid.transform,
        src_crs=grid.crs,
        src_nodata=nodata,
        dst_transform=target.transform,
        dst_crs=target.crs,
        dst_nodata=nodata,
        resampling=how,
    )
    return out


def check_overlap(reference: Reference, class_map: ClassMap) -> None:
    """Refuse a reference that does not overlap the map.

    Args:
        reference: The reference.
        class_map: The map.

    Raises:
        GeokdError: If their bounds, in the map's CRS, do not intersect.
    """
    left, bottom, right, top = transform_bounds(
        reference.grid.crs, class_map.grid.crs, *reference.grid.bounds
    )
    l2, b2, r2, t2 = class_map.grid.bounds
    if left >= r2 or right <= l2 or bottom >= t2 or top <= b2:
        msg = (
            f'{reference.path}: does not overlap {class_map.path} (its bounds in '
            f'{class_map.grid.crs}: {left:.6g}, {bottom:.6g}, {right:.6g}, {top:.6g}; '
            f"the map's: {l2:.6g}, {b2:.6g}, {r2:.6g}, {t2:.6g})"
        )
        raise GeokdError(msg)


def labelled_fraction(reference: Reference, grid: Grid) -> np.ndarray:
    """Share of each cell of ``grid`` covered by labelled reference pixels.

    Args:
        reference: The reference.
        grid: The map's grid.

    Returns:
        ``(H, W)`` float32 in 0..1 (0 outside the reference).
    """
    labelled = reference.labelled.astype(np.float32)
    return _onto(labelled, reference.grid, grid, None, Resampling.average)


def label_classes(reference: Reference, grid: Grid, num_classes: int) -> np.ndarray:
    """The reference's labels on ``grid``: the most frequent labelled value per cell.

    Args:
        reference: A label raster whose values are class indices.
        grid: The map's grid.
        num_classes: The map's number of classes.

    Returns:
        ``(H, W)`` int32 classes, -1 where no labelled pixel falls.

    Raises:
        GeokdError: If a labelled value is not a class index of the map, or the
            reference's class names are not as many as the map's.
    """
    path, values = reference.path, reference.values[reference.labelled]
    if reference.names is not None and len(reference.names) != num_classes:
        msg = (
            f'{path}: names {len(reference.names)} classes, the map {num_classes} '
            '(compare a map with a reference of the same classes)'
        )
        raise GeokdError(msg)
    found = np.unique(values)
    wrong = found[(found < 0) | (found >= num_classes) | (found != np.round(found))]
    if wrong.size:
        shown = ', '.join(f'{v:g}' for v in wrong[:5].tolist())
        msg = (
            f'{path}: holds value(s) {shown}, but the map has {num_classes} classes '
            f'(0..{num_classes - 1}); give --ignore VALUE for unlabelled values, or '
            '--reference-kind flood-fraction for a flood mask'
        )
        raise GeokdError(msg)
    source = np.full(reference.values.shape, _NO_LABEL, dtype=np.int32)
    source[reference.labelled] = values.astype(np.int32)
    out = _onto(source, reference.grid, grid, _NO_LABEL, Resampling.mode)
    return np.where(out == _NO_LABEL, -1, out)


def flooded_fraction(reference: Reference, grid: Grid) -> np.ndarray:
    """Flooded share of the labelled pixels in each cell of ``grid``.

    Args:
        reference: A flood mask: 0 dry, any one other value flooded.
        grid: The map's grid.

    Returns:
        ``(H, W)`` float32 fractions, NaN where no labelled pixel falls.

    Raises:
        GeokdError: If the labelled pixels hold more than two values, or two
            without 0.
    """
    found = np.unique(reference.values[reference.labelled])
    if found.size > 2 or (found.size == 2 and 0 not in found):
        shown = ', '.join(f'{v:g}' for v in found[:5].tolist())
        msg = (
            f'{reference.path}: a flood mask holds 0 (dry) and one other value '
            f'(flooded), found {shown}{"..." if found.size > 5 else ""} (give '
            '--ignore VALUE for unlabelled values, or --reference-kind labels)'
        )
        raise GeokdError(msg)
    mask = np.where(reference.labelled, reference.values != 0, np.nan)
    return _onto(
        mask.astype(np.float32), reference.grid, grid, np.nan, Resampling.average
    )


def reference_classes(
    class_map: ClassMap,
    reference: Reference,
    kind: str = 'labels',
    thresholds: Sequence[float] = (0.05, 0.5),
    min_labelled: float = 0.5,
) -> np.ndarray:
    """The reference's class of every cell of the map.

    Args:
        class_map: The map.
        reference: The reference.
        kind: One of :data:`KINDS`.
        thresholds: For 'flood-fraction', the flooded fractions where each class
            after the first starts (OMBRIA's by default).
        min_labelled: Least share of a cell that must be labelled to compare it.

    Returns:
        ``(H, W)`` int64 classes, -1 where the reference gives none.

    Raises:
        GeokdError: If the rasters do not overlap, or the reference's classes do
            not match the map's.
    """
    from geokd.datasets.ombria import fraction_classes

    num_classes, grid = len(class_map.names), class_map.grid
    check_overlap(reference, class_map)
    if kind == 'labels':
        classes = label_classes(reference, grid, num_classes).astype(np.int64)
    else:
        if len(thresholds) + 1 != num_classes:
            msg = (
                f'{class_map.path}: has {num_classes} classes, but '
                f'{len(thresholds)} threshold(s) make {len(thresholds) + 1} (give '
                f'--thresholds with {num_classes - 1} values)'
            )
            raise GeokdError(msg)
        fraction = flooded_fraction(reference, grid)
        classes = fraction_classes(np.nan_to_num(fraction), thresholds).astype(np.int64)
        classes[np.isnan(fraction)] = -1
    classes[labelled_fraction(reference, grid) < min_labelled] = -1
    return classes
