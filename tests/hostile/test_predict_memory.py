"""Hostile probes of ``geokd predict`` (issue 19): memory."""

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run, assert_error, assert_same_outputs, write_raster
from .round2 import out_of

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.10: a huge --batch-size pads no batch beyond the patches that exist ------------


@pytest.fixture
def batch_sizes() -> Iterator[list[int]]:
    """The batch sizes every forward pass of a top-level network saw."""
    seen: list[int] = []

    def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            seen.append(args[0].shape[0])

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    yield seen
    handle.remove()


def test_huge_batch_size_pads_to_the_patches(
    tmp_path: Path, run: Run, batch_sizes: list[int]
) -> None:
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(128, 112))  # 56 patches
    assert run(scene, '-o', tmp_path / 'a' / 'x', '--batch-size', '100000').code == 0
    assert batch_sizes
    assert max(batch_sizes) <= 64, max(batch_sizes)
    assert run(scene, '-o', tmp_path / 'b' / 'x').code == 0  # the default, 64
    assert_same_outputs(tmp_path / 'a' / 'x', tmp_path / 'b' / 'x')


@pytest.mark.parametrize(
    'error',
    [
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate "
        '3300000000 bytes. Error code 12 (Cannot allocate memory)',
        'MEMORY',
    ],
    ids=['cpu allocator', 'MemoryError'],
)
def test_cpu_out_of_memory_is_one_line(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    from geokd.predict.engine.classify import WindowClassifier

    def fail(*args: Any, **kwargs: Any) -> None:
        if error == 'MEMORY':
            raise MemoryError
        raise RuntimeError(error)

    monkeypatch.setattr(WindowClassifier, 'probabilities', fail)
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    result = run(scene, '-o', out_of(tmp_path))
    assert_error(result, 1, 'scene.tif', 'out of memory', '--batch-size')


# 19.9: --stride 1 needs no per-patch copy of the validity masks -------------------


def test_stride_one_computes_valid_fractions_without_patch_copies(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    largest = [0]
    to = torch.Tensor.float

    def watched(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        largest[0] = max(largest[0], self.numel())
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, 'float', watched)
    pixels = sar_pixels(64, 64)
    pixels[:, 10:20, 30:40] = np.nan
    scene = write_raster(tmp_path / 'scene.tif', pixels)
    assert run(scene, '-o', tmp_path / 'a' / 's', '--stride', '1').code == 0
    # Per-patch copies of the masks would hold 49 x 49 patches of 16 x 16 pixels.
    assert largest[0] < 49 * 49 * 16 * 16 / 4, largest[0]
    summary = json.loads((tmp_path / 'a' / 's_summary.json').read_text())
    assert summary['nodata_cells'] == 0  # each cell has some patch half valid
    assert math.isclose(sum(c['cells'] for c in summary['classes'].values()), 64 * 64)


def test_stride_one_spreads_patches_in_work_linear_in_the_cells(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At --stride 1 a 16 px patch covers 16 x 16 cells: adding each patch's
    # probabilities to its cells one offset at a time took 256 passes per window.
    passes = [0]
    add = torch.Tensor.__iadd__

    def counted(self: torch.Tensor, other: Any) -> torch.Tensor:
        if sys._getframe(1).f_code.co_filename.endswith('classify.py'):
            passes[0] += 1  # the model's own additions do not count
        return add(self, other)

    monkeypatch.setattr(torch.Tensor, '__iadd__', counted)
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(64, 64))
    assert run(scene, '-o', tmp_path / 'a' / 's', '--stride', '1').code == 0
    assert passes[0] < 16, passes[0]
