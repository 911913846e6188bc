"""Blending overlapping patches of a segmenter without seams."""

import pytest
import torch

from geokd.predict.engine.blending import blend_patches, blend_window


def test_window_is_positive_symmetric_and_peaks_in_the_centre() -> None:
    w = blend_window(8)
    assert w.shape == (8, 8)
    assert w.min() > 0
    assert torch.equal(w, w.flip(0))
    assert torch.equal(w, w.T)
    assert w[3:5, 3:5].min() == w.max()
    with pytest.raises(ValueError, match='positive'):
        blend_window(0)


def test_agreeing_patches_are_reproduced_exactly() -> None:
    probs = torch.full((3, 4, 2, 8, 8), 0.25)
    probs[:, :, 1] = 0.75
    out = blend_patches(probs, torch.ones(3, 4, dtype=torch.bool), stride=4)
    assert out.shape == (2, 2 * 4 + 8, 3 * 4 + 8)
    assert torch.allclose(out[0], torch.tensor(0.25))
    assert torch.allclose(out[1], torch.tensor(0.75))


def test_disagreeing_neighbours_leave_no_seam() -> None:
    # Two patches overlapping by half: the left one says "flooded", the right one not.
    p, stride = 16, 8
    probs = torch.zeros(1, 2, 1, p, p)
    probs[0, 0] = 1.0
    keep = torch.ones(1, 2, dtype=torch.bool)
    out = blend_patches(probs, keep, stride)[0, p // 2]  # one row across the scene
    steps = (out[1:] - out[:-1]).abs()
    # Equal weights would jump from 1 to 0.5 where the right patch begins and from
    # 0.5 to 0 where the left one ends; the tent window spreads the change.
    equal = blend_patches(probs, keep, stride, torch.ones(p, p))[0, p // 2]
    assert (equal[1:] - equal[:-1]).abs().max() == pytest.approx(0.5)
    assert steps.max() < 0.2
    assert out[0] == 1.0
    assert out[-1] == 0.0


def test_pixels_of_no_kept_patch_are_nan() -> None:
    probs = torch.rand(1, 3, 2, 4, 4)
    keep = torch.tensor([[True, False, False]])
    out = blend_patches(probs, keep, stride=4)
    assert out.shape == (2, 4, 12)
    assert torch.isnan(out[:, :, 4:]).all()
    assert torch.allclose(out[:, :, :4], probs[0, 0])


def test_stride_larger_than_the_patch_is_refused() -> None:
    with pytest.raises(ValueError, match='stride'):
        blend_patches(torch.rand(2, 2, 2, 4, 4), torch.ones(2, 2, dtype=torch.bool), 5)
