"""Tests of the OMBRIA segmentation DataModule and joint image/mask augmentation."""

from pathlib import Path

import pytest
import torch

from geokd.datamodules.ombria_segmentation import OMBRIASegmentationDataModule
from geokd.errors import UsageError
from geokd.transforms import RandomFlipRotate90
from geokd.transforms.augment_sensors import AugmentSensors

FIXTURE = Path(__file__).parents[1] / 'data' / 'ombria'


def test_paired_batches_hold_one_mask() -> None:
    dm = OMBRIASegmentationDataModule(root=str(FIXTURE), batch_size=4)
    dm.setup('fit')
    batch = dm.normalize(next(iter(dm.train_dataloader())))
    assert batch['mask'].shape == (4, 64, 64)
    assert batch['image_sar'].shape == (4, 1, 64, 64)
    assert dm.class_names == ['not flooded', 'flooded']
    assert dm.channels == {'ms': 3, 'sar': 1}


def test_unpaired_batches_hold_a_mask_per_modality() -> None:
    dm = OMBRIASegmentationDataModule(root=str(FIXTURE), batch_size=4, paired=False)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    batch = batch[0] if isinstance(batch, tuple) else batch
    flat = {k: v for m in ('ms', 'sar') for k, v in batch[m].items()}
    assert sorted(flat) == ['image_ms', 'image_sar', 'mask_ms', 'mask_sar']


def test_band_names_are_those_of_the_classification_datamodule() -> None:
    dm = OMBRIASegmentationDataModule(
        root=str(FIXTURE), before=True, modalities=['sar']
    )
    assert dm.band_names == {'sar': ['VV', 'VV_before']}


def test_cache_dir_is_refused() -> None:
    with pytest.raises(UsageError, match='cache_dir'):
        OMBRIASegmentationDataModule(root=str(FIXTURE), cache_dir='x')


def _marked(b: int = 8, size: int = 8) -> dict[str, torch.Tensor]:
    """Images whose pixel values are their positions, and masks marking one pixel."""
    grid = torch.arange(size * size, dtype=torch.float32).view(1, 1, size, size)
    mask = torch.zeros(b, size, size, dtype=torch.long)
    mask[:, 0, 1] = 1
    image = grid.repeat(b, 1, 1, 1)
    image[:, 0, 0, 1] = -1.0  # the masked pixel is -1 in the image
    return {'image_sar': image, 'image_ms': image.clone(), 'mask': mask}


def test_masks_move_with_their_images_when_paired() -> None:
    torch.manual_seed(0)
    augment = AugmentSensors([RandomFlipRotate90(p=1.0)])
    out = augment(_marked())
    assert out['mask'].dtype == torch.int64
    assert torch.equal(out['image_sar'], out['image_ms'])
    assert torch.equal(out['mask'] == 1, out['image_sar'][:, 0] == -1)
    moved = (out['mask'][:, 0, 1] != 1).any()
    assert moved  # the draw did move the marked pixel somewhere


def test_masks_move_with_their_images_when_unpaired() -> None:
    torch.manual_seed(0)
    batch = _marked()
    batch = {
        'image_sar': batch['image_sar'],
        'mask_sar': batch['mask'],
        'image_ms': batch['image_ms'],
        'mask_ms': batch['mask'].clone(),
    }
    out = AugmentSensors([RandomFlipRotate90(p=1.0)])(batch)
    for m in ('sar', 'ms'):
        assert torch.equal(out[f'mask_{m}'] == 1, out[f'image_{m}'][:, 0] == -1)
    # Independent draws per modality.
    assert not torch.equal(out['image_sar'], out['image_ms'])
