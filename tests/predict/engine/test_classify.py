import dataclasses
import threading

import numpy as np
import pytest
import torch
from rasterio.windows import Window

from geokd.export.classifier import SingleSensorClassifier
from geokd.predict import PatchGrid, PredictError, PredictOptions, grid_windows
from geokd.predict.engine.classify import (
    WindowClassifier,
    prefetch,
    resolve_device,
    spread_sums,
)
from geokd.transforms import SensorNormalization
from tests.predict.conftest import tiny_classifier


def test_prefetch_reads_every_window_once_in_order() -> None:
    windows = list(grid_windows(PatchGrid(64, 48, 16, 16), 16))
    reads: list[Window] = []
    threads = set()

    def read(window: Window) -> np.ndarray:
        reads.append(window)
        threads.add(threading.get_ident())
        return np.full((1, 1, 1), len(reads))

    out = list(prefetch(read, windows))
    assert [w for w, _ in out] == windows
    assert reads == [w.pixels for w in windows]
    assert [int(p[0, 0, 0]) for _, p in out] == list(range(1, len(windows) + 1))
    assert threading.get_ident() not in threads
    assert list(prefetch(read, [])) == []


def test_devices() -> None:
    assert resolve_device('cpu') == torch.device('cpu')
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device('auto').type == expected
    if not torch.cuda.is_available():
        with pytest.raises(
            PredictError, match='--device cuda:1: CUDA is not available'
        ):
            resolve_device('cuda:1')


def test_window_probabilities_and_valid_fraction(
    sar_model: SingleSensorClassifier,
) -> None:
    grid = PatchGrid(32, 32, 16, 16)
    [window] = list(grid_windows(grid, 16))
    options = PredictOptions(min_valid=0.5, batch_size=3)
    engine = WindowClassifier(sar_model, grid, options, torch.device('cpu'), -99.0)
    pixels = np.random.default_rng(0).normal(-15, 5, (2, 32, 32)).astype('float32')
    pixels[:, :16, :9] = np.nan  # 9/16 invalid: below min_valid
    pixels[0, 16:, :7] = -99.0  # 7/16 nodata in one band: still classified
    probs, classified = engine.probabilities(pixels, window)
    assert classified == 3
    assert probs.shape == (10, 2, 2)
    assert probs[:, 0, 0].isnan().all()
    torch.testing.assert_close(probs[:, 1:].sum(0), torch.ones(1, 2))
    assert engine.valid_mask(pixels)[16:, :7].sum() == 0


def test_per_patch_statistics_ignore_numeric_nodata(
    sar_model: SingleSensorClassifier,
) -> None:
    # A per-patch model must give the same answer whether nodata is NaN or -99.
    meta = dataclasses.replace(
        sar_model.metadata,
        normalization=SensorNormalization(
            'per_patch', [0.0, 0.0], [1.0, 1.0]
        ).to_dict(),
    )
    model = SingleSensorClassifier(sar_model.model, meta)
    grid = PatchGrid(16, 16, 16, 16)
    [window] = list(grid_windows(grid, 16))
    engine = WindowClassifier(model, grid, PredictOptions(), torch.device('cpu'), -99.0)
    pixels = np.random.default_rng(1).normal(-15, 5, (2, 16, 16)).astype('float32')
    with_nan, with_number = pixels.copy(), pixels.copy()
    with_nan[:, :, :5] = np.nan
    with_number[:, :, :5] = -99.0
    torch.testing.assert_close(
        engine.probabilities(with_number, window)[0],
        engine.probabilities(with_nan, window)[0],
    )


def _probabilities(
    model: SingleSensorClassifier, device: str, **options: object
) -> tuple[torch.Tensor, list[torch.dtype], list[bool]]:
    """Probabilities of a 48 x 48 window, the dtypes the first conv computed in,
    and whether its inputs were channels-last."""
    grid = PatchGrid(48, 48, 16, 16)
    [window] = list(grid_windows(grid, 48))
    engine = WindowClassifier(
        model, grid, PredictOptions(**options), torch.device(device), None
    )
    dtypes, nhwc = [], []
    conv = next(m for m in engine.model.modules() if isinstance(m, torch.nn.Conv2d))

    def seen(
        _: torch.nn.Module, inputs: tuple[torch.Tensor], out: torch.Tensor
    ) -> None:
        dtypes.append(out.dtype)
        nhwc.append(inputs[0].is_contiguous(memory_format=torch.channels_last))

    handle = conv.register_forward_hook(seen)
    pixels = np.random.default_rng(3).normal(-15, 5, (2, 48, 48)).astype('float32')
    try:
        probs, _ = engine.probabilities(pixels, window)
    finally:
        handle.remove()
    return probs, dtypes, nhwc


@pytest.mark.parametrize('precision', ['bf16-mixed', '16-mixed'])
def test_mixed_precision_on_the_cpu(
    sar_model: SingleSensorClassifier, precision: str
) -> None:
    full, dtypes, _ = _probabilities(sar_model, 'cpu')
    assert set(dtypes) == {torch.float32}  # 'auto' is full precision on the CPU
    mixed, dtypes, _ = _probabilities(sar_model, 'cpu', precision=precision)
    low = torch.bfloat16 if precision == 'bf16-mixed' else torch.float16
    assert set(dtypes) == {low}
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, atol=0.05, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_path_is_mixed_precision_and_channels_last() -> None:
    model = tiny_classifier('sar')  # moved to the GPU: not the shared fixture
    cpu, _, nhwc = _probabilities(model, 'cpu')
    assert not any(nhwc)
    cuda, dtypes, nhwc = _probabilities(model, 'cuda')
    assert set(dtypes) == {torch.float16}
    assert all(nhwc)
    torch.testing.assert_close(cuda, cpu, atol=0.05, rtol=0)


@pytest.mark.parametrize('k', [1, 2, 3, 16])
def test_spread_sums_equal_adding_each_patch_to_its_cells(k: int) -> None:
    generator = torch.Generator().manual_seed(k)
    probs = torch.rand(3, 7, 5, generator=generator)
    keep = torch.rand(7, 5, generator=generator) > 0.3
    total = torch.zeros(3, 7 + k - 1, 5 + k - 1, dtype=torch.float64)
    count = torch.zeros(7 + k - 1, 5 + k - 1, dtype=torch.int64)
    for dy in range(k):
        for dx in range(k):
            total[:, dy : dy + 7, dx : dx + 5] += probs
            count[dy : dy + 7, dx : dx + 5] += keep
    assert torch.allclose(spread_sums(probs, k), total, rtol=0, atol=1e-12)
    assert torch.equal(spread_sums(keep, k), count)
