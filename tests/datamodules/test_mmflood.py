"""Tests of the MMFlood DataModule (fixture: tests/data/mmflood/data.py)."""

import os
import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from geokd.datamodules import MMFloodDataModule
from geokd.datasets import MMFlood
from geokd.errors import UsageError

FIXTURE = Path(__file__).parents[1] / 'data' / 'mmflood'
P = 32


def test_paired_batches_hold_one_mask_and_normalised_sensors() -> None:
    dm = MMFloodDataModule(root=str(FIXTURE), patch_size=P, batch_size=4)
    dm.setup('fit')
    batch = dm.normalize(next(iter(dm.train_dataloader())))
    assert batch['mask'].shape == (4, P, P)
    assert batch['image_sar'].shape == (4, 2, P, P)
    assert batch['image_dem'].shape == (4, 1, P, P)
    assert dm.channels == {'sar': 2, 'dem': 1}
    assert dm.class_names == ['not flooded', 'flooded']
    assert dm.band_names == {'sar': ['VV', 'VH'], 'dem': ['DEM']}
    # Sentinel-1 is linear in MMFlood: its statistics are in dB, the DEM's are not.
    assert dm.normalization['sar'].to_db
    assert not dm.normalization['dem'].to_db
    for m in ('sar', 'dem'):
        assert batch[f'image_{m}'].min() >= 0
        assert batch[f'image_{m}'].max() <= 1


def test_unpaired_batches_hold_a_mask_per_modality() -> None:
    dm = MMFloodDataModule(
        root=str(FIXTURE),
        modalities=['sar', 'hydro'],
        patch_size=P,
        batch_size=4,
        paired=False,
        norm_method='standard',
    )
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    batch = batch[0] if isinstance(batch, tuple) else batch
    flat = {k: v for m in ('sar', 'hydro') for k, v in batch[m].items()}
    assert sorted(flat) == ['image_hydro', 'image_sar', 'mask_hydro', 'mask_sar']
    assert dm.norm_method == 'standard'
    assert dm.to_db == {'sar'}


def test_training_augmentation_moves_masks_with_every_sensor() -> None:
    dm = MMFloodDataModule(root=str(FIXTURE), patch_size=P)
    dataset = MMFlood(FIXTURE, patch_size=P)
    # Patches of the tile whose top rows have no Sentinel-1 data: 0 in every
    # image and -1 in the mask, wherever the augmentation moves them.
    batch = default_collate([dataset[i] for i in (0, 1, 0, 1)])
    torch.manual_seed(0)
    augment = dm.train_aug[-1]
    out = augment(batch)
    nodata = out['mask'] == -1
    assert torch.equal(nodata, out['image_sar'][:, 0] == 0)
    assert torch.equal(nodata, out['image_dem'][:, 0] == 0)
    assert not torch.equal(nodata, batch['mask'] == -1)  # the draw moved them


def test_download_is_passed_to_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def serve(url: str, root: str, filename: str, md5: str | None) -> None:
        os.makedirs(root, exist_ok=True)
        shutil.copy(FIXTURE / filename, os.path.join(root, filename))

    monkeypatch.setattr('torchgeo.datasets.mmflood.download_url', serve)
    dm = MMFloodDataModule(
        root=str(tmp_path), patch_size=P, download=True, batch_size=2
    )
    dm.setup('test')
    assert len(dm.test_dataset) == 4


def test_cache_dir_is_refused() -> None:
    with pytest.raises(UsageError, match='cache_dir'):
        MMFloodDataModule(root=str(FIXTURE), cache_dir='x')
