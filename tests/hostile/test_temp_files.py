"""Links planted where geokd writes temporary files (red team 19.2).

Every temporary file geokd writes outside ``predict`` (``stats --output``, a
benchmark run's ``result.json``) gets a random name in a new directory beside its
destination: a symbolic link planted at any predictable name is never written
through, and the destination becomes a file of geokd's, not a link.
"""

from pathlib import Path
from typing import Any

import pytest

from .conftest import Geokd, TinyRun, write_config
from .helpers import Sandbox

#: Names a writer might give a temporary file for ``NAME``.
PREDICTABLE = ('.{name}.tmp', '{name}.tmp', '.{name}', '{stem}.tmp', '.{stem}.tmp')


def _plant(directory: Path, name: str, victim: Path) -> list[Path]:
    links = []
    for pattern in PREDICTABLE:
        link = directory / pattern.format(name=name, stem=Path(name).stem)
        if not link.is_symlink():
            link.symlink_to(victim)
            links.append(link)
    return links


def _victim(box: Sandbox) -> Path:
    victim = box.inputs / 'victim.txt'
    victim.write_text("not geokd's")
    return victim


def test_stats_output_never_written_through_a_planted_link(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    victim = _victim(sandbox)
    sandbox.out.mkdir()
    output = sandbox.out / 'stats.yaml'
    links = _plant(sandbox.out, output.name, victim)
    config = write_config(sandbox.inputs / 'c.yaml', tiny_run.data)
    outcome = geokd(['stats', '--config', str(config), '--output', str(output)])
    assert outcome.code == 0, outcome.err
    assert victim.read_text() == "not geokd's"
    assert not output.is_symlink()
    assert output.read_text() == outcome.out
    assert all(link.is_symlink() for link in links)


def test_benchmark_result_never_written_through_a_planted_link(
    sandbox: Sandbox,
    tiny_run: TinyRun,
    geokd: Geokd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = _victim(sandbox)
    planted: list[Path] = []

    def train_run(argv: list[str]) -> tuple[dict[str, dict[str, Any]], float]:
        # Someone sharing the output directory plants links while the run trains.
        root = next(a for a in argv if a.startswith('--trainer.default_root_dir='))
        run_dir = Path(root.partition('=')[2])
        planted.extend(_plant(run_dir, 'result.json', victim))
        result = {'f1': 0.5, 'f1_macro': 0.5, 'acc': 0.5, 'checkpoint': None}
        return {'depth': result}, 1.0

    monkeypatch.setattr('geokd.benchmark.train_run', train_run)
    bench = sandbox.inputs / 'bench.yaml'
    bench.write_text(
        f'output_dir: {sandbox.out}\nseeds: [0]\nseed_args: [seed_everything]\n'
        f'methods: {{A: {{configs: [{tiny_run.config}]}}}}\n'
    )
    outcome = geokd(['benchmark', '--config', str(bench)])
    assert outcome.code == 0, outcome.err
    assert planted
    assert victim.read_text() == "not geokd's"
    [result] = sandbox.out.rglob('result.json')
    assert not result.is_symlink()
    assert '"fingerprint"' in result.read_text()
