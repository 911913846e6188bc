"""``geokd fit`` under DDP: 2 CPU processes (gloo), the real command line.

One DisCoM-KD run with unpaired batches (2 epochs) is shared by the tests below; each
reads what the run wrote (sample records of every process, checkpoints, exports, the
CSV log, test_results.json) and compares it with a single-process evaluation.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed
from lightning.pytorch import Trainer, seed_everything
from torch.utils.data import DistributedSampler

from geokd.datamodules import SyntheticMSSARDataModule
from geokd.loader import load_checkpoint, read_checkpoint
from geokd.tasks import SingleModalTask

from .runs import (
    epoch_metrics,
    geokd,
    geokd_callbacks,
    synthetic_data,
    trainer_section,
    write_config,
)

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason='needs torch.distributed with gloo',
)

#: Split sizes of the tiny synthetic data (synthetic_data()).
TRAIN, VAL, TEST = 70, 10, 20
DATA_ARGS: dict[str, Any] = {
    'batch_size': 4,
    'samples_per_class': 10,
    'size': 16,
    'paired': False,
}
#: Per process: 35 training samples, 8 full batches of 4 (the last 3 are dropped).
STEPS_PER_EPOCH = 8
#: Float32 sums over differently split sample sets agree to about 1e-7 relative.
RTOL = 1e-5


@dataclass
class Run:
    root: Path
    output: str

    @property
    def checkpoints(self) -> Path:
        # Lightning's default: checkpoints kept per logger version.
        return self.log_dir / 'checkpoints'

    @property
    def log_dir(self) -> Path:
        return self.root / 'run' / 'csv' / 'version_0'

    def samples(self, rank: int) -> dict[str, Any]:
        return json.loads((self.root / 'samples' / f'rank{rank}.json').read_text())


def discomkd_config(root: Path, epochs: int) -> Path:
    recorder = {
        'class_path': 'tests.distributed.recorder.RecordSamples',
        'init_args': {'directory': str(root / 'samples')},
    }
    config = {
        'seed_everything': 0,
        'trainer': trainer_section(
            root / 'run', 2, max_epochs=epochs, callbacks=geokd_callbacks(recorder)
        ),
        'model': {
            'class_path': 'geokd.tasks.DisCoMKDTask',
            'init_args': {
                'in_channels': {'ms': 13, 'sar': 2},
                'num_classes': 10,
                'backbone': 'test_resnet',
                'lr': 1e-3,
            },
        },
        'data': synthetic_data(**DATA_ARGS),
    }
    return write_config(root / 'config.yaml', config)


@pytest.fixture(scope='module')
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp('ddp')
    done = geokd(['fit', '--config', str(discomkd_config(root, 2))], cwd=root)
    return Run(root, done.stdout + done.stderr)


def evaluate(checkpoint: Path, stage: str) -> dict[str, float]:
    """Validate or test a checkpoint in this (single) process, on the whole split."""
    loaded = load_checkpoint(checkpoint)
    datamodule = SyntheticMSSARDataModule(num_workers=0, **DATA_ARGS)
    datamodule.load_state_dict(loaded.datamodule_state)
    trainer = Trainer(
        accelerator='cpu',
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    [metrics] = getattr(trainer, stage)(
        loaded.task, datamodule=datamodule, verbose=False
    )
    return {k: float(v) for k, v in metrics.items()}


def test_unpaired_shares_cover_the_split_each_modality_shuffled_apart(
    ddp_run: Run,
) -> None:
    ranks = [ddp_run.samples(0), ddp_run.samples(1)]
    assert [r['world_size'] for r in ranks] == [2, 2]
    for epoch in ('0', '1'):
        for m in ('ms', 'sar'):
            shares = [r['train'][epoch][m] for r in ranks]
            assert {s['sampler'] for s in shares} == {'DistributedSampler'}
            # 70 samples split evenly: together the shares are the split, once.
            assert sorted(shares[0]['indices'] + shares[1]['indices']) == list(
                range(TRAIN)
            )
            for share in shares:
                # The batches delivered are these samples, in this order (the
                # synthetic label of sample i is i % 10); the last 3 are dropped.
                labels = [i % 10 for i in share['indices'][: 4 * STEPS_PER_EPOCH]]
                assert [y for b in share['labels'] for y in b] == labels
        for r in ranks:
            ms, sar = r['train'][epoch]['ms'], r['train'][epoch]['sar']
            assert ms['indices'] != sar['indices']
    for r in ranks:
        assert r['train']['0']['ms']['indices'] != r['train']['1']['ms']['indices']


@pytest.mark.parametrize(('stage', 'size'), [('val', VAL), ('test', TEST)])
def test_evaluation_shares_hold_every_sample_once(
    ddp_run: Run, stage: str, size: int
) -> None:
    shares = [ddp_run.samples(rank)[stage] for rank in (0, 1)]
    if stage == 'val':
        shares = [s['1'] for s in shares]  # the last epoch's validation
    shares = [s['paired'] for s in shares]
    indices = [i for s in shares for i in s['indices']]
    assert {s['sampler'] for s in shares} == {'UnrepeatedDistributedSampler'}
    assert sorted(indices) == list(range(size))


def test_checkpoints_test_results_and_exports_written_once(ddp_run: Run) -> None:
    names = sorted(p.name for p in ddp_run.checkpoints.iterdir())
    assert len(names) == 3, names
    assert names[-1] == 'last.ckpt'
    assert names[0].startswith('best-ms-')
    assert names[1].startswith('best-sar-')
    for m in ('ms', 'sar'):
        assert (ddp_run.log_dir / 'export' / m / 'model.json').is_file()
        assert ddp_run.output.count(f'Exported the {m} classifier') == 1
    assert ddp_run.output.count('Per-modality test results written') == 1
    assert (ddp_run.log_dir / 'test_results.json').is_file()


def test_validation_metrics_equal_a_single_process_evaluation(ddp_run: Run) -> None:
    logged = epoch_metrics(ddp_run.log_dir)[1]
    expected = evaluate(ddp_run.checkpoints / 'last.ckpt', 'validate')
    # The losses (continuous) would differ if each process logged its own half.
    assert {'val_loss', 'val_f1_ms', 'val_acc_sar', 'val_adv_acc'} <= set(expected)
    different = {
        key: (logged[key], value)
        for key, value in expected.items()
        if logged[key] != pytest.approx(value, rel=RTOL, abs=1e-6)
    }
    assert not different


def test_test_results_equal_a_single_process_test(ddp_run: Run) -> None:
    results = json.loads((ddp_run.log_dir / 'test_results.json').read_text())
    assert set(results) == {'ms', 'sar'}
    for m, result in results.items():
        assert Path(result['checkpoint']).parent == ddp_run.checkpoints
        expected = evaluate(Path(result['checkpoint']), 'test')
        for k in ('f1', 'f1_macro', 'acc'):
            assert result[k] == pytest.approx(expected[f'test_{k}_{m}'], abs=1e-6)


@pytest.mark.slow
def test_resume_from_last_checkpoint(tmp_path: Path) -> None:
    geokd(['fit', '--config', str(discomkd_config(tmp_path, 1))], cwd=tmp_path)
    last = tmp_path / 'run' / 'csv' / 'version_0' / 'checkpoints' / 'last.ckpt'
    assert read_checkpoint(last)['global_step'] == STEPS_PER_EPOCH
    done = geokd(
        ['fit', '--config', str(discomkd_config(tmp_path, 2)), '--ckpt_path', 'last'],
        cwd=tmp_path,
    )
    assert 'Restored all states from the checkpoint' in done.stdout + done.stderr
    resumed = read_checkpoint(last)
    assert resumed['epoch'] == 1
    assert resumed['global_step'] == 2 * STEPS_PER_EPOCH
    # Only the second epoch ran, with the second epoch's shuffle of each share.
    for rank in (0, 1):
        record = json.loads((tmp_path / 'samples' / f'rank{rank}.json').read_text())
        assert set(record['train']) == {'1'}
        for stream, m in enumerate(('ms', 'sar')):
            sampler = DistributedSampler(
                range(TRAIN), num_replicas=2, rank=rank, seed=stream
            )
            sampler.set_epoch(1)
            assert record['train']['1'][m]['indices'] == list(sampler)


def single_modal_config(root: Path, devices: int, batch_size: int) -> Path:
    # GroupNorm trunk and linear head: no batch statistics anywhere, so one step on
    # 2 processes x batch b is the same computation as 1 process x batch 2b.
    config = {
        'seed_everything': 0,
        'trainer': trainer_section(root / 'run', devices, max_epochs=1),
        'model': {
            'class_path': 'geokd.tasks.SingleModalTask',
            'init_args': {
                'modality': 'sar',
                'in_channels': 2,
                'num_classes': 10,
                'backbone': 'test_efficientnet_gn',
                'lr': 1e-3,
            },
        },
        'data': synthetic_data(batch_size=batch_size, augmentation='none'),
    }
    return write_config(root / 'config.yaml', config)


@pytest.mark.slow
def test_ddp_epoch_equals_one_process_over_the_same_batches(tmp_path: Path) -> None:
    # One process under the ddp strategy draws the same global permutation as two
    # (DistributedSampler, same seed), so its batch k of 8 is the union of the two
    # processes' batches k of 4.
    runs = {}
    for devices, batch_size in ((2, 4), (1, 8)):
        root = tmp_path / f'devices{devices}'
        root.mkdir()
        geokd(
            ['fit', '--config', str(single_modal_config(root, devices, batch_size))],
            cwd=root,
        )
        runs[devices] = root
    # Validation of epoch 0, then the test after fit (logged at epoch 1).
    metrics = {
        d: {
            k: v
            for e in epoch_metrics(r / 'run' / 'csv' / 'version_0').values()
            for k, v in e.items()
        }
        for d, r in runs.items()
    }
    assert metrics[2].keys() == metrics[1].keys()
    assert {'val_loss', 'val_f1_sar', 'test_f1_sar', 'test_loss'} <= metrics[1].keys()
    # Counts-based metrics (F1, accuracy) must be identical: one changed prediction
    # moves them by at least 1/20. Losses are float32 sums over 8 Adam steps whose
    # gradients were summed in another order: measured 3.5e-6 relative apart.
    for key, value in metrics[1].items():
        tolerance = {'rel': 1e-4} if 'loss' in key else {'abs': 1e-6}
        assert metrics[2][key] == pytest.approx(value, **tolerance), key
    weights = {
        d: read_checkpoint(
            r / 'run' / 'csv' / 'version_0' / 'checkpoints' / 'last.ckpt'
        )['state_dict']
        for d, r in runs.items()
    }
    seed_everything(0)  # as LightningCLI does before building the task
    initial = SingleModalTask(
        'sar', 2, 10, backbone='test_efficientnet_gn', lr=1e-3
    ).state_dict()
    for name, start in initial.items():
        update = (weights[1][name] - start).abs().max()
        gap = (weights[2][name] - weights[1][name]).abs().max()
        # Adam divides by sqrt(v): rounding differences of near-zero gradients
        # become update differences, measured up to 0.7% of a tensor's update; a
        # process training on other samples, or without the all-reduce, is ~100%.
        assert update > 0, name
        assert gap <= 0.05 * update, name
