"""The evaluation of a map: its JSON record and its table (pure functions)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import scores

#: Key that marks a JSON file as written by ``geokd evaluate`` (it may be replaced).
MARK = 'geokd_evaluate'


def areas_km2(
    classes: np.ndarray, rows: np.ndarray, row_areas: np.ndarray | None, n: int
) -> list[float] | None:
    """Area of each class among the compared cells, in km².

    Args:
        classes: Class of each compared cell.
        rows: Row of each compared cell.
        row_areas: Area in m² of one cell of each row, or None when unknown.
        n: Number of classes.

    Returns:
        Areas per class, or None.
    """
    if row_areas is None:
        return None
    sums = np.bincount(classes, weights=row_areas[rows], minlength=n)
    return [float(a) / 1e6 for a in sums]


def record(
    matrix: np.ndarray,
    names: Sequence[str],
    mapped_km2: list[float] | None,
    reference_km2: list[float] | None,
    cells: dict[str, int],
    about: dict[str, Any],
) -> dict[str, Any]:
    """The evaluation as JSON-compatible data.

    Args:
        matrix: Confusion matrix of the compared cells (rows the reference).
        names: Class names.
        mapped_km2: Mapped area per class among the compared cells.
        reference_km2: Reference area per class among the same cells.
        cells: Cell counts (compared, and why others were not).
        about: The inputs and options (map, reference, kind, ...).

    Returns:
        The record, :data:`MARK` first.
    """
    s = scores(matrix)
    per_class = [
        {
            'class': name,
            'precision': s['precision'][i],
            'recall': s['recall'][i],
            'f1': s['f1'][i],
            'iou': s['iou'][i],
            'reference_cells': int(matrix[i].sum()),
            'mapped_cells': int(matrix[:, i].sum()),
            'reference_km2': None if reference_km2 is None else reference_km2[i],
            'mapped_km2': None if mapped_km2 is None else mapped_km2[i],
        }
        for i, name in enumerate(names)
    ]
    overall = {
        k: s[k]
        for k in ('overall_accuracy', 'kappa', 'macro_f1', 'weighted_f1', 'mean_iou')
    }
    return {
        MARK: about.pop('version'),
        **about,
        'classes': list(names),
        'cells': cells,
        **overall,
        'per_class': per_class,
        'confusion_matrix': {
            'rows': 'reference',
            'columns': 'map',
            'counts': matrix.astype(int).tolist(),
        },
    }


def _num(value: float | None, digits: int = 3) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def table(evaluation: dict[str, Any]) -> str:
    """The evaluation as text: confusion matrix, per-class scores and areas, totals.

    Args:
        evaluation: A :func:`record`.

    Returns:
        Lines of text.
    """
    names = evaluation['classes']
    counts = evaluation['confusion_matrix']['counts']
    cells = evaluation['cells']
    width = max(12, *map(len, names)) + 2
    col = max(9, *(len(n) + 1 for n in names))
    lines = [
        f'{evaluation["map"]} against {evaluation["reference"]} '
        f'({evaluation["reference_kind"]}): {cells["compared"]} cells compared',
        '',
        'confusion matrix (cells; rows: reference, columns: map)',
        ' ' * width + ''.join(f'{n:>{col}}' for n in names),
        *(
            f'{n:<{width}}' + ''.join(f'{c:>{col}}' for c in row)
            for n, row in zip(names, counts, strict=True)
        ),
        '',
        f'{"class":<{width}}{"precision":>10}{"recall":>8}{"F1":>7}{"IoU":>7}'
        f'{"reference km2":>15}{"mapped km2":>12}',
    ]
    for c in evaluation['per_class']:
        lines.append(
            f'{c["class"]:<{width}}{_num(c["precision"]):>10}{_num(c["recall"]):>8}'
            f'{_num(c["f1"]):>7}{_num(c["iou"]):>7}'
            f'{_num(c["reference_km2"], 4):>15}{_num(c["mapped_km2"], 4):>12}'
        )
    lines += [
        '',
        f'overall accuracy {_num(evaluation["overall_accuracy"])}, '
        f'kappa {_num(evaluation["kappa"])}, macro F1 {_num(evaluation["macro_f1"])}, '
        f'weighted F1 {_num(evaluation["weighted_f1"])}, '
        f'mean IoU {_num(evaluation["mean_iou"])}',
        f'not compared: {cells["map_nodata"]} labelled cells the map leaves nodata, '
        f'{cells["unlabelled"]} mapped cells without reference',
    ]
    return '\n'.join(lines)
