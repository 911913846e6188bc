"""Hostile probes of ``geokd predict`` (issue 19): model size."""

import json
from pathlib import Path

import pytest
import torch

from tests.predict.conftest import sar_pixels

from .predict_helpers import (
    assert_error,
    predict,
    snapshot,
    write_raster,
)
from .round2 import copy_model, out_of, predict_small_scene

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.11: a model too large for memory is refused before it is built ----------------


class Built(Exception):
    """A network was built with real weights."""


@pytest.fixture
def no_real_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a large network with real (not meta) weights fails the test."""
    from geokd.models import ClassifierSpec

    build = ClassifierSpec.build

    def guarded(spec: ClassifierSpec) -> torch.nn.Module:
        device = torch.get_default_device()
        if spec.backbone != 'test_resnet' and device.type != 'meta':
            raise Built(f'{spec.backbone} built on {device}')
        return build(spec)

    monkeypatch.setattr(ClassifierSpec, 'build', guarded)


@pytest.mark.parametrize('weights', ['kept', 'empty', 'one key'])
@pytest.mark.parametrize(
    ('architecture', 'backbone'),
    [('discomkd_branch', 'vit_huge_patch14_224'), ('linear', 'vit_giant_patch14_224')],
)
def test_model_json_naming_a_huge_backbone(
    tmp_path: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    no_real_build: None,
    weights: str,
    architecture: str,
    backbone: str,
) -> None:
    from safetensors.torch import load_file

    meta = json.loads((model / 'model.json').read_text())
    meta['backbone'] = backbone
    meta['architecture'] = architecture
    meta['embed_dim'] = None if architecture == 'linear' else 640  # 1280 / 2
    tensors = load_file(model / 'model.safetensors')
    if weights == 'empty':
        tensors = {}
    elif weights == 'one key':
        tensors = dict(list(tensors.items())[:1])
    edited = copy_model(model, tmp_path / 'model', json.dumps(meta), tensors)
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    before = snapshot(tmp_path)
    result = predict([scene, '--model', edited, '-o', out_of(tmp_path), '--quiet'],
                     capsys)  # fmt: skip
    assert_error(result, 1, 'model.safetensors', 'do not match')
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize('change', ['missing key', 'extra key', 'other shape'])
def test_weights_that_do_not_match_the_metadata(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    from safetensors.torch import load_file

    tensors = load_file(model / 'model.safetensors')
    first = next(k for k in tensors if 'num_batches_tracked' not in k)
    if change == 'missing key':
        del tensors[first]
    elif change == 'extra key':
        tensors['surplus.weight'] = torch.zeros(3)
    else:
        tensors[first] = torch.zeros(*tensors[first].shape, 2)
    edited = copy_model(model, tmp_path / 'model', tensors=tensors)
    result = predict_small_scene(tmp_path, edited, capsys)
    assert_error(result, 1, 'model.safetensors', 'do not match')
