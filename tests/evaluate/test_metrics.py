import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_f1_score,
    multiclass_jaccard_index,
    multiclass_precision,
    multiclass_recall,
)

from geokd.evaluate.metrics import confusion_matrix, scores

TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
PRED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_confusion_matrix_rows_are_the_reference() -> None:
    matrix = confusion_matrix(TRUE, PRED, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]


def test_scores_of_a_known_matrix() -> None:
    s = scores(np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]]))
    assert s['precision'] == pytest.approx([1 / 2, 2 / 3, 1])
    assert s['recall'] == pytest.approx([1 / 2, 1, 2 / 3])
    assert s['f1'] == pytest.approx([1 / 2, 4 / 5, 4 / 5])
    assert s['iou'] == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert s['overall_accuracy'] == pytest.approx(5 / 7)
    assert s['kappa'] == pytest.approx(19 / 33)
    assert s['weighted_f1'] == pytest.approx((2 * 0.5 + 2 * 0.8 + 3 * 0.8) / 7)
    assert s['macro_f1'] == pytest.approx(0.7)
    assert s['mean_iou'] == pytest.approx(5 / 9)


def test_scores_agree_with_torchmetrics() -> None:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 500)
    pred = np.where(rng.random(500) < 0.6, true, rng.integers(0, 4, 500))
    s = scores(confusion_matrix(true, pred, 4))
    p, t = torch.from_numpy(pred), torch.from_numpy(true)
    for key, metric in {
        'precision': multiclass_precision,
        'recall': multiclass_recall,
        'f1': multiclass_f1_score,
        'iou': multiclass_jaccard_index,
    }.items():
        assert s[key] == pytest.approx(metric(p, t, 4, average=None).tolist()), key
    weighted = multiclass_f1_score(p, t, 4, average='weighted')
    assert s['weighted_f1'] == pytest.approx(float(weighted))


def test_a_class_absent_from_both_is_undefined_not_zero() -> None:
    s = scores(np.array([[3, 1, 0], [0, 4, 0], [0, 0, 0]]))
    assert s['f1'][2] is None
    assert s['iou'][2] is None
    assert s['precision'][2] is None
    assert s['macro_f1'] == pytest.approx(np.mean([6 / 7, 8 / 9]))


def test_a_class_only_in_the_map_scores_zero() -> None:
    s = scores(np.array([[3, 1], [0, 0]]))
    assert s['recall'][1] is None
    assert s['precision'][1] == 0
    assert s['f1'][1] == 0
    assert s['weighted_f1'] == pytest.approx(6 / 7)


def test_one_class_everywhere_agreeing_has_no_kappa() -> None:
    s = scores(np.array([[5, 0], [0, 0]]))
    assert s['overall_accuracy'] == 1
    assert s['kappa'] is None


def test_no_cells_give_no_overall_scores() -> None:
    s = scores(confusion_matrix(np.array([], int), np.array([], int), 2))
    assert s['overall_accuracy'] is None
    assert s['weighted_f1'] is None
