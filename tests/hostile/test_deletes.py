"""Every delete of geokd outside ``predict`` (red team 19.3).

``geokd benchmark`` is the only command of these that deletes: it empties a run
directory to train the run again. It must delete only what it can prove it wrote
(a directory it created, whose marker holds the id it recorded, and in it only the
names a run writes), never a folder's whole content, never through a link.
``geokd stats`` leaves nothing behind when its output cannot be written
(``test_stats_disk_full``).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Geokd, TinyRun
from .helpers import Sandbox, assert_clean_error

THESIS = 'years of work'


def _bench(box: Sandbox, run: TinyRun, *args: str, name: str = 'bench') -> Path:
    path = box.inputs / f'{name}.yaml'
    path.write_text(
        f'output_dir: {box.out}\nseeds: [0]\nseed_args: [seed_everything]\n'
        f'methods: {{A: {{configs: [{run.config}]}}}}\n'
        + (f'args: {list(args)}\n' if args else '')
    )
    return path


def _run_dir(box: Sandbox, run: TinyRun) -> Path:
    return box.out / run.config.stem / 'seed0'


def _fake_training(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace training by writing what a run writes; returns the run directories."""
    trained: list[Path] = []

    def train_run(argv: list[str]) -> tuple[dict[str, dict[str, Any]], float]:
        root = next(a for a in argv if a.startswith('--trainer.default_root_dir='))
        run_dir = Path(root.partition('=')[2])
        (run_dir / 'config.yaml').write_text('model: {}\n')
        (run_dir / 'metrics.csv').write_text('epoch\n0\n')
        (run_dir / 'events.out.tfevents.1.host').write_bytes(b'\0')
        (run_dir / 'checkpoints').mkdir()
        (run_dir / 'checkpoints' / 'best-depth.ckpt').write_bytes(b'\0')
        trained.append(run_dir)
        result = {'f1': 0.5, 'f1_macro': 0.5, 'acc': 0.5, 'checkpoint': None}
        return {'depth': result}, 1.0

    monkeypatch.setattr('geokd.benchmark.train_run', train_run)
    return trained


def _run_then_change(box: Sandbox, run: TinyRun, geokd: Geokd) -> tuple[Path, Path]:
    """Run the benchmark once; its run directory, and a benchmark file whose changed
    settings would train that run again (emptying its directory first)."""
    changed = _bench(box, run, '--trainer.max_epochs=2', name='changed')
    assert geokd(['benchmark', '--config', str(_bench(box, run))]).code == 0
    return _run_dir(box, run), changed


def _users_folder(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / 'thesis.tex').write_text(THESIS)
    (run_dir / 'config.yaml').write_text('mine: true\n')


def _forged_marker(run_dir: Path) -> None:
    _users_folder(run_dir)
    (run_dir / '.geokd-run.json').write_text(json.dumps({'run_id': 'forged'}))


#: A state of the run directory before the benchmark; the run directory is given.
Setup = Callable[[Path], None]

REFUSED: dict[str, Setup] = {
    "a user's folder with a config.yaml": _users_folder,
    'a forged marker, no record': _forged_marker,
}


@pytest.mark.parametrize('setup', REFUSED.values(), ids=REFUSED.keys())
def test_benchmark_keeps_a_folder_it_did_not_create(
    setup: Setup, sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    # The red team's case: a failing run (an unknown option) after the delete.
    run_dir = _run_dir(sandbox, tiny_run)
    setup(run_dir)
    bench = _bench(sandbox, tiny_run)
    outcome = geokd(
        ['benchmark', '--config', str(bench), '--run_arg=--trainer.bogus=1']
    )
    assert_clean_error(outcome, 'benchmark', str(run_dir))
    assert (run_dir / 'thesis.tex').read_text() == THESIS
    assert (run_dir / 'config.yaml').read_text() == 'mine: true\n'


def test_benchmark_keeps_a_link_to_a_users_folder(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    users = sandbox.inputs / 'thesis'
    _users_folder(users)
    run_dir = _run_dir(sandbox, tiny_run)
    run_dir.parent.mkdir(parents=True)
    run_dir.symlink_to(users)
    outcome = geokd(['benchmark', '--config', str(_bench(sandbox, tiny_run))])
    assert_clean_error(outcome, 'benchmark', str(run_dir))
    assert (users / 'thesis.tex').read_text() == THESIS


def test_benchmark_keeps_files_added_to_its_own_run(
    sandbox: Sandbox,
    tiny_run: TinyRun,
    geokd: Geokd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_training(monkeypatch)
    run_dir, changed = _run_then_change(sandbox, tiny_run, geokd)
    (run_dir / 'thesis.tex').write_text(THESIS)
    outcome = geokd(['benchmark', '--config', str(changed)])
    assert_clean_error(outcome, 'benchmark', 'thesis.tex')
    assert (run_dir / 'thesis.tex').read_text() == THESIS
    assert (run_dir / 'checkpoints' / 'best-depth.ckpt').exists()


def test_benchmark_deletes_what_its_run_wrote_never_through_links(
    sandbox: Sandbox,
    tiny_run: TinyRun,
    geokd: Geokd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trained = _fake_training(monkeypatch)
    users = sandbox.inputs / 'thesis'
    _users_folder(users)
    run_dir, changed = _run_then_change(sandbox, tiny_run, geokd)
    # A link at a name a run writes, to a folder of the user's.
    (run_dir / 'export').symlink_to(users)
    outcome = geokd(['benchmark', '--config', str(changed)])
    assert outcome.code == 0, outcome.err
    assert 'settings changed, retraining' in outcome.out
    assert len(trained) == 2
    assert (users / 'thesis.tex').read_text() == THESIS
    assert not (run_dir / 'export').exists()
    assert json.loads((run_dir / 'result.json').read_text())['results']
