import logging
from collections.abc import Iterator

import pytest
import torch
from torch.utils.data import IterableDataset, TensorDataset

from geokd.datasets.utils import check_valid, dataset_length, relative_stem


def test_valid_image_passes_unchanged() -> None:
    x = torch.rand(2, 4, 4)
    assert check_valid(x, 'f.tif') is x


def test_fill_counts_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    x = torch.ones(1, 3, 3)
    x[0, 0, 0] = float('nan')
    x[0, 1, 1] = float('-inf')
    nodata = torch.zeros(1, 3, 3, dtype=torch.bool)
    nodata[0, 2, 2] = True
    with caplog.at_level(logging.WARNING):
        out = check_valid(x, 'f.tif', 'fill', 7.0, nodata)
    assert out.flatten().tolist() == [7, 1, 1, 1, 7, 1, 1, 1, 7]
    assert 'f.tif: replaced 3 NaN' in caplog.text


def test_all_invalid_is_always_an_error() -> None:
    with pytest.raises(ValueError, match=r'scene\.tif: every pixel'):
        check_valid(torch.full((1, 2, 2), float('nan')), 'scene.tif', 'fill')


def test_relative_stem() -> None:
    assert relative_stem('/d/rgb/kitchen/001.jpg', '/d/rgb') == 'kitchen/001'


def test_dataset_length_of_a_map_style_dataset() -> None:
    assert dataset_length(TensorDataset(torch.zeros(5, 2))) == 5


def test_dataset_length_refuses_an_iterable_dataset() -> None:
    class Stream(IterableDataset[int]):
        def __iter__(self) -> Iterator[int]:
            return iter(range(3))

    with pytest.raises(TypeError, match='Stream has no length'):
        dataset_length(Stream())
