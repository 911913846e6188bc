"""Hostile probes of ``geokd predict`` (issue 19): normalisations of model.json
that are not finite numbers within bounds, or not numbers at all."""

import json
from pathlib import Path

import pytest

from .predict_helpers import assert_error
from .round2 import copy_model, predict_small_scene

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
    edited = copy_model(model, tmp_path / 'model', metadata=json.dumps(meta))
    result = predict_small_scene(tmp_path, edited, capsys)
    assert_error(result, 1, 'model.json')
