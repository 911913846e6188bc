from pathlib import Path

import torch
from lightning.pytorch import Trainer

from geokd.datamodules import OMBRIADataModule
from geokd.tasks import DisCoMKDTask

FIXTURE = Path(__file__).parents[1] / 'data' / 'ombria'


def test_per_patch_normalisation_bands_and_state() -> None:
    dm = OMBRIADataModule(root=str(FIXTURE), before=True, batch_size=4)
    dm.setup('fit')
    state = dm.state_dict()
    assert state['band_names'] == {
        'ms': [
            'png_r',
            'png_g',
            'png_b',
            'png_r_before',
            'png_g_before',
            'png_b_before',
        ],
        'sar': ['VV', 'VV_before'],
    }
    assert state['patch_size'] == 64
    assert state['normalization']['sar'] == {
        'method': 'per_patch',
        'shift': [0.0, 0.0],
        'scale': [1.0, 1.0],
        'to_db': False,
    }
    batch = dm.normalize(next(iter(dm.val_dataloader())))
    means = batch['image_sar'].mean((-2, -1))
    torch.testing.assert_close(means, torch.zeros_like(means), atol=1e-5, rtol=0)


def test_one_sensor_only() -> None:
    dm = OMBRIADataModule(root=str(FIXTURE), modalities=['sar'], batch_size=4)
    dm.setup('fit')
    assert set(next(iter(dm.train_dataloader()))) == {'image_sar', 'label'}
    assert dm.band_names == {'sar': ['VV']}


def test_fit_runs_with_discomkd(tmp_path: Path) -> None:
    dm = OMBRIADataModule(root=str(FIXTURE), batch_size=4, paired=False)
    task = DisCoMKDTask({'ms': 3, 'sar': 1}, 3, backbone='test_resnet')
    trainer = Trainer(
        fast_dev_run=True,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
    )
    trainer.fit(task, dm)
    assert torch.isfinite(trainer.callback_metrics['train_loss'])


def test_val_block_reaches_the_dataset() -> None:
    dm = OMBRIADataModule(
        root=str(FIXTURE), batch_size=4, val_block=1, leave_out_block=0, num_blocks=3
    )
    dm.setup('fit')
    tiles = {t for t, _, _ in dm.val_dataset.items}
    assert tiles == {f'{i:04d}' for i in range(7, 13)}
