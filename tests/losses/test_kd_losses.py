"""Each KD loss against values worked out by hand on two- and three-class examples."""

import math

import pytest
import torch

from geokd.losses import (
    batch_correlation_loss,
    class_correlation_loss,
    dkd_loss,
    dkd_warmup,
    kd_loss,
    mlkd_loss,
    standardize_logits,
)

# Teacher softmax (0.75, 0.25) against a uniform student: KL = .75 ln 1.5 + .25 ln .5.
KL_75_50 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)


def test_standardize_logits_is_a_row_z_score() -> None:
    out = standardize_logits(torch.tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 16.0]]))
    # Row 2: mean 12, unbiased std sqrt((4 + 4 + 16) / 2) = sqrt(12).
    s = math.sqrt(12)
    expected = torch.tensor([[-1.0, 0.0, 1.0], [-2 / s, -2 / s, 4 / s]])
    torch.testing.assert_close(out, expected)


def test_kd_loss_temperature_one() -> None:
    student = torch.zeros(2, 2)
    teacher = torch.tensor([[math.log(3), 0.0]] * 2)
    assert kd_loss(student, teacher, 1.0).item() == pytest.approx(KL_75_50)


def test_kd_loss_scales_by_temperature_squared() -> None:
    student = torch.zeros(1, 2)
    teacher = torch.tensor([[math.log(9), 0.0]])
    # At T = 2 the teacher's logits halve to (ln 3, 0): softmax (0.75, 0.25).
    assert kd_loss(student, teacher, 2.0).item() == pytest.approx(4 * KL_75_50)
    assert kd_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-7)


def test_dkd_loss_splits_target_and_non_target() -> None:
    # Teacher softmax (4, 3, 1) / 8, student uniform, target class 0.
    student = torch.zeros(1, 3)
    teacher = torch.tensor([[math.log(4), math.log(3), 0.0]])
    labels = torch.tensor([0])
    # TCKD: binary teacher (1/2, 1/2) against student (1/3, 2/3).
    tckd = 0.5 * math.log(0.5 / (1 / 3)) + 0.5 * math.log(0.5 / (2 / 3))
    # NCKD: non-target teacher (3/4, 1/4) against student (1/2, 1/2).
    nckd = KL_75_50
    out = dkd_loss(student, teacher, labels, alpha=1.0, beta=8.0, temperature=1.0)
    assert out.item() == pytest.approx(tckd + 8 * nckd, rel=1e-5)
    only_tckd = dkd_loss(student, teacher, labels, alpha=1.0, beta=0.0, temperature=1.0)
    assert only_tckd.item() == pytest.approx(tckd, rel=1e-5)
    # T = 2 on logits doubled gives the same distributions, times T**2.
    at_t2 = dkd_loss(student, 2 * teacher, labels, alpha=1.0, beta=8.0, temperature=2.0)
    assert at_t2.item() == pytest.approx(4 * (tckd + 8 * nckd), rel=1e-5)


def test_dkd_loss_averages_over_samples() -> None:
    student = torch.zeros(3, 3)
    teacher = torch.tensor([[math.log(4), math.log(3), 0.0]] * 3)
    one = dkd_loss(student[:1], teacher[:1], torch.tensor([0]), temperature=1.0)
    three = dkd_loss(student, teacher, torch.tensor([0, 0, 0]), temperature=1.0)
    assert three.item() == pytest.approx(one.item(), rel=1e-5)


def test_dkd_warmup() -> None:
    assert dkd_warmup(5, 20) == 0.25
    assert dkd_warmup(40, 20) == 1.0
    assert dkd_warmup(3, 0) == 1.0


def test_mlkd_levels_by_hand() -> None:
    student = torch.zeros(2, 2)
    teacher = torch.tensor([[math.log(3), 0.0], [0.0, math.log(3)]])
    # P_t = [[.75, .25], [.25, .75]], P_s = 1/2 everywhere. Both Gram matrices of
    # P_t are [[.625, .375], [.375, .625]] against 1/2: squared errors 4 * 1/64.
    assert batch_correlation_loss(student, teacher, 1.0).item() == pytest.approx(
        0.0625 / 2
    )
    assert class_correlation_loss(student, teacher, 1.0).item() == pytest.approx(
        0.0625 / 2
    )
    total = mlkd_loss(student, teacher, temperatures=(1.0,))
    assert total.item() == pytest.approx(KL_75_50 + 0.0625, rel=1e-5)
    two = mlkd_loss(student, teacher, temperatures=(1.0, 1.0))
    assert two.item() == pytest.approx(2 * total.item(), rel=1e-5)
    with pytest.raises(ValueError, match='temperature'):
        mlkd_loss(student, teacher, temperatures=())


def test_losses_vanish_when_student_equals_teacher() -> None:
    logits = torch.randn(4, 5)
    labels = torch.tensor([0, 1, 2, 3])
    assert kd_loss(logits, logits).item() == pytest.approx(0.0, abs=1e-6)
    assert dkd_loss(logits, logits, labels).item() == pytest.approx(0.0, abs=1e-5)
    assert mlkd_loss(logits, logits).item() == pytest.approx(0.0, abs=1e-5)
