import json
import os
from pathlib import Path

import pytest
import yaml

from geokd.cli import gdal_lists_no_folders
from geokd.main import COMMANDS, LIGHTNING_COMMANDS, main

from .fresh_interpreter import imports_of
from .trainers import TINY_SYNTHETIC

CONFIG = Path(__file__).resolve().parents[1] / 'configs' / 'demo.yaml'


def test_fit_demo_config_fast_dev_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            'fit', '--config', str(CONFIG), '--trainer.fast_dev_run', 'true',
            '--trainer.default_root_dir', str(tmp_path), *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert 'weighted F1' in out
    assert 'sar' in out
    assert 'ms' in out


def test_fit_writes_per_modality_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('GDAL_DISABLE_READDIR_ON_OPEN', raising=False)
    main(
        [
            'fit', '--config', str(CONFIG), '--trainer.max_epochs', '1',
            '--trainer.default_root_dir', str(tmp_path), *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    [results_file] = tmp_path.rglob('test_results.json')
    results = json.loads(results_file.read_text())
    assert set(results) == {'ms', 'sar'}
    for m, r in results.items():
        assert Path(r['checkpoint']).name.startswith(f'best-{m}-')
        assert 0.0 <= r['f1'] <= 1.0
    # The saved config lists the callbacks that did this, so it reruns the same.
    [saved] = tmp_path.rglob('config.yaml')
    callbacks = yaml.safe_load(saved.read_text())['trainer']['callbacks']
    assert [c['class_path'] for c in callbacks] == [
        'geokd.callbacks.ClassifierCheckpoints',
        'geokd.callbacks.EvaluateClassifiers',
        'geokd.callbacks.ExportClassifiers',
    ]
    # GDAL lists folders again afterwards: later reads in this process find the
    # sidecars of local files.
    assert 'GDAL_DISABLE_READDIR_ON_OPEN' not in os.environ


def test_gdal_lists_no_folders_only_inside_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = 'GDAL_DISABLE_READDIR_ON_OPEN'
    monkeypatch.delenv(name, raising=False)
    inside: list[str] = []

    def fail() -> None:
        with gdal_lists_no_folders():
            inside.append(os.environ[name])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert inside == ['EMPTY_DIR']
    assert name not in os.environ
    monkeypatch.setenv(name, 'FALSE')  # the user's choice stays
    with gdal_lists_no_folders():
        assert os.environ[name] == 'FALSE'
    assert os.environ[name] == 'FALSE'


def test_config_saved_by_geokd_runs_under_torchgeo(tmp_path: Path) -> None:
    from torchgeo.main import main as torchgeo_main

    main(
        [
            'fit', '--config', str(CONFIG), '--trainer.max_epochs', '1',
            '--trainer.limit_train_batches', '1', '--trainer.limit_val_batches', '1',
            '--trainer.limit_test_batches', '1',
            '--trainer.default_root_dir', str(tmp_path / 'geokd'), *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    [saved] = (tmp_path / 'geokd').rglob('config.yaml')
    environment = dict(os.environ)
    try:
        torchgeo_main(
            [
                'fit', '--config', str(saved), '--trainer.max_epochs', '1',
                '--trainer.limit_train_batches', '1',
                '--trainer.limit_val_batches', '1',
                '--trainer.limit_test_batches', '1',
                '--trainer.default_root_dir', str(tmp_path / 'torchgeo'),
            ]
        )  # fmt: skip
    finally:
        # TorchGeo's main sets GDAL options for the rest of the process.
        os.environ.clear()
        os.environ.update(environment)
    # torchgeo fit ran geokd's callbacks: tested and exported every modality.
    [results] = (tmp_path / 'torchgeo').rglob('test_results.json')
    assert set(json.loads(results.read_text())) == {'ms', 'sar'}
    exports = {p.parent.name for p in (tmp_path / 'torchgeo').rglob('model.json')}
    assert exports == {'ms', 'sar'}


def test_yaml_callbacks_replace_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / 'callbacks.yaml'
    config.write_text(
        'trainer:\n  callbacks:\n'
        '    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n'
        '      init_args: {monitor: val_f1_sar, mode: max, filename: mine}\n'
    )
    main(
        [
            'fit', '--config', str(CONFIG), '--config', str(config),
            '--trainer.max_epochs', '1', '--trainer.default_root_dir', str(tmp_path),
            *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    names = sorted(p.name for p in tmp_path.rglob('*.ckpt'))
    assert names == ['mine.ckpt']
    assert not list(tmp_path.rglob('model.json'))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['--version'])
    assert exit_info.value.code == 0
    assert '0.1.0' in capsys.readouterr().out


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['--help'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in [*LIGHTNING_COMMANDS, *COMMANDS]:
        assert f'  {name} ' in out
    with pytest.raises(SystemExit, match='unknown subcommand'):
        main(['bogus'])


def test_help_imports_nothing_heavy() -> None:
    out, heavy = imports_of(
        "from geokd.main import main; main(['--help'])",
        ['torch', 'lightning', 'rasterio', 'torchgeo'],
    )
    assert 'usage: geokd' in out
    assert heavy == []


def test_environment_variables_are_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # jsonargparse's default_env: GEOKD_<SUBCOMMAND>__<KEY>, below config files.
    monkeypatch.setenv('GEOKD_FIT__TRAINER__LIMIT_TRAIN_BATCHES', '1')
    main(
        [
            'fit', '--config', str(CONFIG), '--trainer.max_epochs', '1',
            '--trainer.limit_val_batches', '1', '--trainer.limit_test_batches', '1',
            '--trainer.default_root_dir', str(tmp_path), *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    [saved] = tmp_path.rglob('config.yaml')
    assert yaml.safe_load(saved.read_text())['trainer']['limit_train_batches'] == 1
