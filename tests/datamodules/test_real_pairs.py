"""Real Sentinel-1 / Sentinel-2 pairs (BigEarthNet v2, from GEO-Bench-2) through geokd."""

import csv
import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from geokd.datamodules import PairedFolderDataModule
from geokd.tasks import DisCoMKDTask
from geokd.transforms import SensorNormalization

SPLITS = {'train': 'train', 'validation': 'val', 'test': 'test'}


@pytest.fixture
def benv2(realdata: Path, tmp_path: Path) -> Path:
    """The 9 BigEarthNet v2 pairs as paired folders, labelled water or land.

    ``sar/<id>.tif`` and ``ms/<id>.tif`` link to each sample's ``s1.tif`` and
    ``s2.tif``; ``manifest.csv`` keeps GEO-Bench-2's split and calls a patch 'water'
    when its CORINE labels include marine or inland waters.
    """
    rows = []
    for folder in sorted((realdata / 'geobench2_benv2').glob('*/sample_*')):
        meta = json.loads((folder / 'metadata.json').read_text())
        for modality, name in (('sar', 's1.tif'), ('ms', 's2.tif')):
            (tmp_path / modality).mkdir(exist_ok=True)
            (tmp_path / modality / f'{folder.name}.tif').symlink_to(folder / name)
        waters = {'Marine waters', 'Inland waters'} & set(meta['labels'])
        label = 'water' if waters else 'land'
        rows.append(
            {'file': folder.name, 'label': label, 'split': SPLITS[folder.parent.name]}
        )
    with (tmp_path / 'manifest.csv').open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['file', 'label', 'split'])
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def _datamodule(root: Path, **kwargs: object) -> PairedFolderDataModule:
    return PairedFolderDataModule(
        root=str(root),
        folders={'ms': 'ms', 'sar': 'sar'},
        manifest='manifest.csv',
        channels={'ms': 12, 'sar': 2},
        batch_size=2,
        **kwargs,  # type: ignore[arg-type]
    )


def test_real_pairs_read_as_decibels_and_reflectances(benv2: Path) -> None:
    dm = _datamodule(benv2)
    dm.setup('fit')
    dm.setup('test')
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (
        5,
        2,
        2,
    )
    for dataset in (dm.train_dataset, dm.val_dataset, dm.test_dataset):
        for i in range(len(dataset)):
            sample = dataset[i]
            sar, ms = sample['image_sar'], sample['image_ms']
            assert sar.shape == (2, 120, 120)
            assert ms.shape == (12, 120, 120)
            assert sar.min() > -60  # decibels, not linear power
            assert sar.max() < 30
            assert ms.min() >= 0  # L2A reflectance x 10000
            assert ms.max() < 2**15
            # GEO-Bench-2 names the bands (VV, VH), but in every pair the first is
            # 5 to 15 dB darker: the weaker cross-polarised VH comes first.
            vh, vv = sar.mean((1, 2)).tolist()
            assert 5 < vv - vh < 15


def test_normalisation_statistics_from_real_pairs(benv2: Path) -> None:
    dm = _datamodule(benv2, stats_samples=0)
    dm.estimate_normalization()
    sar = dm.normalization['sar']
    assert -35 < sar.shift[0] < sar.shift[1] < -5
    assert all(1 < s < 10 for s in sar.scale)
    per_patch = SensorNormalization.estimate(torch.zeros(1, 2, 1, 1), 'per_patch')
    dm.setup('fit')
    out = per_patch(dm.train_dataset[0]['image_sar'][None])
    torch.testing.assert_close(
        out.std((-2, -1), correction=0), torch.ones(1, 2), atol=1e-4, rtol=0
    )


def test_discomkd_trains_on_real_pairs(benv2: Path, tmp_path: Path) -> None:
    dm = _datamodule(benv2, paired=False)
    task = DisCoMKDTask({'ms': 12, 'sar': 2}, 2, backbone='test_resnet')
    trainer = Trainer(
        fast_dev_run=True,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path / 'run',
        enable_progress_bar=False,
    )
    trainer.fit(task, dm)
    assert torch.isfinite(trainer.callback_metrics['train_loss'])
