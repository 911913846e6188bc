import numpy as np
import pytest
import timm
import torch
from torch import nn

from geokd.models.discomkd import ModalityBranch
from geokd.predict.engine.dense import (
    DenseClassifier,
    check_dense_stride,
    local_standardize,
)
from geokd.predict.engine.dense_windows import inward


@pytest.fixture(scope='module')
def branch() -> ModalityBranch:
    torch.manual_seed(0)
    return ModalityBranch(2, 3, 'test_resnet').eval()


def test_dilated_trunk_is_shift_and_stitch(branch: ModalityBranch) -> None:
    # The a trous trunk at output stride 16, sampled every other cell, is the
    # stride-32 trunk exactly: finer grids add positions without changing the old.
    x = torch.randn(1, 2, 128, 160)
    dense = DenseClassifier(branch, 'test_resnet', 2, 64, 16)
    with torch.no_grad():
        coarse = branch.e_inv.forward_features(x)
        fine = dense.trunks[0].forward_features(x)
    assert fine.shape[-2:] == (8, 10)
    torch.testing.assert_close(fine[..., ::2, ::2], coarse, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('stride', [8, 16, 32])
def test_each_cell_is_the_head_on_the_box_centred_on_it(
    branch: ModalityBranch, stride: int
) -> None:
    x = torch.randn(1, 2, 192, 192)
    dense = DenseClassifier(branch, 'test_resnet', 2, 64, stride).eval()
    with torch.no_grad():
        logits = dense(x)
        k = 64 // stride
        i, j = 192 // stride // 2, 192 // stride // 2 - 1
        box = np.s_[..., i - k // 2 : i + k // 2 + 1, j - k // 2 : j + k // 2 + 1]
        inv = dense.trunks[0].forward_features(x)[box].mean((-2, -1))
        spec = dense.trunks[1].forward_features(x)[box].mean((-2, -1))
        z = torch.cat([branch.proj(inv), spec[:, : branch.embed_dim]], 1)
        expected = branch.head(z)
    assert logits.shape == (1, 3, 192 // stride, 192 // stride)
    torch.testing.assert_close(logits[:, :, i, j], expected, atol=1e-5, rtol=1e-4)


def test_a_linear_classifier_is_evaluated_densely() -> None:
    torch.manual_seed(0)
    trunk = timm.create_model('test_resnet', num_classes=0, in_chans=1)
    model = nn.Sequential(trunk, nn.Linear(trunk.num_features, 4)).eval()
    with torch.no_grad():
        logits = DenseClassifier(model, 'test_resnet', 1, 64, 32)(
            torch.randn(1, 1, 96, 64)
        )
    assert logits.shape == (1, 4, 3, 2)


@pytest.mark.parametrize('stride', [4, 64, 24, 128])
def test_cells_dense_evaluation_cannot_give(stride: int) -> None:
    with pytest.raises(ValueError, match='dense evaluation gives cells of 8, 16 or 32'):
        check_dense_stride(stride, 64)


def test_local_standardize_uses_the_box_around_each_pixel() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 40, 40) * 3 + 5
    valid = torch.ones(1, 1, 40, 40, dtype=torch.bool)
    valid[..., :5, :] = False
    out = local_standardize(x, valid, 8)
    for r, c in [(20, 20), (6, 30), (39, 0)]:
        rows = slice(max(r - 4, 5), min(r + 4, 40))
        cols = slice(max(c - 4, 0), min(c + 4, 40))
        box = x[0, 0, rows, cols]
        expected = (x[0, 0, r, c] - box.mean()) / box.std(correction=0)
        assert float(out[0, 0, r, c]) == pytest.approx(float(expected), rel=1e-3)
    assert (out[..., :5, :] == 0).all()


def test_cells_near_edges_take_the_nearest_box_inward() -> None:
    keep = torch.zeros(5, 5, dtype=torch.bool)
    keep[1:4, 1:4] = True
    occupied = torch.ones(5, 5, dtype=torch.bool)
    occupied[4, 4] = False
    rows, cols = inward(keep, occupied, 1)
    assert rows[0].tolist() == [1, 1, 1, 1, 1]
    assert cols[:, 0].tolist() == [1, 1, 1, 1, 1]
    assert (rows[4, 4], cols[4, 4]) == (-1, -1)  # no valid pixel: no class
    assert rows[2, 2] == 2
    assert cols[2, 2] == 2


@pytest.mark.parametrize('stride', [8, 16, 32])
def test_a_window_gives_the_same_bits_at_any_thread_count(stride: int) -> None:
    # --workers N runs cores // N torch threads per worker: a window must give the
    # bits of a serial run. Before: PyTorch sent the 1 x 1 convolutions of a batch
    # of one to another kernel on one thread than on several, and the softmax over
    # the first dimension split cells between vectorised and scalar code by thread.
    from geokd.predict import PatchGrid, PredictOptions
    from geokd.predict.engine.dense_windows import DenseWindowClassifier, dense_margin
    from geokd.predict.engine.tiling import dense_windows
    from tests.predict.conftest import sar_pixels, tiny_classifier

    model = tiny_classifier('sar', patch_size=64)
    grid = PatchGrid(232, 296, 64, stride)
    options = PredictOptions(stride=stride, evaluation='dense')
    engine = DenseWindowClassifier(model, grid, options, torch.device('cpu'), None)
    w = next(dense_windows(grid, 256 // stride, dense_margin(64, stride)))
    pixels = sar_pixels(int(w.pixels.height), int(w.pixels.width), seed=stride)
    threads = torch.get_num_threads()
    probabilities = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            probabilities.append(engine.probabilities(pixels, w)[0])
    finally:
        torch.set_num_threads(threads)
    for other in probabilities[1:]:
        assert torch.equal(other, probabilities[0])
