import multiprocessing
import shutil
from pathlib import Path

import kornia.augmentation as K
import pytest
import torch
import yaml
from lightning.pytorch import Trainer
from lightning.pytorch.utilities import CombinedLoader

from geokd.cli import build_cli
from geokd.datamodules import (
    EuroSATMSSARDataModule,
    MultiModalDataModule,
    PairedFolderDataModule,
    So2SatMSSARDataModule,
)
from geokd.datasets import PackedDataset
from geokd.tasks import DisCoMKDTask
from geokd.transforms import SensorNormalization

DATA = Path(__file__).parents[1] / 'data'


def _eurosat(**kwargs: object) -> EuroSATMSSARDataModule:
    return EuroSATMSSARDataModule(
        root=str(DATA / 'eurosat_ms_sar'), batch_size=4, **kwargs
    )  # type: ignore[arg-type]


def test_state_dict_has_normalization_bands_patch_size_and_classes() -> None:
    dm = _eurosat(bands={'ms': ['B04', 'B03', 'B02']})
    dm.setup('fit')
    state = dm.state_dict()
    assert set(state) == {
        'normalization',
        'band_names',
        'patch_size',
        'class_names',
        'provenance',
    }
    # The dataset's classes, in label order: exports name them, not 0, 1, ...
    assert state['class_names'][:2] == ['AnnualCrop', 'Forest']
    assert state['band_names'] == {'ms': ['B04', 'B03', 'B02'], 'sar': ['VV', 'VH']}
    assert state['patch_size'] == 16
    assert state['normalization']['ms']['method'] == 'percentile'
    assert len(state['normalization']['ms']['shift']) == 3
    fresh = _eurosat(bands={'ms': ['B04', 'B03', 'B02']})
    fresh.load_state_dict(state)
    assert fresh.normalization == dm.normalization
    assert fresh.patch_size == 16


def test_percentile_statistics_cover_every_class() -> None:
    # Classes are sorted in the split files: the statistics must not come from the
    # first class only (S2 values of class c lie in 1000 (c + 1) .. + 500).
    dm = _eurosat(stats_samples=10)
    dm.estimate_normalization()
    ms = dm.normalization['ms']
    assert ms.shift[0] < 1500
    assert ms.shift[0] + ms.scale[0] > 9000


def test_paired_batches() -> None:
    dm = _eurosat()
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {'image_ms', 'image_sar', 'label'}
    assert batch['image_ms'].shape == (4, 13, 16, 16)


def test_unpaired_shuffles_each_modality_on_its_own() -> None:
    dm = _eurosat(paired=False)
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.trainer.training = True
    dm.setup('fit')
    loader = dm.train_dataloader()
    assert isinstance(loader, CombinedLoader)
    torch.manual_seed(0)
    iter(loader)
    differs = 0
    for batch, _, _ in loader:
        flat = dm.on_after_batch_transfer(batch, 0)
        assert set(flat) == {'image_ms', 'image_sar', 'label_ms', 'label_sar'}
        assert flat['image_ms'].shape == (4, 13, 16, 16)
        assert flat['image_sar'].shape == (4, 2, 16, 16)
        differs += not torch.equal(flat['label_ms'], flat['label_sar'])
    assert differs > 0
    # Validation stays paired.
    assert set(next(iter(dm.val_dataloader()))) == {'image_ms', 'image_sar', 'label'}


def _identity(bands: int) -> SensorNormalization:
    return SensorNormalization(shift=[0.0] * bands, scale=[1.0] * bands)


def test_unpaired_augmentation_is_independent_per_modality() -> None:
    dm = _eurosat(paired=False)
    dm.normalization = {'ms': _identity(13), 'sar': _identity(2)}
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.trainer.training = True
    n = 32
    marker = torch.zeros(n, 1, 8, 8)
    marker[:, :, 1, 2] = 1
    batch = {
        'ms': {'image_ms': marker.repeat(1, 13, 1, 1), 'label_ms': torch.arange(n)},
        'sar': {'image_sar': marker.repeat(1, 2, 1, 1), 'label_sar': torch.arange(n)},
    }
    torch.manual_seed(0)
    out = dm.on_after_batch_transfer(batch, 0)
    same = sum(
        torch.equal(out['image_ms'][i, 0], out['image_sar'][i, 0]) for i in range(n)
    )
    assert same < n
    # Paired batches move both sensors together.
    paired = {
        'image_ms': marker.repeat(1, 13, 1, 1),
        'image_sar': marker.repeat(1, 2, 1, 1),
    }
    out = dm.on_after_batch_transfer(paired | {'label': torch.arange(n)}, 0)
    for i in range(n):
        assert torch.equal(out['image_ms'][i, 0], out['image_sar'][i, 0])
    # ... and does move them.
    assert any(not torch.equal(out['image_ms'][i, 0], marker[i, 0]) for i in range(n))


def test_stage_hooks_as_in_torchgeo() -> None:
    dm = _eurosat(augmentation='none')
    dm.normalization = {'ms': _identity(13), 'sar': _identity(2)}
    assert dm.aug is dm.normalizer
    assert dm.train_aug is None
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    batch = {
        'image_ms': torch.full((2, 13, 4, 4), 3.0),
        'image_sar': torch.full((2, 2, 4, 4), 3.0),
        'label': torch.arange(2),
    }
    # Without train_aug, training falls back to `aug`: normalisation only.
    dm.trainer.training = True
    out = dm.on_after_batch_transfer(dict(batch), 0)
    torch.testing.assert_close(out['image_ms'], batch['image_ms'])
    # A stage's own hook replaces `aug`.
    dm.trainer.validating = True
    dm.val_aug = lambda b: {**b, 'seen': torch.tensor(True)}
    assert 'seen' in dm.on_after_batch_transfer(dict(batch), 0)
    dm.trainer.testing = True
    assert 'seen' not in dm.on_after_batch_transfer(dict(batch), 0)


def test_augmentation_from_a_config() -> None:
    config = {
        'model': {
            'class_path': 'geokd.tasks.DisCoMKDTask',
            'init_args': {
                'in_channels': {'ms': 13, 'sar': 2},
                'num_classes': 10,
                'backbone': 'test_resnet',
            },
        },
        'data': {
            'class_path': 'geokd.datamodules.EuroSATMSSARDataModule',
            'init_args': {
                'root': str(DATA / 'eurosat_ms_sar'),
                'augmentation': [
                    {
                        'class_path': 'kornia.augmentation.RandomHorizontalFlip',
                        'init_args': {'p': 1.0},
                    }
                ],
            },
        },
    }
    args = ['--config', yaml.safe_dump(config), '--trainer.logger', 'false']
    dm = build_cli(args, run=False).datamodule
    [flip] = dm.train_aug[1].augment
    assert isinstance(flip, K.RandomHorizontalFlip)
    assert flip.p == 1.0
    dm.normalization = {'ms': _identity(13), 'sar': _identity(2)}
    dm.trainer = Trainer(logger=False, enable_checkpointing=False)
    dm.trainer.training = True
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    batch = {
        'image_ms': image.repeat(1, 13, 1, 1),
        'image_sar': image.repeat(1, 2, 1, 1),
        'label': torch.tensor([0]),
    }
    out = dm.on_after_batch_transfer(batch, 0)
    torch.testing.assert_close(out['image_sar'][0, 1], image[0, 0].flip(-1))
    # The presets, on the command line.
    for preset, kind in (('none', type(None)), ('reference', torch.nn.Sequential)):
        dm = build_cli(
            [*args, '--data.init_args.augmentation', preset], run=False
        ).datamodule
        assert isinstance(dm.train_aug, kind)


def test_unpaired_fit_runs_with_discomkd(tmp_path: Path) -> None:
    dm = _eurosat(paired=False)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    trainer = Trainer(
        fast_dev_run=True,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
    )
    trainer.fit(task, dm)
    assert torch.isfinite(trainer.callback_metrics['train_loss'])


def test_packed_cache(tmp_path: Path) -> None:
    dm = _eurosat(cache_dir=str(tmp_path))
    dm.setup('fit')
    assert isinstance(dm.train_dataset, PackedDataset)
    reference = _eurosat()
    reference.setup('fit')
    a, b = dm.train_dataset[3], reference.train_dataset[3]  # type: ignore[index]
    for key in ('image_ms', 'image_sar', 'label'):
        torch.testing.assert_close(a[key], b[key])
    assert len(list(tmp_path.iterdir())) == 2
    # Other arguments, other cache entry.
    _eurosat(cache_dir=str(tmp_path), bands={'sar': ['VV']}).setup('fit')
    assert len(list(tmp_path.iterdir())) == 4


def test_so2sat_datamodule() -> None:
    dm = So2SatMSSARDataModule(root=str(DATA / 'so2sat'), batch_size=4)
    dm.setup('fit')
    assert dm.band_names['sar'][0] == 'S1_B1'
    assert dm.require_normalization()['ms'].num_bands == 10
    batch = next(iter(dm.train_dataloader()))
    assert batch['image_sar'].shape == (4, 8, 8, 8)


def test_folder_datamodule_split_seed() -> None:
    def keys(seed: int) -> list[str]:
        dm = PairedFolderDataModule(
            root=str(DATA / 'paired_folder' / 'sun_rgbd'),
            folders={'rgb': 'rgb', 'depth': 'depth'},
            size=16,
            split_seed=seed,
            batch_size=4,
        )
        dm.setup('fit')
        assert dm.modalities == ['rgb', 'depth']
        assert dm.band_names == {'rgb': [], 'depth': []}
        return dm.train_dataset.keys  # type: ignore[union-attr]

    assert keys(0) == keys(0)
    assert keys(0) != keys(1)


def test_folder_datamodule_rejects_nan_before_the_model(tmp_path: Path) -> None:
    import numpy as np
    import rasterio

    for folder in ('a', 'b'):
        for i in range(4):
            path = tmp_path / folder / 'c' / f'{i}.tif'
            path.parent.mkdir(parents=True, exist_ok=True)
            data = np.ones((1, 4, 4), dtype=np.float32)
            data[0, 0, 0] = np.nan if (folder, i) == ('b', 2) else 1
            with rasterio.open(
                path, 'w', driver='GTiff', width=4, height=4, count=1, dtype='float32'
            ) as dst:
                dst.write(data)
    dm = PairedFolderDataModule(
        root=str(tmp_path), folders={'a': 'a', 'b': 'b'}, fractions=(1, 0, 0)
    )
    dm.setup('fit')
    with pytest.raises(ValueError, match=r'c/2.tif: 1 NaN'):
        dm.require_normalization()


def test_statistics_from_images_of_different_sizes() -> None:
    # Without `size`, the SUN RGB-D fixture's images differ in size: the estimate
    # reads them one by one rather than batching them.
    dm = PairedFolderDataModule(
        root=str(DATA / 'paired_folder' / 'sun_rgbd'),
        folders={'rgb': 'rgb', 'depth': 'depth'},
        norm_method='percentile',
    )
    dm.estimate_normalization()
    depth = dm.normalization['depth']
    assert depth.shift[0] < 1100
    assert depth.shift[0] + depth.scale[0] > 3100


def test_testing_from_a_checkpoint_reads_no_training_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / 'data'
    shutil.copytree(
        DATA / 'eurosat_ms_sar', root, ignore=shutil.ignore_patterns('*.zip', '*.py')
    )
    dm = EuroSATMSSARDataModule(root=str(root), batch_size=4)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    options = {
        'logger': False,
        'enable_checkpointing': False,
        'enable_progress_bar': False,
        'enable_model_summary': False,
        'default_root_dir': tmp_path,
    }
    trainer = Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, **options
    )
    trainer.fit(task, dm)
    ckpt = tmp_path / 'last.ckpt'
    trainer.save_checkpoint(ckpt)
    # The training split disappears, and estimating would fail the test.
    for half in ('eurosat_s1', 'eurosat_s2'):
        listing = root / half / 'eurosat-train.txt'
        for name in listing.read_text().split():
            image = name.replace('.jpg', '.tif')
            (root / half / 'all_imgs' / image.split('_')[0] / image).unlink()
        listing.unlink()

    def estimate(*args: object, **kwargs: object) -> None:
        raise AssertionError('statistics estimated')

    monkeypatch.setattr(MultiModalDataModule, 'estimate_normalization', estimate)
    fresh = EuroSATMSSARDataModule(root=str(root), batch_size=4)
    [metrics] = Trainer(**options).test(task, fresh, ckpt_path=ckpt, verbose=False)
    assert 'test_f1_sar' in metrics
    assert fresh.normalization == dm.normalization
    monkeypatch.undo()
    # Without a checkpoint nor statistics, the error says what is missing.
    with pytest.raises(ValueError, match='normalisation statistics are unknown'):
        Trainer(**options).test(
            task, EuroSATMSSARDataModule(root=str(root)), verbose=False
        )


def test_a_failed_estimation_leaves_no_worker_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Workers left running for as long as the error lived (its traceback holds
    # the iterator) ignore SIGTERM: the interpreter's exit waited for them forever
    # (seen as a test suite that never ended).
    dm = _eurosat(num_workers=1, stats_samples=10)
    dm.setup('fit')

    def broken(self: object, index: int) -> None:
        raise ValueError('a broken sample')

    monkeypatch.setattr(type(dm.train_dataset), '__getitem__', broken)
    with pytest.raises(ValueError, match='a broken sample') as error:
        dm.estimate_normalization()
    assert error.value is not None  # the error, and its traceback, still live
    assert not multiprocessing.active_children()
