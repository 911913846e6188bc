"""Compare a class map with a reference raster: the evaluation of ``geokd evaluate``."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import geokd

from .areas import cell_areas
from .metrics import confusion_matrix
from .rasters import read_class_map, read_reference
from .reference import reference_classes
from .report import areas_km2, record


def evaluate_map(
    map_path: Path,
    reference_path: Path,
    kind: str = 'labels',
    ignore: Sequence[float] = (),
    thresholds: Sequence[float] = (0.05, 0.5),
    min_labelled: float = 0.5,
) -> dict[str, Any]:
    """Evaluate a class map against a reference on the map's grid.

    Args:
        map_path: The class map (``geokd predict``'s ``*_classes.tif``).
        reference_path: The reference raster.
        kind: 'labels' or 'flood-fraction' (see :mod:`.reference`).
        ignore: Reference values meaning "unlabelled", besides its nodata.
        thresholds: For 'flood-fraction', where each class after the first starts.
        min_labelled: Least labelled share of a cell for it to be compared.

    Returns:
        The evaluation (:func:`~geokd.evaluate.report.record`).

    Raises:
        GeokdError: On unreadable or mismatched inputs (one line naming the file).
    """
    class_map = read_class_map(map_path)
    reference = read_reference(reference_path, ignore)
    true = reference_classes(class_map, reference, kind, thresholds, min_labelled)
    labelled = true >= 0
    compared = labelled & class_map.valid
    n = len(class_map.names)
    pred, truth = class_map.classes[compared].astype(np.int64), true[compared]
    rows = np.nonzero(compared)[0]
    row_areas = cell_areas(
        class_map.grid.transform, class_map.grid.crs, class_map.grid.height
    )
    about = {
        'version': geokd.__version__,
        'map': str(map_path),
        'reference': str(reference_path),
        'reference_kind': kind,
        'ignored_values': [float(v) for v in ignore],
        'min_labelled': min_labelled,
        **({'thresholds': list(thresholds)} if kind == 'flood-fraction' else {}),
        'map_evaluation': class_map.tags.get('EVALUATION', 'patch'),
    }
    cells = {
        'compared': int(compared.sum()),
        'map_nodata': int((labelled & ~class_map.valid).sum()),
        'unlabelled': int((class_map.valid & ~labelled).sum()),
    }
    return record(
        confusion_matrix(truth, pred, n),
        class_map.names,
        areas_km2(pred, rows, row_areas, n),
        areas_km2(truth, rows, row_areas, n),
        cells,
        about,
    )
