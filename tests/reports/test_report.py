"""geokd report: files a person looks at, for DisCoM-KD and a baseline."""

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from geokd.main import main
from geokd.reports import per_class_table
from tests.trainers import TINY_SYNTHETIC

CLASSES = [f'class{i}' for i in range(10)]
DATA = {
    'class_path': 'geokd.datamodules.SyntheticMSSARDataModule',
    'init_args': {'batch_size': 8, 'samples_per_class': 10, 'size': 16},
}


def _run_dir(tmp_path: Path, model: dict[str, Any], names: list[str]) -> Path:
    """A run directory as geokd fit writes it, with untrained weights."""
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'config.yaml').write_text(yaml.safe_dump({'model': model, 'data': DATA}))
    results = {
        m: {'checkpoint': None, 'f1': 0.0, 'f1_macro': 0.0, 'acc': 0.0} for m in names
    }
    (run / 'test_results.json').write_text(json.dumps(results))
    return run


def _check_classifier(report: Path, name: str) -> None:
    assert (report / f'confusion_{name}.png').stat().st_size > 1000
    with (report / f'per_class_{name}.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert [r['class'] for r in rows] == CLASSES
    # The test split holds 2 samples of each class.
    assert all(r['support'] == '2' for r in rows)


def test_discomkd_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = {
        'class_path': 'geokd.tasks.DisCoMKDTask',
        'init_args': {
            'in_channels': {'ms': 13, 'sar': 2},
            'num_classes': 10,
            'class_names': CLASSES,
            'backbone': 'test_resnet',
        },
    }
    run = _run_dir(tmp_path, model, ['ms', 'sar'])
    main(['report', str(run), '--max_points', '30'])
    assert 'Report written' in capsys.readouterr().out
    report = run / 'report'
    for m in ('ms', 'sar'):
        _check_classifier(report, m)
    assert (report / 'embeddings.png').stat().st_size > 1000
    diag = json.loads((report / 'diagnostics.json').read_text())
    assert diag['adv_chance'] == 0.5
    assert 0.0 <= diag['adv_acc'] <= 1.0
    assert 0.0 <= diag['cos_inf_irr'] <= 1.0
    text = (report / 'report.md').read_text()
    assert '| class9 |' in text
    assert 'D_adv accuracy on z_inv' in text


def test_baseline_report_has_no_embeddings(tmp_path: Path) -> None:
    model = {
        'class_path': 'geokd.tasks.SingleModalTask',
        'init_args': {
            'modality': 'sar',
            'in_channels': 2,
            'num_classes': 10,
            'class_names': CLASSES,
            'backbone': 'test_resnet',
        },
    }
    run = _run_dir(tmp_path, model, ['sar'])
    main(['report', str(run), '--output', str(tmp_path / 'out')])
    _check_classifier(tmp_path / 'out', 'sar')
    assert not (tmp_path / 'out' / 'embeddings.png').exists()


def test_report_of_a_non_run_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(['report', str(tmp_path)])
    assert info.value.code == 1
    assert 'config.yaml: not found' in capsys.readouterr().err


def test_per_class_table_by_hand() -> None:
    rows = per_class_table(
        np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), ['a', 'b', 'c']
    )
    assert rows[0] == {
        'class': 'a',
        'precision': 1.0,
        'recall': 0.5,
        'f1': 2 / 3,
        'support': 2,
    }
    assert rows[1]['precision'] == pytest.approx(1 / 3)
    assert rows[2] == {
        'class': 'c',
        'precision': 0.0,
        'recall': 0.0,
        'f1': 0.0,
        'support': 1,
    }


@pytest.mark.slow
def test_report_of_a_real_fit(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[2] / 'configs' / 'demo.yaml'
    main(
        [
            'fit', '--config', str(config),
            '--trainer.max_epochs', '1',
            '--trainer.default_root_dir', str(tmp_path),
            *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    [results] = tmp_path.rglob('test_results.json')
    main(['report', str(results.parent)])
    assert (results.parent / 'report' / 'embeddings.png').is_file()
