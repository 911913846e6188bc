import json
from pathlib import Path

import pytest

from geokd.main import extra_arguments, main

CONFIG = Path(__file__).resolve().parents[1] / 'configs' / 'demo.yaml'


def test_fit_demo_config_fast_dev_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            'fit',
            '--config', str(CONFIG),
            '--trainer.fast_dev_run', 'true',
            '--trainer.default_root_dir', str(tmp_path),
            '--trainer.enable_progress_bar', 'false',
            '--model.init_args.backbone', 'test_resnet',
            '--data.init_args.samples_per_class', '10',
            '--data.init_args.size', '16',
            '--data.init_args.num_workers', '0',
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert 'weighted F1' in out
    assert 'sar' in out
    assert 'ms' in out


def test_fit_writes_per_modality_results(tmp_path: Path) -> None:
    main(
        [
            'fit',
            '--config', str(CONFIG),
            '--trainer.max_epochs', '1',
            '--trainer.default_root_dir', str(tmp_path),
            '--trainer.enable_progress_bar', 'false',
            '--model.init_args.backbone', 'test_resnet',
            '--data.init_args.samples_per_class', '10',
            '--data.init_args.size', '16',
            '--data.init_args.num_workers', '0',
        ]
    )  # fmt: skip
    [results_file] = tmp_path.rglob('test_results.json')
    results = json.loads(results_file.read_text())
    assert set(results) == {'ms', 'sar'}
    for m, r in results.items():
        assert Path(r['checkpoint']).name.startswith(f'best-{m}-')
        assert 0.0 <= r['f1'] <= 1.0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(['--version'])
    assert '0.1.0' in capsys.readouterr().out


def test_extra_arguments_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        'GEOKD_FIT_ARGS', "--trainer.max_epochs 1 --model.init_args.lr '0.5'"
    )
    assert extra_arguments('fit') == [
        '--trainer.max_epochs',
        '1',
        '--model.init_args.lr',
        '0.5',
    ]
    assert extra_arguments('test') == []


def test_environment_arguments_override_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        'GEOKD_FIT_ARGS',
        '--trainer.max_epochs 1 --trainer.limit_train_batches 1 '
        '--trainer.limit_val_batches 1 --model.init_args.backbone test_resnet '
        '--data.init_args.samples_per_class 10 --data.init_args.size 16 '
        '--data.init_args.num_workers 0 --trainer.enable_progress_bar false '
        f'--trainer.default_root_dir {tmp_path}',
    )
    main(['fit', '--config', str(CONFIG)])
    [saved] = tmp_path.rglob('config.yaml')
    assert 'test_resnet' in saved.read_text()
