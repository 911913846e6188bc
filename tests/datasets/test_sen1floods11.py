"""Tests of the Sen1Floods11 reader (fixture: tests/data/sen1floods11/data.py)."""

import os
from pathlib import Path

import pytest
import torch

from geokd.datamodules import Sen1Floods11DataModule
from geokd.datasets import Sen1Floods11
from geokd.errors import UsageError

FIXTURE = Path(__file__).parents[1] / 'data' / 'sen1floods11'
REAL = Path(__file__).parents[2].parent / 'shared' / 'realdata' / 'sen1floods11'


@pytest.mark.parametrize(
    ('split', 'n'), [('train', 2), ('val', 1), ('test', 1), ('bolivia', 1)]
)
def test_splits(split: str, n: int) -> None:
    assert len(Sen1Floods11(FIXTURE, split=split)) == n


def test_sample_bands_labels_and_nodata() -> None:
    dataset = Sen1Floods11(FIXTURE)
    sample = dataset[0]
    assert sample['image_sar'].shape == (2, 32, 32)
    assert sample['image_ms'].shape == (13, 32, 32)
    assert sample['mask'].dtype == torch.int64
    # The first chip's left column has no Sentinel-1 data: ignored, and zero.
    assert (sample['mask'][:, 0] == -1).all()
    assert torch.isfinite(sample['image_sar']).all()
    assert (sample['image_sar'][:, :, 0] == 0).all()
    # Unlabelled bottom row, water at the top, dark in VV.
    assert (sample['mask'][-1] == -1).all()
    assert (sample['mask'][:8, 1:] == 1).all()
    sar = sample['image_sar'][0]
    assert sar[sample['mask'] == 1].mean() < sar[sample['mask'] == 0].mean()


def test_sar_only_keeps_labels_where_sar_has_data() -> None:
    sample = Sen1Floods11(FIXTURE, split='val', modalities=['sar'])[0]
    assert list(sample) == ['image_sar', 'mask']
    assert (sample['mask'][:8] == 1).all()


def test_bad_inputs_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='split file'):
        Sen1Floods11(tmp_path)
    with pytest.raises(ValueError, match='split'):
        Sen1Floods11(FIXTURE, split='valid')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='modalities'):
        Sen1Floods11(FIXTURE, modalities=['dem'])
    splits = tmp_path / 'splits' / 'flood_handlabeled'
    splits.mkdir(parents=True)
    (splits / 'flood_train_data.csv').write_text('Ghana_1_S2Hand.tif,x\n')
    with pytest.raises(ValueError, match='line 1'):
        Sen1Floods11(tmp_path)
    (splits / 'flood_train_data.csv').write_text('Ghana_1_S1Hand.tif,x\n')
    with pytest.raises(FileNotFoundError, match=r'Ghana_1_LabelHand\.tif'):
        Sen1Floods11(tmp_path)[0]


def test_datamodule_batches_masks() -> None:
    dm = Sen1Floods11DataModule(root=str(FIXTURE), batch_size=2)
    dm.setup('fit')
    batch = dm.normalize(next(iter(dm.train_dataloader())))
    assert batch['mask'].shape == (2, 32, 32)
    assert dm.channels == {'ms': 13, 'sar': 2}
    assert dm.class_names == ['land', 'water']


@pytest.mark.skipif(not REAL.is_dir(), reason='../shared/realdata is not present')
def test_the_real_chip(tmp_path: Path) -> None:
    base = tmp_path / 'data' / 'flood_events' / 'HandLabeled'
    for kind in ('S1Hand', 'S2Hand', 'LabelHand'):
        (base / kind).mkdir(parents=True)
        name = f'Spain_7370579_{kind}.tif'
        os.symlink(REAL / name, base / kind / name)
    splits = tmp_path / 'splits' / 'flood_handlabeled'
    splits.mkdir(parents=True)
    line = 'Spain_7370579_S1Hand.tif,Spain_7370579_LabelHand.tif\n'
    (splits / 'flood_test_data.csv').write_text(line)
    sample = Sen1Floods11(tmp_path, split='test')[0]
    assert sample['image_sar'].shape == (2, 512, 512)
    assert sample['image_ms'].shape == (13, 512, 512)
    assert set(sample['mask'].unique().tolist()) <= {-1, 0, 1}
    assert torch.isfinite(sample['image_sar']).all()
    assert (sample['mask'] == 1).any()


def test_datamodule_refuses_cache_dir() -> None:
    # Packed splits hold labels, not masks: training would fail later, unclearly.
    with pytest.raises(UsageError, match='packed splits hold no masks'):
        Sen1Floods11DataModule(root='unused', cache_dir='cache')
