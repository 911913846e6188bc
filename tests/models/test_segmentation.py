"""Tests of the DisCoM-KD segmenter and the competitors' segmenters."""

import pytest
import torch

from geokd.models.segmentation import DisCoMKDSegmenter, SegmentationBranch
from geokd.models.segmenters import SumFusionSegmenter, unet_segmenter

TINY = {'encoder': 'tu-test_resnet', 'decoder_channels': (8, 8, 8, 8, 8)}


def test_branch_shapes_and_embedding_split() -> None:
    branch = SegmentationBranch(2, 3, **TINY)
    out = branch.embed(torch.rand(2, 2, 64, 64))
    assert out.logits.shape == (2, 3, 64, 64)
    assert len(out.z_inv) == len(out.z_inf) == len(out.z_irr) == 5
    for z_inv, z_inf, z_irr, d in zip(
        out.z_inv, out.z_inf, out.z_irr, branch.embed_dims, strict=True
    ):
        assert z_inv.shape[1] == z_inf.shape[1] == z_irr.shape[1] == d
        assert z_inv.min() >= 0  # after the projection's ReLU


def test_discomkd_segmenter_heads_per_scale_and_modality() -> None:
    model = DisCoMKDSegmenter({'ms': 3, 'sar': 1, 'dem': 1}, 2, **TINY)
    out = model({'sar': torch.rand(3, 1, 32, 32), 'dem': torch.rand(2, 1, 32, 32)})
    assert list(out) == ['sar', 'dem']
    sar = out['sar']
    assert sar.logits.shape == (3, 2, 32, 32)
    for aux, mod, z in zip(sar.aux_inv, sar.mod_adv, sar.z_inv, strict=True):
        assert aux.shape[1] == 2
        assert mod.shape[1] == 3
        assert aux.shape[-2:] == mod.shape[-2:] == z.shape[-2:]
    assert model.modality_index('dem') == 2


def test_adversarial_heads_reach_the_invariant_projection() -> None:
    model = DisCoMKDSegmenter({'ms': 3, 'sar': 1}, 2, **TINY)
    out = model({'sar': torch.rand(2, 1, 32, 32)})['sar']
    sum(m.sum() for m in out.mod_adv).backward()
    proj = model.branches['sar'].proj[-1][0].weight.grad
    head = model.d_adv[-1].weight.grad
    assert proj is not None
    assert proj.abs().sum() > 0
    assert head is not None
    assert head.abs().sum() > 0


def test_extract_needs_only_its_branch() -> None:
    model = DisCoMKDSegmenter({'ms': 3, 'sar': 1}, 2, **TINY).eval()
    x = torch.rand(1, 1, 32, 32)
    segmenter = model.extract('sar')
    assert not segmenter.training
    with torch.no_grad():
        assert torch.equal(segmenter(x), model({'sar': x})['sar'].logits)
    with pytest.raises(KeyError, match='dem'):
        model.extract('dem')


def test_one_modality_is_refused() -> None:
    with pytest.raises(ValueError, match='two modalities'):
        DisCoMKDSegmenter({'sar': 1}, 2, **TINY)


def test_competitors_give_full_resolution_logits() -> None:
    unet = unet_segmenter(1, 2, TINY['encoder'], 5, None, TINY['decoder_channels'])
    assert unet(torch.rand(2, 1, 64, 64)).shape == (2, 2, 64, 64)
    fusion = SumFusionSegmenter({'ms': 3, 'sar': 1}, 2, **TINY)
    images = {'ms': torch.rand(2, 3, 64, 64), 'sar': torch.rand(2, 1, 64, 64)}
    assert fusion(images).shape == (2, 2, 64, 64)
