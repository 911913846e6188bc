"""Fixtures of the hostile-input suite: a tiny run, its files, a watched sandbox,
and a tiny exported SAR model with a way to run ``geokd predict`` on it."""

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from geokd.export import export_model
from geokd.main import main
from tests.predict.conftest import tiny_classifier
from tests.tristar_fit import TRISTAR, tristar_fit_config

from .helpers import Outcome, Sandbox, run_in_process
from .predict_helpers import Result, Run, predict

#: Trainer arguments of a DisCoM-KD run small enough for a few seconds on a CPU.
TINY_TRAINER = {
    'max_epochs': 1,
    'limit_train_batches': 1,
    'limit_val_batches': 1,
    'limit_test_batches': 1,
}


@dataclass(frozen=True)
class TinyRun:
    """Files of one finished tiny ``geokd fit`` (the config of :func:`write_config`).

    Attributes:
        data: Its dataset (a copy of the TRISTAR fixture).
        config: Its config file.
        log_dir: Its log directory (``config.yaml``, ``test_results.json``,
            ``export/``).
        last: Its resumable ``last.ckpt``.
        best: Its weights-only best checkpoint of the depth classifier.
    """

    data: Path
    config: Path
    log_dir: Path
    last: Path
    best: Path


def write_config(path: Path, data: Path, extra: str = '') -> Path:
    """Write the tiny run's config for ``data``, with extra YAML appended.

    Args:
        path: The file.
        data: The dataset root.
        extra: YAML text added at the end.

    Returns:
        The file.
    """
    config = tristar_fit_config(data, TINY_TRAINER, datamodule={'num_workers': 0})
    path.write_text(config + extra)
    return path


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Train the tiny run once for the whole session."""
    root = tmp_path_factory.mktemp('tiny_run')
    data = root / 'tristar'
    shutil.copytree(TRISTAR, data)
    config = write_config(root / 'fit.yaml', data)
    try:
        main(['fit', '--config', str(config), '--trainer.default_root_dir', str(root)])
    except SystemExit as exit_:
        pytest.fail(f'the tiny run failed: {exit_.code}')
    [log_dir] = {p.parent for p in root.rglob('test_results.json')}
    checkpoints = log_dir / 'checkpoints'  # per run, beside its logs
    [best] = checkpoints.glob('best-depth-*.ckpt')
    return TinyRun(data, config, log_dir, checkpoints / 'last.ckpt', best)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A watched working directory: nothing outside ``out/`` may change in it."""
    box = Sandbox(tmp_path / 'sandbox')
    monkeypatch.chdir(box.root)
    monkeypatch.delenv('GEOKD_DEBUG', raising=False)
    yield box
    if box._before is not None:
        assert box.changed_outside() == [], 'geokd wrote outside the output directory'


Geokd = Callable[[Sequence[str]], Outcome]


@pytest.fixture
def geokd(capsys: pytest.CaptureFixture[str], sandbox: Sandbox) -> Geokd:
    """Run geokd in this process, in the sandbox (started at the first call)."""

    def run(argv: Sequence[str]) -> Outcome:
        if sandbox._before is None:
            sandbox.start()
        return run_in_process(argv, capsys)

    return run


@dataclass(frozen=True)
class Evil:
    """A module whose import, and a command whose run, leave a marker file.

    Attributes:
        module: Importable name of the module (on ``sys.path`` during the test).
        marker: The file its import would create.
        command: A shell command creating the marker too.
    """

    module: str
    marker: Path
    command: str


@pytest.fixture
def evil(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Evil]:
    """A module that runs code when imported; the test fails if the marker appears."""
    marker = sandbox.root / 'PWNED'
    code = sandbox.root / 'evil_code'
    code.mkdir()
    (code / 'geokd_evil.py').write_text(
        f'open({str(marker)!r}, "w").close()\n'
        'import torch\n'
        'class Task(torch.nn.Module):\n'
        '    pass\n'
    )
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setattr('sys.dont_write_bytecode', True)
    # Imported by an earlier test (a bug), it would not run again unnoticed.
    monkeypatch.delitem(sys.modules, 'geokd_evil', raising=False)
    yield Evil('geokd_evil', marker, f'touch {marker}')
    assert not marker.exists(), 'code named in an untrusted file ran'


def _fill(directory: Path) -> None:
    """Fill a file system until it has no space left."""
    with (directory / 'filler').open('wb', buffering=0) as f:
        written = True
        while written:
            try:
                f.write(b'\0' * 4096)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                written = False


def _mount_tmpfs(directory: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which('mount'):
        return False
    done = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', str(directory)],
        capture_output=True,
    )
    return done.returncode == 0


def _refusing(directory: Path, write: Callable[..., Any]) -> Callable[..., Any]:
    """``write(path, ...)``, raising ENOSPC as a full disk for paths in ``directory``."""

    def full(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).resolve().is_relative_to(directory.resolve()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(path, *args, **kwargs)

    return full


@pytest.fixture
def full_disk(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory inside ``out/`` whose file system is full.

    A real 64 KiB tmpfs, filled, where this process may mount one (root on Linux);
    elsewhere geokd's writers raise ``ENOSPC`` under it as on a full disk.
    """
    import safetensors.torch

    directory = sandbox.out / 'disk'
    directory.mkdir(parents=True)
    mounted = _mount_tmpfs(directory)
    if mounted:
        try:
            _fill(directory)
        except BaseException:
            subprocess.run(['umount', str(directory)], check=True)
            raise
    else:
        (directory / 'filler').write_bytes(b'')
        for name in ('write_text', 'write_bytes'):
            monkeypatch.setattr(Path, name, _refusing(directory, getattr(Path, name)))
        save = _refusing(directory, lambda p, t: safetensors.torch.save_file(t, p))
        monkeypatch.setattr(
            'geokd.export.classifier.save_file', lambda t, p: save(p, t)
        )
    yield directory
    if mounted:
        subprocess.run(['umount', str(directory)], check=True)


@pytest.fixture(scope='module')
def one_thread() -> Iterator[None]:
    """Run a module on one thread (``pytestmark = pytest.mark.usefixtures(...)``).

    Tiny models gain nothing from threads, which a busy CI machine makes slow.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported SAR model (patch 16, 10 m), one per module."""
    classifier = tiny_classifier('sar')
    directory = tmp_path_factory.mktemp('model') / 'sar'
    return export_model(classifier.model, classifier.metadata, directory)


@pytest.fixture
def run(model: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``geokd predict --model MODEL --quiet ARGS`` in this process."""

    def call(*args: object) -> Result:
        return predict([*args, '--model', model, '--quiet'], capsys)

    return call
