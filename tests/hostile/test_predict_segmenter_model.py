"""Hostile probes of ``geokd predict`` with segmenters (issue 20): ``model.json`` and
weights that claim a segmenter are refused in one line, before any network is built
with real weights, and nothing is written."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from tests.predict.conftest import sar_pixels
from tests.predict.segmenters import export_tiny_segmenter

from .predict_helpers import assert_error, predict, snapshot, write_raster
from .round2 import copy_model, out_of

pytestmark = pytest.mark.usefixtures('one_thread')


class Built(Exception):
    """A network was built with real weights."""


@pytest.fixture(scope='module')
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported SAR segmenter (DisCoM-KD branch, tiles of 32 pixels)."""
    return export_tiny_segmenter(tmp_path_factory.mktemp('segmenter') / 'sar')


@pytest.fixture
def no_real_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a segmenter with real (not meta) weights fails the test."""
    from geokd.models import ClassifierSpec, SegmenterSpec

    for spec_class in (ClassifierSpec, SegmenterSpec):
        build = spec_class.build

        def guarded(spec: Any, build: Any = build) -> torch.nn.Module:
            device = torch.get_default_device()
            if device.type != 'meta':
                raise Built(f'{spec.backbone} built on {device}')
            return build(spec)

        monkeypatch.setattr(spec_class, 'build', guarded)


def _refused(
    tmp_path: Path,
    segmenter: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    tensors: dict[str, torch.Tensor] | None = None,
    *fragments: str,
) -> str:
    meta = json.loads((segmenter / 'model.json').read_text()) | change
    edited = copy_model(segmenter, tmp_path / 'model', json.dumps(meta), tensors)
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(40, 40))
    before = snapshot(tmp_path)
    result = predict([scene, '--model', edited, '-o', out_of(tmp_path), '--quiet'],
                     capsys)  # fmt: skip
    line = assert_error(result, 1, 'model', *fragments)
    assert snapshot(tmp_path) == before
    return line


@pytest.mark.parametrize(
    ('change', 'fragment'),
    [
        ({'kind': 'mapper'}, '"kind"'),
        ({'kind': None}, '"kind"'),
        (
            {'kind': 'classifier'},
            "a classifier cannot be a 'discomkd_segmentation_branch'",
        ),
        (
            {'architecture': 'discomkd_branch'},
            "a segmenter cannot be a 'discomkd_branch'",
        ),
        ({'encoder_depth': None}, 'a segmenter needs encoder_depth'),
        ({'encoder_depth': 9}, '"encoder_depth"'),
        ({'decoder_channels': [8, 8]}, '2 decoder_channels for encoder_depth=5'),
        ({'decoder_channels': [8, 8, 8, 8, 10**9]}, '"decoder_channels"'),
        ({'patch_size': 48}, 'patch_size 48 is not a multiple of 32'),
        ({'backbone': 'tu-no_such_net'}, "cannot build encoder 'tu-no_such_net'"),
        ({'backbone': '../../etc/passwd'}, 'passwd'),
    ],
)
def test_metadata_that_is_no_segmenter_is_refused(
    tmp_path: Path,
    segmenter: Path,
    capsys: pytest.CaptureFixture[str],
    no_real_build: None,
    change: dict[str, Any],
    fragment: str,
) -> None:
    _refused(tmp_path, segmenter, capsys, change, None, fragment)


def test_weights_without_the_decoder_are_refused(
    tmp_path: Path,
    segmenter: Path,
    capsys: pytest.CaptureFixture[str],
    no_real_build: None,
) -> None:
    tensors = load_file(segmenter / 'model.safetensors')
    kept = {k: v for k, v in tensors.items() if not k.startswith('decoder.')}
    assert len(kept) < len(tensors)
    _refused(tmp_path, segmenter, capsys, {}, kept, 'weight(s) missing, e.g. decoder.')


@pytest.mark.parametrize('weights', ['kept', 'empty'])
@pytest.mark.parametrize('backbone', ['tu-resnet152', 'resnet152'])
def test_a_huge_declared_encoder_is_refused_before_it_is_built(
    tmp_path: Path,
    segmenter: Path,
    capsys: pytest.CaptureFixture[str],
    no_real_build: None,
    weights: str,
    backbone: str,
) -> None:
    tensors = load_file(segmenter / 'model.safetensors') if weights == 'kept' else {}
    change = {'backbone': backbone, 'decoder_channels': [256, 128, 64, 32, 16]}
    _refused(tmp_path, segmenter, capsys, change, tensors, 'do not match')
