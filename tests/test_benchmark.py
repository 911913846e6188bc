"""geokd benchmark: the protocol runner, its resume and its tables."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from geokd import benchmark
from geokd.main import main

ROOT = Path(__file__).resolve().parents[1]
BASE = str(ROOT / 'configs' / 'baselines' / 'synthetic.yaml')


def _config(tmp_path: Path, seeds: list[int], **extra: Any) -> Path:
    b = ROOT / 'configs' / 'baselines'
    spec = {
        'output_dir': str(tmp_path / 'out'),
        'seeds': seeds,
        'base_configs': [BASE],
        'methods': {
            'Single': {'configs': [str(b / 'single_modal_sar.yaml')]},
            'KD': {
                'teacher': str(b / 'multimodal_teacher.yaml'),
                'configs': [str(b / 'kd_sar.yaml'), str(b / 'kd_ms.yaml')],
            },
        },
        **extra,
    }
    path = tmp_path / 'bench.yaml'
    path.write_text(yaml.safe_dump(spec))
    return path


class FakeTraining:
    """Stands in for training: records the arguments, returns made-up scores."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[dict[str, Any], float]:
        self.calls.append(argv)
        config = [a for a in argv if a.endswith('.yaml')][-1]
        seed = int(
            next(a for a in argv if a.startswith('--seed_everything=')).split('=')[1]
        )
        name = {
            'single_modal_sar.yaml': 'sar',
            'multimodal_teacher.yaml': 'ms+sar',
            'kd_sar.yaml': 'sar',
            'kd_ms.yaml': 'ms',
        }[Path(config).name]
        score = 0.5 + 0.1 * seed
        ckpt = f'/ckpt/{Path(config).stem}-{seed}.ckpt'
        return {
            name: {'checkpoint': ckpt, 'f1': score, 'f1_macro': score, 'acc': score}
        }, 10.0


def test_runner_tables_teacher_and_resume(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeTraining()
    monkeypatch.setattr(benchmark, 'train_run', fake)
    config = _config(tmp_path, [0, 1])
    main(['benchmark', '--config', str(config)])
    # Per seed: single, teacher, two students.
    assert len(fake.calls) == 8
    students = [c for c in fake.calls if any(a.endswith('kd_sar.yaml') for a in c)]
    assert (
        '--model.init_args.teacher_checkpoint=/ckpt/multimodal_teacher-1.ckpt'
        in students[1]
    )
    assert '--data.init_args.seed=1' in students[1]
    out = tmp_path / 'out'
    table = (out / 'results.md').read_text()
    # Seeds 0 and 1 score 0.5 and 0.6: mean 55 %, sample std 7.07 %.
    assert '| Single | sar | 55.00 +- 7.07 | 55.00 +- 7.07 | 2 | 10 +- 0 |' in table
    # KD's wall-clock is the teacher's plus both students'.
    assert '| KD | ms | 55.00 +- 7.07 | 55.00 +- 7.07 | 2 | 30 +- 0 |' in table
    summary = (out / 'results.csv').read_text().splitlines()
    assert summary[0].startswith('method,classifier,seeds,f1_mean,f1_std')
    assert len(summary) == 1 + 3
    assert len((out / 'runs.csv').read_text().splitlines()) == 1 + 2 * 3
    done = json.loads(
        (out / 'kd_sar_from_multimodal_teacher' / 'seed0' / 'result.json').read_text()
    )
    assert done['results']['sar']['f1'] == 0.5
    assert '[8/8]' in capsys.readouterr().out

    # Re-run: nothing is retrained, the tables are the same.
    fake.calls.clear()
    main(['benchmark', '--config', str(config)])
    assert fake.calls == []
    assert 'done before, skipped' in capsys.readouterr().out
    assert (out / 'results.md').read_text() == table

    # A third seed trains only the new runs; changed settings retrain.
    main(['benchmark', '--config', str(_config(tmp_path, [0, 1, 2]))])
    assert len(fake.calls) == 4
    fake.calls.clear()
    changed = _config(tmp_path, [0], args=['--trainer.max_epochs=3'])
    main(['benchmark', '--config', str(changed)])
    assert len(fake.calls) == 4
    assert 'settings changed' in capsys.readouterr().out


def test_unfinished_run_is_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTraining()
    monkeypatch.setattr(benchmark, 'train_run', fake)
    config = _config(tmp_path, [0])
    main(['benchmark', '--config', str(config)])
    run = tmp_path / 'out' / 'single_modal_sar' / 'seed0'
    (run / 'result.json').unlink()
    (run / 'stale.ckpt').write_text('left by an interrupted run')
    fake.calls.clear()
    main(['benchmark', '--config', str(config)])
    assert len(fake.calls) == 1
    assert not (run / 'stale.ckpt').exists()


@pytest.mark.parametrize(
    ('content', 'match'),
    [
        ('seeds: [0]\nmethods: {}', 'missing keys'),
        (
            'output_dir: x\nseeds: [0]\nmethods: {A: {configs: [nope.yaml]}}',
            'not found',
        ),
        ('output_dir: x\nseeds: [0]\nmethod: {}', 'unknown keys'),
        ('output_dir: x\nseeds: [0]\nmethods: {A: {}}', 'non-empty configs'),
        (': [', 'not valid YAML'),
    ],
)
def test_bad_benchmark_files(
    tmp_path: Path, content: str, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / 'bench.yaml'
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        benchmark.load_benchmark(path)
    with pytest.raises(SystemExit) as info:
        main(['benchmark', '--config', str(path)])
    assert info.value.code == 1
    assert match in capsys.readouterr().err
    with pytest.raises(ValueError, match='cannot read'):
        benchmark.load_benchmark(tmp_path / 'missing.yaml')


@pytest.mark.slow
def test_real_runs_end_to_end(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        [0],
        args=[
            '--trainer.max_epochs=1',
            '--trainer.limit_train_batches=2',
            '--trainer.enable_progress_bar=false',
            '--model.init_args.backbone=test_resnet',
            '--data.init_args.samples_per_class=10',
            '--data.init_args.size=16',
            '--data.init_args.num_workers=0',
        ],
    )
    main(['benchmark', '--config', str(config)])
    out = tmp_path / 'out'
    run = out / 'kd_sar_from_multimodal_teacher' / 'seed0'
    assert (run / 'metrics.csv').is_file()
    assert list(run.glob('events.out.tfevents.*'))
    assert (run / 'config.yaml').is_file()
    assert list((run / 'checkpoints').glob('best-sar-*.ckpt'))
    assert 'KD | ms' in (out / 'results.md').read_text()


def test_tables_dir_keeps_shared_runs_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTraining()
    monkeypatch.setattr(benchmark, 'train_run', fake)
    main(['benchmark', '--config', str(_config(tmp_path, [0]))])
    fake.calls.clear()
    other = _config(tmp_path, [0], tables_dir=str(tmp_path / 'tables'))
    main(['benchmark', '--config', str(other)])
    assert fake.calls == []
    assert (tmp_path / 'tables' / 'results.md').is_file()
    assert (tmp_path / 'out' / 'results.md').is_file()
