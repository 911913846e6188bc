"""Every method's shipped config trains under DDP on 2 CPU processes (gloo).

The shipped configs as users run them, with tiny settings and ``--trainer.strategy
ddp --trainer.devices 2``: from ``configs/baselines/``, DisCoM-KD with paired batches,
a single-modal baseline, the multi-modal teacher and a KD student of it; and
``configs/eurosat_ms_sar.yaml`` (unpaired) on its test fixture, packed to a cache.
"""

import json
from pathlib import Path

import pytest
import torch.distributed

from .runs import ROOT, geokd

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not torch.distributed.is_available()
        or not torch.distributed.is_gloo_available(),
        reason='needs torch.distributed with gloo',
    ),
]

DDP = [
    '--trainer.accelerator=cpu',
    '--trainer.devices=2',
    '--trainer.strategy=ddp',
    '--trainer.max_epochs=1',
    '--trainer.enable_progress_bar=false',
    '--model.init_args.backbone=test_resnet',
    '--data.init_args.batch_size=4',
    '--data.init_args.num_workers=0',
]
TINY = [*DDP, '--data.init_args.samples_per_class=10', '--data.init_args.size=16']


def fit(method: str, cwd: Path, *args: str) -> dict[str, dict[str, object]]:
    """Train a method's config under DDP; its test results."""
    configs = ['configs/baselines/synthetic.yaml', f'configs/baselines/{method}.yaml']
    root = cwd / 'runs' / method
    geokd(
        [
            'fit',
            *(f'--config={ROOT / c}' for c in configs),
            *TINY,
            f'--trainer.default_root_dir={root}',
            *args,
        ],
        cwd=cwd,
    )
    [path] = (cwd / 'runs' / 'baselines' / 'csv').glob('version_*/test_results.json')
    results = json.loads(path.read_text())
    path.unlink()  # the next run of this test writes its own
    return results


def _check(results: dict[str, dict[str, object]], names: set[str]) -> None:
    assert set(results) == names
    for result in results.values():
        assert 0.0 <= float(result['acc']) <= 1.0  # type: ignore[arg-type]
        assert Path(str(result['checkpoint'])).is_file()


def test_discomkd_paired(tmp_path: Path) -> None:
    _check(fit('discomkd', tmp_path), {'ms', 'sar'})


def test_single_modal_baseline(tmp_path: Path) -> None:
    _check(fit('single_modal_sar', tmp_path), {'sar'})


def test_teacher_then_student(tmp_path: Path) -> None:
    teacher = fit('multimodal_teacher', tmp_path)
    [name] = teacher
    student = fit(
        'kd_sar',
        tmp_path,
        f'--model.init_args.teacher_checkpoint={teacher[name]["checkpoint"]}',
    )
    _check(student, {'sar'})


def test_eurosat_packed_cache(tmp_path: Path) -> None:
    # With cache_dir, one process packs each split while the others wait (they all
    # packed into the same folder before, and crashed on each other's files).
    cache = tmp_path / 'cache'
    geokd(
        [
            'fit',
            f'--config={ROOT / "configs" / "eurosat_ms_sar.yaml"}',
            *DDP,
            f'--data.init_args.root={ROOT / "tests" / "data" / "eurosat_ms_sar"}',
            '--data.init_args.download=false',
            f'--data.init_args.cache_dir={cache}',
            f'--trainer.default_root_dir={tmp_path / "run"}',
        ],
        cwd=tmp_path,
    )
    packed = sorted(p.name.split('-')[0] for p in cache.iterdir())
    assert packed == ['test', 'train', 'val']
    assert list((tmp_path / 'run').glob('lightning_logs/version_0/test_results.json'))
