import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from geokd import losses


def _ce(logits: list[float], target: int) -> float:
    """Cross-entropy of one sample, by hand."""
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def test_classification_loss_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    labels = torch.tensor([0, 2])
    expected = (_ce([2.0, 0.0, -1.0], 0) + _ce([0.5, 0.5, 0.0], 2)) / 2
    assert losses.classification_loss(logits, labels).item() == pytest.approx(expected)


def test_auxiliary_loss_is_sum_of_both_heads() -> None:
    inf = torch.tensor([[1.0, 0.0]])
    inv = torch.tensor([[0.0, 3.0]])
    y = torch.tensor([1])
    expected = _ce([1.0, 0.0], 1) + _ce([0.0, 3.0], 1)
    assert losses.auxiliary_loss(inf, inv, y).item() == pytest.approx(expected)


def test_modality_loss_uses_integer_targets() -> None:
    inf = torch.tensor([[4.0, 0.0], [0.0, 1.0]])
    irr = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    m = torch.tensor([0, 1])
    # One mean over the four rows, as the reference's single cross-entropy.
    expected = (
        _ce([4.0, 0.0], 0)
        + _ce([0.0, 1.0], 1)
        + _ce([0.0, 0.0], 0)
        + _ce([2.0, 0.0], 1)
    ) / 4
    assert losses.modality_loss(inf, irr, m).item() == pytest.approx(expected)


def test_modality_loss_is_one_cross_entropy_over_the_concatenation() -> None:
    # The reference's reduction, worked out independently: log-softmax by hand over
    # D_inf and D_irr logits of all modalities stacked, one mean over every row.
    torch.manual_seed(0)
    inf, irr = torch.randn(6, 3), torch.randn(6, 3)
    m = torch.tensor([0, 0, 1, 1, 2, 2])
    rows = [*inf.tolist(), *irr.tolist()]
    targets = [*m.tolist(), *m.tolist()]
    nll = [
        math.log(sum(math.exp(v) for v in row)) - row[t]
        for row, t in zip(rows, targets, strict=True)
    ]
    expected = sum(nll) / len(nll)
    assert losses.modality_loss(inf, irr, m).item() == pytest.approx(expected)
    # Half the sum of the two cross-entropies geokd used to take.
    summed = F.cross_entropy(inf, m) + F.cross_entropy(irr, m)
    assert losses.modality_loss(inf, irr, m).item() == pytest.approx(summed.item() / 2)


def test_adversarial_loss_by_hand() -> None:
    adv = torch.tensor([[1.0, 2.0, 3.0]])
    m = torch.tensor([2])
    assert losses.adversarial_loss(adv, m).item() == pytest.approx(
        _ce([1.0, 2.0, 3.0], 2)
    )


def test_orthogonality_loss_zero_for_orthogonal_one_for_identical() -> None:
    a = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    b = torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    c = torch.tensor([[0.0, 0.0, 5.0], [7.0, 0.0, 0.0]])
    assert losses.orthogonality_loss(a, b, c).item() == pytest.approx(0.0)
    z = torch.rand(8, 16) + 0.1
    assert losses.orthogonality_loss(z, z, 3 * z).item() == pytest.approx(2.0)


def test_mean_cosine_by_hand() -> None:
    a = torch.tensor([[1.0, 1.0]])
    b = torch.tensor([[1.0, 0.0]])
    assert losses.mean_cosine(a, b).item() == pytest.approx(1 / math.sqrt(2))


def test_total_loss_weights_and_ablation() -> None:
    terms = {
        k: torch.tensor(float(i + 1))
        for i, k in enumerate(['cl', 'aux', 'mod', 'adv', 'perp'])
    }
    assert losses.discomkd_loss(terms).item() == pytest.approx(15.0)
    without_adv = losses.LossWeights(adv=0.0, perp=2.0)
    assert losses.discomkd_loss(terms, without_adv).item() == pytest.approx(
        1 + 2 + 3 + 10
    )


def test_discriminator_learns_separable_modalities_with_integer_targets() -> None:
    # The reference's float all-ones targets cannot teach this; integer labels must.
    torch.manual_seed(0)
    z = torch.cat([torch.randn(64, 8) + 3, torch.randn(64, 8) - 3])
    m = torch.cat([torch.zeros(64, dtype=torch.long), torch.ones(64, dtype=torch.long)])
    disc = nn.Linear(8, 2)
    opt = torch.optim.SGD(disc.parameters(), lr=0.1)
    start = losses.adversarial_loss(disc(z), m).item()
    for _ in range(100):
        opt.zero_grad()
        loss = losses.adversarial_loss(disc(z), m)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 < start
    assert (disc(z).argmax(1) == m).float().mean().item() == 1.0
