import torch
from lightning.pytorch import Trainer

from geokd.datamodules import SyntheticMSSARDataModule, reference_augmentation


def _datamodule(**kwargs: object) -> SyntheticMSSARDataModule:
    return SyntheticMSSARDataModule(
        batch_size=8, samples_per_class=10, size=16, **kwargs
    )  # type: ignore[arg-type]


def test_statistics_estimated_from_train_and_applied() -> None:
    dm = _datamodule()
    dm.setup('fit')
    assert dm.normalization['ms'].num_bands == 13
    assert dm.normalization['sar'].num_bands == 2
    assert dm.band_names['sar'] == ['VV', 'VH']
    assert dm.patch_size == 16
    batch = next(iter(dm.train_dataloader()))
    out = dm.normalize({k: v.clone() for k, v in batch.items()})
    for m in ('ms', 'sar'):
        x = out[f'image_{m}']
        assert x.mean().abs() < 0.5
        assert 0.5 < x.std() < 2.0
    assert torch.equal(out['label'], batch['label'])


def test_statistics_round_trip_through_state_dict() -> None:
    dm = _datamodule()
    dm.setup('fit')
    state = dm.state_dict()
    fresh = _datamodule()
    fresh.load_state_dict(state)
    assert fresh.normalization == dm.normalization


def test_given_statistics_are_used() -> None:
    dm = _datamodule(
        normalization={
            'ms': {'shift': [0.0] * 13, 'scale': [1.0] * 13},
            'sar': {'shift': [-10.0, -17.0], 'scale': [2.0, 2.0]},
        }
    )
    dm.setup('fit')
    out = dm.normalize({'image_sar': torch.full((1, 2, 4, 4), -10.0)})
    torch.testing.assert_close(out['image_sar'][0, :, 0, 0], torch.tensor([0.0, 3.5]))


def test_augmentation_is_paired() -> None:
    # A marker at the same spot of both sensors stays at the same spot in both.
    torch.manual_seed(0)
    aug = reference_augmentation(p=1.0)
    n = 16
    ms = torch.zeros(n, 13, 8, 8)
    sar = torch.zeros(n, 2, 8, 8)
    ms[:, :, 1, 2] = 1.0
    sar[:, :, 1, 2] = 1.0
    out = aug({'image_ms': ms, 'image_sar': sar, 'label': torch.arange(n)})
    moved = 0
    for i in range(n):
        spot_ms = (out['image_ms'][i, 0] > 0.5).nonzero().tolist()
        spot_sar = (out['image_sar'][i, 1] > 0.5).nonzero().tolist()
        assert len(spot_ms) == 1
        assert spot_ms == spot_sar
        moved += spot_ms != [[1, 2]]
    assert moved > 0
    assert torch.equal(out['label'], torch.arange(n))


def test_train_batches_augmented_only_when_training() -> None:
    dm = _datamodule(augment=False)
    assert dm.train_aug is None
    dm = _datamodule()
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.setup('fit')
    batch = next(iter(dm.val_dataloader()))
    out = dm.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)
    torch.testing.assert_close(out['image_sar'], dm.normalize(batch)['image_sar'])
