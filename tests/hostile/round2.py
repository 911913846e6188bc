"""Constants and helpers of the hostile tests of issue 19 (``geokd predict``).

Their fixtures (``model``, ``run``, ``one_thread``) are in ``conftest.py``.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.predict.conftest import sar_pixels

from .predict_helpers import Result, predict, write_raster

#: Two windows of the 272 x 160 scenes.
BIG = ('--window', '256')
#: JSON nested 5000 deep (Python's parser recurses once per level).
DEEP = '[' * 5000 + ']' * 5000
#: Degrees of a 10 m pixel at the equator.
DEG = 10 / 111_320


def out_of(tmp_path: Path) -> str:
    """The output directory argument (with its trailing separator)."""
    return f'{tmp_path}/out/'


def summaries(root: Path) -> list[Path]:
    """Every summary written under a folder."""
    return sorted(root.rglob('*_summary.json'))


def classified_cells(summary: Path) -> int:
    """Cells of a summary's grid that got a class."""
    data = json.loads(summary.read_text())
    return data['grid']['rows'] * data['grid']['cols'] - data['nodata_cells']


def copy_model(
    model: Path,
    directory: Path,
    metadata: str | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Copy an exported model, with another ``model.json`` text or other weights.

    Args:
        model: The exported model's directory.
        directory: The copy's directory (created).
        metadata: Text of its ``model.json``; None keeps the model's.
        tensors: Its weights; None keeps the model's file.

    Returns:
        The copy's directory.
    """
    directory.mkdir()
    if metadata is None:
        metadata = (model / 'model.json').read_text()
    (directory / 'model.json').write_text(metadata)
    if tensors is None:
        shutil.copyfile(model / 'model.safetensors', directory / 'model.safetensors')
    else:
        save_file(tensors, directory / 'model.safetensors')
    return directory


def predict_small_scene(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> Result:
    """``geokd predict --quiet`` of a new 32 x 32 SAR scene in ``tmp_path``."""
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    return predict([scene, '--model', model, '-o', out_of(tmp_path), '--quiet'], capsys)
