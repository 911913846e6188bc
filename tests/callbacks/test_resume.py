"""Interrupted training resumed with ``--ckpt_path last`` gives the uninterrupted run.

``last.ckpt`` is written after every epoch with the optimiser, every classifier's
best so far and the random generators' states, so a run stopped by Ctrl-C, SIGINT or
SIGKILL in the middle of an epoch and resumed trains exactly as the run that never
stopped: on the CPU, the same weights to the last bit and the same test metrics.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from geokd.callbacks import ClassifierCheckpoints
from geokd.datamodules import PairedFolderDataModule
from geokd.tasks import DisCoMKDTask
from tests.tristar_fit import TRISTAR, tristar_fit_config

REPO = Path(__file__).resolve().parents[2]
#: What "the same" means: CPU training with these seeds is bitwise reproducible;
#: the margin only absorbs the float formatting of test_results.json.
TOLERANCE = 1e-6


class _CtrlC(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C does) after a batch of an epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: object,
        batch_idx: int,
    ) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            raise KeyboardInterrupt


class _Weights(Callback):
    """Keep a copy of the weights after every epoch."""

    def __init__(self) -> None:
        self.after: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.after[trainer.current_epoch] = {
            k: v.detach().clone() for k, v in pl_module.state_dict().items()
        }


def _fit(root: Path, callbacks: list[Callback], ckpt_path: str | None = None) -> None:
    seed_everything(0)
    task = DisCoMKDTask({'depth': 1, 'thermal': 1}, 3, backbone='test_resnet', lr=1e-3)
    data = PairedFolderDataModule(
        str(TRISTAR),
        {'depth': 'depth', 'thermal': 'thermal'},
        manifest='manifest.csv',
        size=16,
        batch_size=4,
    )
    trainer = Trainer(
        max_epochs=2,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ClassifierCheckpoints(), *callbacks],
    )
    trainer.fit(task, data, ckpt_path=ckpt_path)


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_ctrl_c_mid_epoch_then_resume_is_the_uninterrupted_run(tmp_path: Path) -> None:
    full = _Weights()
    _fit(tmp_path / 'full', [full])
    with pytest.raises(SystemExit):  # Lightning ends the process on Ctrl-C
        _fit(tmp_path / 'cut', [_CtrlC(epoch=1, batch=1)])
    last = tmp_path / 'cut' / 'checkpoints' / 'last.ckpt'
    assert torch.load(last, weights_only=True)['epoch'] == 0
    resumed = _Weights()
    _fit(tmp_path / 'cut', [resumed], ckpt_path='last')
    assert sorted(resumed.after) == [1]
    assert _max_difference(full.after[1], resumed.after[1]) <= TOLERANCE


def _geokd_fit(config: Path, root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    return subprocess.Popen(
        [sys.executable, '-m', 'geokd', 'fit', '--config', str(config),
         '--trainer.default_root_dir', str(root), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]


def _outcome(root: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Test results (best checkpoints by name) and final weights of a run."""
    [results] = root.rglob('test_results.json')
    tests = json.loads(results.read_text())
    for r in tests.values():
        r['checkpoint'] = Path(r['checkpoint']).name
    newest = max(root.rglob('checkpoints/last*.ckpt'), key=lambda p: p.stat().st_mtime)
    return tests, torch.load(newest, weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp('uninterrupted')
    config = root / 'fit.yaml'
    # The same run as _fit's from the command line, over three epochs.
    config.write_text(
        tristar_fit_config(TRISTAR, {'max_epochs': 3}, model={'lr': 0.001})
    )
    _finish(_geokd_fit(config, root / 'run'))
    return config, _outcome(root / 'run')


@pytest.mark.slow
@pytest.mark.parametrize('signal_name', ['SIGINT', 'SIGKILL'])
def test_killed_fit_resumes_as_the_uninterrupted_run(
    signal_name: str, tmp_path: Path, uninterrupted: tuple[Path, Any]
) -> None:
    config, (tests, weights) = uninterrupted
    marker = tmp_path / 'paused'
    pause = {
        'class_path': 'tests.callbacks.pause.PauseAt',
        'init_args': {'epoch': 1, 'batch': 1, 'marker': str(marker)},
    }
    process = _geokd_fit(
        config, tmp_path / 'run', f'--trainer.callbacks+={json.dumps(pause)}'
    )
    while not marker.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.1)
    process.send_signal(getattr(signal, signal_name))
    process.communicate(timeout=120)
    assert process.returncode != 0
    assert not list((tmp_path / 'run').rglob('test_results.json'))
    _finish(_geokd_fit(config, tmp_path / 'run', '--ckpt_path', 'last'))
    resumed_tests, resumed_weights = _outcome(tmp_path / 'run')
    assert _max_difference(weights, resumed_weights) <= TOLERANCE
    assert resumed_tests.keys() == tests.keys()
    for m, r in tests.items():
        assert resumed_tests[m]['checkpoint'] == r['checkpoint']
        for metric in ('f1', 'f1_macro', 'acc'):
            assert abs(resumed_tests[m][metric] - r[metric]) <= TOLERANCE
