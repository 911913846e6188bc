"""Unit tests of the segmentation loss terms."""

import math

import pytest
import torch
import torch.nn.functional as F

from geokd.losses import segmentation as L


def test_pixel_classification_ignores_unlabelled_pixels() -> None:
    logits = torch.randn(2, 3, 4, 4)
    mask = torch.randint(0, 3, (2, 4, 4))
    mask[0] = -1
    expected = F.cross_entropy(logits[1:], mask[1:])
    assert torch.allclose(L.pixel_classification_loss(logits, mask), expected)


def test_pixel_classification_all_unlabelled_is_zero_not_nan() -> None:
    logits = torch.randn(1, 2, 3, 3, requires_grad=True)
    loss = L.pixel_classification_loss(logits, torch.full((1, 3, 3), -1))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None


def test_auxiliary_upsamples_coarse_logits_to_the_mask() -> None:
    # A coarse map that is the same everywhere upsamples to the same value.
    aux = torch.tensor([2.0, -1.0]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    mask = torch.zeros(1, 8, 8, dtype=torch.long)
    one = F.cross_entropy(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))
    loss = L.upsampled_auxiliary_loss(aux, aux, mask)
    assert torch.allclose(loss, 2 * one)


def test_location_labels_repeat_the_sample_label() -> None:
    labels = L.location_labels(torch.tensor([0, 1]), torch.zeros(2, 5, 3, 4))
    assert labels.shape == (2, 3, 4)
    assert (labels[0] == 0).all()
    assert (labels[1] == 1).all()


def test_modality_map_loss_is_low_when_every_location_is_right() -> None:
    modality = torch.tensor([0, 1])
    right = torch.zeros(2, 2, 3, 3)
    right[0, 0], right[1, 1] = 20.0, 20.0
    assert L.modality_map_loss(right, right, modality) < 1e-6
    assert math.isclose(
        L.modality_map_loss(-right, right, modality).item(), 10.0, rel_tol=1e-4
    )


def test_adversarial_map_loss_is_chance_for_uninformative_logits() -> None:
    loss = L.adversarial_map_loss(torch.zeros(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]))
    assert math.isclose(loss.item(), math.log(3), rel_tol=1e-6)


def test_orthogonality_map_loss_per_location() -> None:
    z_inf = torch.zeros(1, 2, 1, 2)
    z_inf[0, 0] = 1.0  # (1, 0) at both locations
    z_irr = torch.zeros(1, 2, 1, 2)
    z_irr[0, 1] = 1.0  # (0, 1): orthogonal
    z_inv = z_inf.clone()  # parallel at both locations
    assert math.isclose(L.orthogonality_map_loss(z_inf, z_irr, z_inv).item(), 1.0)
    z_inv[0, :, 0, 1] = torch.tensor([0.0, 1.0])  # orthogonal at one location
    assert math.isclose(L.orthogonality_map_loss(z_inf, z_irr, z_inv).item(), 0.5)


def test_mean_over_scales_repeats_shared_arguments() -> None:
    maps = [torch.tensor(1.0), torch.tensor(3.0)]
    loss = L.mean_over_scales(lambda a, b: a * b, maps, (torch.tensor(2.0),))
    assert loss.item() == 4.0


def test_pixel_kd_zero_for_equal_logits_and_skips_ignored_pixels() -> None:
    s = torch.randn(2, 3, 4, 4)
    assert L.pixel_kd_loss(s, s.clone()).abs() < 1e-6
    t = torch.randn(2, 3, 4, 4)
    mask = torch.zeros(2, 4, 4, dtype=torch.long)
    mask[1] = -1
    expected = L.pixel_kd_loss(s[:1], t[:1])
    assert torch.allclose(L.pixel_kd_loss(s, t, mask=mask), expected)
    assert L.pixel_kd_loss(s, t, mask=torch.full_like(mask, -1)).item() == 0.0


@pytest.mark.parametrize('temperature', [1.0, 4.0])
def test_pixel_kd_matches_kd_on_flattened_pixels(temperature: float) -> None:
    from geokd.losses import kd_loss

    s, t = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)
    flat = kd_loss(
        s.permute(0, 2, 3, 1).reshape(-1, 3),
        t.permute(0, 2, 3, 1).reshape(-1, 3),
        temperature,
    )
    assert torch.allclose(L.pixel_kd_loss(s, t, temperature), flat)
