"""Fixtures and helpers of the hostile tests of issue 19 (``geokd predict``)."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from geokd.export import export_model
from tests.predict.conftest import tiny_classifier

from .predict_helpers import Result, predict

Run = Callable[..., Result]
#: Two windows of the 272 x 160 scenes.
BIG = ('--window', '256')
#: JSON nested 5000 deep (Python's parser recurses once per level).
DEEP = '[' * 5000 + ']' * 5000
#: Degrees of a 10 m pixel at the equator.
DEG = 10 / 111_320


@pytest.fixture(scope='module', autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, which a busy CI machine makes slow."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported SAR model (patch 16, 10 m)."""
    classifier = tiny_classifier('sar')
    directory = tmp_path_factory.mktemp('model') / 'sar'
    return export_model(classifier.model, classifier.metadata, directory)


@pytest.fixture
def run(model: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``geokd predict --model MODEL --quiet ARGS`` in this process."""

    def call(*args: object) -> Result:
        return predict([*args, '--model', model, '--quiet'], capsys)

    return call


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
