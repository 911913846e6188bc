"""Hostile probes (issue 19.18): weights holding NaN or infinite values are refused
by ``geokd export`` (nothing written) and by ``geokd predict``, in one line naming
the file, instead of a model that gives one class everywhere."""

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from .conftest import Evil, Geokd, TinyRun
from .helpers import Sandbox, assert_clean_error
from .predict_helpers import assert_error
from .round2 import copy_model, predict_small_scene
from .test_export import tampered

pytestmark = pytest.mark.usefixtures('one_thread')

VALUES = {'nan': float('nan'), 'inf': float('inf'), '-inf': float('-inf')}


def _spoil(value: float) -> Any:
    def change(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
        weights = checkpoint['state_dict']
        key = next(k for k in weights if k.endswith('weight') and 'depth' in k)
        weights[key] = weights[key].clone()
        weights[key].view(-1)[0] = value

    return change


@pytest.mark.parametrize('value', VALUES)
def test_export_of_weights_that_are_not_finite(
    value: str, sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = tampered(_spoil(VALUES[value]))(sandbox, tiny_run, evil)
    outcome = geokd(['export', *argv])
    assert_clean_error(outcome, 'export', names)
    assert 'NaN or infinite' in outcome.err
    assert not list(sandbox.out.rglob('model.*'))


@pytest.mark.parametrize('value', VALUES)
def test_predict_with_weights_that_are_not_finite(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    tensors = load_file(model / 'model.safetensors')
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = VALUES[value]
    edited = copy_model(model, tmp_path / 'model', tensors=tensors)
    result = predict_small_scene(tmp_path, edited, capsys)
    assert_error(result, 1, 'model.safetensors', 'NaN or infinite')
    assert torch.isfinite(load_file(model / 'model.safetensors')[key]).all()
