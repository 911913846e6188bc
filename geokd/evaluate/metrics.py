"""A confusion matrix of cells and the scores derived from it (pure functions)."""

from typing import Any

import numpy as np


def confusion_matrix(
    true: np.ndarray, pred: np.ndarray, num_classes: int
) -> np.ndarray:
    """Count cells per reference class (rows) and mapped class (columns).

    Args:
        true: Reference classes of the compared cells, in ``0 .. num_classes - 1``.
        pred: Mapped classes of the same cells.
        num_classes: Number of classes.

    Returns:
        ``(num_classes, num_classes)`` int64 counts, rows the reference.
    """
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    if true.size == 0:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    matrix = multiclass_confusion_matrix(
        torch.from_numpy(np.asarray(pred, dtype=np.int64)),
        torch.from_numpy(np.asarray(true, dtype=np.int64)),
        num_classes,
        validate_args=False,
    )
    return matrix.numpy().astype(np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> list[float | None]:
    """``num / den`` per class; None where ``den`` is 0 (undefined, not zero)."""
    return [float(n / d) if d else None for n, d in zip(num, den, strict=True)]


def scores(matrix: np.ndarray) -> dict[str, Any]:
    """Per-class and overall agreement of a map with its reference.

    A per-class score whose denominator is zero (a class neither in the reference
    nor in the map, say) is undefined: None, not 0. Macro F1 and mean IoU average
    the classes present in the reference or the map; weighted F1 weighs each class
    by its reference cells.

    Args:
        matrix: Confusion matrix, rows the reference, columns the map.

    Returns:
        ``precision``, ``recall``, ``f1`` and ``iou`` (lists per class),
        ``overall_accuracy``, ``kappa`` (Cohen's), ``macro_f1``, ``weighted_f1`` and
        ``mean_iou``; None where no cell was compared.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    reference, mapped = matrix.sum(1), matrix.sum(0)
    total = matrix.sum()
    f1 = _ratio(2 * tp, reference + mapped)
    iou = _ratio(tp, reference + mapped - tp)
    present = [c for c in range(len(tp)) if reference[c] + mapped[c] > 0]
    result: dict[str, Any] = {
        'precision': _ratio(tp, mapped),
        'recall': _ratio(tp, reference),
        'f1': f1,
        'iou': iou,
        'overall_accuracy': None,
        'kappa': None,
        'macro_f1': None,
        'weighted_f1': None,
        'mean_iou': None,
    }
    if not total:
        return result
    observed = tp.sum() / total
    expected = float((reference * mapped).sum() / total**2)
    result['overall_accuracy'] = float(observed)
    result['kappa'] = (
        float((observed - expected) / (1 - expected)) if expected < 1 else None
    )
    result['macro_f1'] = float(np.mean([f1[c] for c in present]))
    result['mean_iou'] = float(np.mean([iou[c] for c in present]))
    result['weighted_f1'] = float(
        sum(reference[c] * (f1[c] or 0.0) for c in range(len(tp))) / total
    )
    return result
