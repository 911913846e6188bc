import kornia.augmentation as K
import pytest
import torch

from geokd.transforms import RandomFlipRotate90

# The eight ways to flip and turn a square (the dihedral group), as
# (horizontal flip, vertical flip, counter-clockwise quarter turns). Flipping both
# ways is a half turn, so each element has two spellings; the first is used here.
ELEMENTS = [(h, v, k) for h in (0, 1) for v in (0, 1) for k in range(4)]


def _apply(image: torch.Tensor, h: int, v: int, k: int) -> torch.Tensor:
    if h:
        image = image.flip(-1)
    if v:
        image = image.flip(-2)
    return image.rot90(k, dims=(-2, -1))


def _reference_distribution() -> dict[tuple[float, ...], float]:
    """Exact probability of each distinct result, from the reference's rule."""
    image = torch.arange(16.0).reshape(4, 4)
    probability: dict[tuple[float, ...], float] = {}
    for h, v, k in ELEMENTS:
        # Augmented with probability 1/2; then flips 1/2 each, and a turn with
        # probability 1/2 by k uniform in 0..3 (so k = 0 with 1/2 + 1/8).
        p = 0.5 * 0.5 * 0.5 * (5 / 8 if k == 0 else 1 / 8)
        key = tuple(_apply(image, h, v, k).flatten().tolist())
        probability[key] = probability.get(key, 0.0) + p
    probability[tuple(image.flatten().tolist())] += 0.5
    return probability


def test_exact_rule_leaves_19_of_32_unchanged() -> None:
    probability = _reference_distribution()
    assert len(probability) == 8
    assert sum(probability.values()) == pytest.approx(1.0)
    assert probability[tuple(range(16))] == pytest.approx(19 / 32)


def test_draws_follow_the_reference_distribution() -> None:
    torch.manual_seed(0)
    n = 32_000
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    aug = RandomFlipRotate90()
    out = aug(image.repeat(n, 1, 1, 1))
    expected = _reference_distribution()
    outcomes, counts = out.flatten(1).unique(dim=0, return_counts=True)
    observed = {
        tuple(o.tolist()): int(c) for o, c in zip(outcomes, counts, strict=True)
    }
    assert set(observed) <= set(expected)
    unchanged = observed[tuple(range(16))] / n
    # 19/32 = 0.594 (a gate around the same rule with k uniform would give 18/32,
    # kornia's three p = 0.5 transforms 3/16); one standard error is 0.0027.
    assert unchanged == pytest.approx(19 / 32, abs=0.01)
    # Pearson's chi-square over the 8 outcomes; 7 degrees of freedom: 24.3 is the
    # 0.999 quantile.
    chi2 = sum(
        (observed.get(key, 0) - n * p) ** 2 / (n * p) for key, p in expected.items()
    )
    assert chi2 < 24.3
    # Quarter, half and three-quarter turns are equally likely (no rounding bias).
    applied = aug._params['batch_prob'] > 0.5
    turns = aug._params['turns'][applied].bincount(minlength=4)
    for k in (1, 2, 3):
        assert turns[k] / n == pytest.approx(1 / 16, abs=0.005)


def test_transform_matrix_moves_points_as_the_image() -> None:
    torch.manual_seed(1)
    n = 64
    image = torch.zeros(n, 1, 5, 5)
    image[:, :, 1, 3] = 1  # x = 3, y = 1
    aug = RandomFlipRotate90(p=1.0)
    out = aug(image)
    point = torch.tensor([3.0, 1.0, 1.0])
    for i in range(n):
        x, y, _ = (aug.transform_matrix[i] @ point).round().long().tolist()
        assert out[i, 0, y, x] == 1


def test_same_parameters_for_every_sensor_in_a_container() -> None:
    torch.manual_seed(0)
    aug = K.AugmentationSequential(
        RandomFlipRotate90(p=1.0), data_keys=None, keepdim=True
    )
    ms = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(32, 3, 1, 1)
    out = aug({'image_ms': ms, 'image_sar': ms[:, :2].clone()})
    torch.testing.assert_close(out['image_ms'][:, :2], out['image_sar'])


def test_non_square_images_are_refused() -> None:
    with pytest.raises(ValueError, match='needs square images, got 4x6'):
        RandomFlipRotate90(p=1.0)(torch.zeros(2, 1, 4, 6))


def test_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match=r'p_rotate must be in \[0, 1\]'):
        RandomFlipRotate90(p_rotate=2.0)
