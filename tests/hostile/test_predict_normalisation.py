"""Hostile probes of ``geokd predict`` (issue 19): normalisations of model.json
that are not finite numbers within bounds, or not numbers at all."""

import json
from pathlib import Path

import pytest

from tests.predict.conftest import sar_pixels

from .predict_helpers import assert_error, predict, write_raster
from .round2 import out_of

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize(
    'change',
    [
        'shift string',
        'shift strings',
        'shift null',
        'shift nulls',
        'scale string',
        'shift nested deep',
        'scale inf',
        'scale 1e30',
        'scale nan',
        'shift inf',
        'shift -1e300',
        'scale 1e-300',
    ],
)
def test_model_json_with_bad_values(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    edited = tmp_path / 'model'
    edited.mkdir()
    (edited / 'model.safetensors').write_bytes(
        (model / 'model.safetensors').read_bytes()
    )
    meta = json.loads((model / 'model.json').read_text())
    norm = meta['normalization']
    if change == 'shift string':
        norm['shift'] = 'abc'
    elif change == 'shift strings':
        norm['shift'] = ['-12', 'abc']
    elif change == 'shift null':
        norm['shift'] = None
    elif change == 'shift nulls':
        norm['shift'] = [None, -19.0]
    elif change == 'scale string':
        norm['scale'] = ['a', 'b']
    elif change == 'shift nested deep':
        norm['shift'] = json.loads('[' * 100 + ']' * 100)
    else:
        field, value = change.split()
        norm[field] = [float(value), 5.0]
    (edited / 'model.json').write_text(json.dumps(meta))
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    result = predict([scene, '--model', edited, '-o', out_of(tmp_path), '--quiet'],
                     capsys)  # fmt: skip
    assert_error(result, 1, 'model.json')
