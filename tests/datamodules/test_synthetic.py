import torch
from lightning.pytorch import Trainer

from geokd.datamodules import SyntheticMSSARDataModule


def _datamodule(**kwargs: object) -> SyntheticMSSARDataModule:
    return SyntheticMSSARDataModule(
        batch_size=8, samples_per_class=10, size=16, **kwargs
    )  # type: ignore[arg-type]


def test_statistics_estimated_from_train_when_first_needed() -> None:
    dm = _datamodule()
    dm.setup('fit')
    assert dm.normalization == {}
    assert dm.patch_size == 16
    batch = next(iter(dm.train_dataloader()))
    out = dm.normalize({k: v.clone() for k, v in batch.items()})
    assert dm.normalization['ms'].num_bands == 13
    assert dm.normalization['sar'].num_bands == 2
    assert dm.band_names['sar'] == ['VV', 'VH']
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


def test_validation_batches_are_normalised_not_augmented() -> None:
    dm = _datamodule()
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.trainer.validating = True
    dm.setup('fit')
    batch = next(iter(dm.val_dataloader()))
    out = dm.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)
    torch.testing.assert_close(out['image_sar'], dm.normalize(batch)['image_sar'])
