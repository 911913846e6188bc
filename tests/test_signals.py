"""SIGTERM (``timeout``, SLURM, ``docker stop``) ends every command in one line, with
a state to go on from and exit status 143.

The subprocess tests send the real signal to the whole process group, as
``timeout`` and job schedulers do, once the command has reached a known point (a
marker file, a line on stderr)."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from geokd.errors import expected_failure
from geokd.signals import (
    EXIT_TERMINATED,
    Terminated,
    ignore_termination,
    terminated_message,
    terminations,
)
from tests.tristar_fit import TRISTAR, tristar_fit_config

REPO = Path(__file__).resolve().parents[1]


def _sigterm_in(command: str) -> None:
    with terminations(command):
        # Sent to this thread (another thread of the suite's would take a signal
        # sent to the process): its handler runs before pthread_kill returns.
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        pytest.fail('SIGTERM did not stop the block')


def _noted_by_lightning_then_failed(command: str) -> None:
    with terminations(command):
        ours = signal.getsignal(signal.SIGTERM)
        assert callable(ours)
        # What Lightning's SignalConnector installs: it notes the signal, calls
        # the handler it found, and stops the loop at the end of the batch.
        signal.signal(signal.SIGTERM, lambda signum, frame: ours(signum, frame))
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        # A DataLoader worker killed by the same signal fails the process.
        msg = 'DataLoader worker (pid 1) is killed by signal: Terminated.'
        raise RuntimeError(msg)


def test_sigterm_in_the_block_is_terminated_with_the_way_to_go_on() -> None:
    with pytest.raises(Terminated) as info:
        _sigterm_in('fit')
    assert expected_failure(info.value) == (
        'terminated (SIGTERM); resume with the same command and --ckpt_path last',
        EXIT_TERMINATED,
    )
    assert EXIT_TERMINATED == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_what_ends_the_block_after_a_noted_sigterm_is_terminated() -> None:
    with pytest.raises(Terminated) as info:
        _noted_by_lightning_then_failed('benchmark')
    assert str(info.value) == terminated_message('benchmark')
    assert 'run the same command again' in str(info.value)


def test_success_and_other_failures_pass_through_without_a_sigterm() -> None:
    with pytest.raises(ValueError, match='x'), terminations('fit'):
        raise ValueError('x')
    with terminations('fit'):
        pass


def test_dataloader_workers_outlive_a_sigterm_to_their_group() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        ignore_termination(0)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def _geokd(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    return subprocess.Popen(
        [sys.executable, '-m', 'geokd', *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _terminate_at(process: subprocess.Popen[str], marker: Path) -> str:
    """SIGTERM to the group once ``marker`` exists; the command's stderr."""
    while not marker.exists():
        try:
            process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(process.communicate()[1][-3000:])
    os.killpg(process.pid, signal.SIGTERM)
    return process.communicate(timeout=300)[1]


def _assert_one_line(err: str, command: str, code: int) -> None:
    assert code == EXIT_TERMINATED, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    assert 'internal error' not in err
    assert err.strip().splitlines()[-1] == (
        f'geokd {command}: error: {terminated_message(command)}'
    )


@pytest.fixture
def terminated_fit(tmp_path: Path) -> tuple[list[str], Path, str, int]:
    """A fit terminated after its first batch: its arguments, directory, stderr, code."""
    config = tmp_path / 'fit.yaml'
    config.write_text(
        tristar_fit_config(TRISTAR, {'max_epochs': 2}, datamodule={'num_workers': 1})
    )
    marker = tmp_path / 'paused'
    pause = {
        'class_path': 'tests.callbacks.pause.PauseAt',
        'init_args': {'epoch': 0, 'batch': 0, 'marker': str(marker)},
    }
    args = ['fit', '--config', str(config), '--trainer.default_root_dir',
            str(tmp_path / 'run')]  # fmt: skip
    pausing = f'--trainer.callbacks+={json.dumps(pause)}'
    process = _geokd(*args, pausing, cwd=tmp_path)
    err = _terminate_at(process, marker)
    return args, tmp_path / 'run', err, process.returncode


def test_sigterm_on_fit_leaves_a_resumable_last_checkpoint(
    terminated_fit: tuple[list[str], Path, str, int],
) -> None:
    _, run, err, code = terminated_fit
    _assert_one_line(err, 'fit', code)
    assert 'Received SIGTERM' not in err  # Lightning's own note is not shown
    last = run / 'lightning_logs' / 'version_0' / 'checkpoints' / 'last.ckpt'
    assert last.is_file(), err[-3000:]
    state = torch.load(last, weights_only=True, map_location='cpu')
    assert (state['epoch'], state['global_step']) == (0, 1)


@pytest.mark.slow
def test_a_terminated_fit_resumes_in_its_own_version(
    terminated_fit: tuple[list[str], Path, str, int],
) -> None:
    args, run, err, code = terminated_fit
    assert code == EXIT_TERMINATED, err[-3000:]
    resumed = _geokd(*args, '--ckpt_path', 'last', cwd=run.parent)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    versions = sorted(p.name for p in (run / 'lightning_logs').iterdir())
    assert versions == ['version_0']
    checkpoints = run / 'lightning_logs' / 'version_0' / 'checkpoints'
    state = torch.load(checkpoints / 'last.ckpt', weights_only=True)
    assert state['epoch'] == 1
    assert not list(checkpoints.glob('last-v*.ckpt'))


def test_sigterm_on_benchmark_ends_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / 'paused'
    pause = {
        'class_path': 'tests.callbacks.pause.PauseAt',
        'init_args': {'epoch': 0, 'batch': 0, 'marker': str(marker)},
    }
    configs = REPO / 'configs' / 'baselines'
    spec = {
        'output_dir': str(tmp_path / 'out'),
        'base_configs': [str(configs / 'synthetic.yaml')],
        'seeds': [0],
        'methods': {'Single': {'configs': [str(configs / 'single_modal_sar.yaml')]}},
        'args': [
            '--trainer.max_epochs=2',
            '--trainer.enable_progress_bar=false',
            '--model.init_args.backbone=test_resnet',
            '--data.init_args.samples_per_class=10',
            '--data.init_args.size=16',
            f'--trainer.callbacks+={json.dumps(pause)}',
        ],
    }
    config = tmp_path / 'bench.yaml'
    config.write_text(json.dumps(spec))
    process = _geokd('benchmark', '--config', str(config), cwd=tmp_path)
    err = _terminate_at(process, marker)
    _assert_one_line(err, 'benchmark', process.returncode)
    assert not list((tmp_path / 'out').rglob('result.json'))  # not taken as done
