"""Tests of OMBRIA as a segmentation dataset (fixture: tests/data/ombria/data.py)."""

from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import pytest
import torch

from geokd.datasets import OMBRIA
from geokd.datasets.ombria_segmentation import OMBRIASegmentation

FIXTURE = Path(__file__).parents[1] / 'data' / 'ombria'


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_same_tiles_and_images_as_the_classification_split(split: str) -> None:
    seg = OMBRIASegmentation(FIXTURE, split=split, patch_size=32, split_seed=1)
    cls = OMBRIA(FIXTURE, split=split, patch_size=32, split_seed=1)
    assert seg.items == cls.items
    sample, reference = seg[1], cls[1]
    for m in ('ms', 'sar'):
        assert torch.equal(sample[f'image_{m}'], reference[f'image_{m}'])
    assert 'label' not in sample
    assert not hasattr(seg, 'targets')  # patch classes are not this dataset's labels


def test_mask_is_the_flooded_rows_of_the_fixture() -> None:
    # Fixture tile 20 (test): the top 30 % of the rows are flooded.
    dataset = OMBRIASegmentation(FIXTURE, split='test', patch_size=32)
    index = next(i for i, item in enumerate(dataset.items) if item == ('0020', 0, 0))
    mask = dataset[index]['mask']
    assert mask.dtype == torch.int64
    assert mask.shape == (32, 32)
    flooded_rows = round(0.3 * 64)
    assert (mask[:flooded_rows] == 1).all()
    assert (mask[flooded_rows:] == 0).all()
    # Flooded pixels are dark in the fixture's Sentinel-1 AFTER image.
    sar = dataset[index]['image_sar'][0]
    assert sar[mask == 1].mean() < sar[mask == 0].mean()


def test_before_channels_and_class_names() -> None:
    dataset = OMBRIASegmentation(FIXTURE, split='test', before=True)
    sample = dataset[0]
    assert sample['image_sar'].shape[0] == 2
    assert sample['image_ms'].shape[0] == 6
    assert dataset.classes == ('not flooded', 'flooded')


def test_plot_with_prediction() -> None:
    dataset = OMBRIASegmentation(FIXTURE, split='test')
    sample = dataset[0]
    sample['prediction'] = sample['mask']
    fig = dataset.plot(sample, suptitle='tile')
    assert len(fig.axes) == 4
    plt.close(fig)
