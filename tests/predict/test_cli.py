import json
import os
import re
from pathlib import Path
from types import ModuleType

import pytest
import rasterio

import geokd
import geokd.export
import geokd.predict
from geokd.errors import GeokdError, OptionError, UsageError
from geokd.export import SingleSensorClassifier, export_model, load_exported
from geokd.main import main
from geokd.predict.cli import predict

from ..export.test_classifier import fake_checkpoint
from ..fresh_interpreter import imports_of
from ..trainers import TINY_SYNTHETIC
from .conftest import WriteScene, sar_pixels

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'demo.yaml'


@pytest.fixture
def sar_export(tmp_path: Path, sar_model: SingleSensorClassifier) -> Path:
    return export_model(sar_model.model, sar_model.metadata, tmp_path / 'model')


HEAVY = ('torch', 'lightning', 'rasterio', 'numpy')


@pytest.mark.parametrize(
    ('module', 'command'),
    [('geokd.predict.cli', 'predict'), ('geokd.export.cli', 'export')],
)
def test_help_imports_nothing_heavy(module: str, command: str) -> None:
    out, heavy = imports_of(f'import {module}; {module}.{command}(["--help"])', HEAVY)
    assert f'usage: geokd {command}' in out
    assert heavy == []


@pytest.mark.parametrize('package', [geokd.export, geokd.predict])
def test_public_names_resolve(package: ModuleType) -> None:
    for name in package.__all__:
        assert getattr(package, name).__name__ == name
    assert set(dir(package)) >= set(package.__all__)
    with pytest.raises(AttributeError, match='no attribute'):
        package.predict_scenes  # noqa: B018


@pytest.mark.parametrize(
    'module',
    [
        'geokd.predict.cli',
        'geokd.export.cli',
        'geokd.predict.scene',
        'geokd.predict.engine',
        'geokd.predict.output',
    ],
)
def test_import_is_light(module: str) -> None:
    out, heavy = imports_of(f'import {module}', HEAVY)
    assert (out, heavy) == ('', [])


def test_predict_several_scenes_by_glob(
    tmp_path: Path, write_scene: WriteScene, sar_export: Path
) -> None:
    write_scene(sar_pixels(32, 48), 'a.tif')
    write_scene(sar_pixels(48, 32), 'b.tif')
    out = tmp_path / 'out'
    main(['predict', str(tmp_path / '*.tif'), '--model', str(sar_export),
          '-o', str(out), '--quiet', '--polygons'])  # fmt: skip
    for name, shape in [('a', (2, 3)), ('b', (3, 2))]:
        with rasterio.open(out / f'{name}_classes.tif') as src:
            assert src.shape == shape
        assert (out / f'{name}_classes.gpkg').is_file()
        assert json.loads((out / f'{name}_summary.json').read_text())['patches'] == 6


def test_predict_reports_bad_scenes_and_goes_on(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_export: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = write_scene(sar_pixels(32, 32), 'good.tif')
    bad = write_scene(sar_pixels(32, 32)[:1], 'vv_only.tif')
    with pytest.raises(SystemExit) as info:
        main(['predict', str(bad), str(good), '--model', str(sar_export),
              '-o', str(tmp_path / 'out'), '--quiet'])  # fmt: skip
    assert info.value.code == 1
    [line, tally] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('geokd predict: error: ')
    assert 'vv_only.tif: has no band VH (its bands: VV)' in line
    assert tally == f'geokd predict: 1 of 2 scenes classified; 1 failed: {bad}'
    assert (tmp_path / 'out' / 'good_classes.tif').is_file()
    assert not (tmp_path / 'out' / 'vv_only_classes.tif').exists()


def test_predict_synthetic_scene_from_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_checkpoint(tmp_path / 'a.ckpt', patch_size=16)
    main(['predict', '--model', str(tmp_path / 'a.ckpt'), '--modality', 'sar',
          '--synthetic-scene', str(tmp_path / 'scene.tif'), '--synthetic-size', '64',
          '-o', str(tmp_path / 'pred') + '/'])  # fmt: skip
    out, err = capsys.readouterr()
    assert 'SYNTHETIC sar scene written' in out
    assert 'agreement with the synthetic truth' in out
    assert str(tmp_path / 'pred' / 'scene_classes.tif') in out
    # A synthetic model on its synthetic scene: nothing to warn about.
    assert 'SYNTHETIC data' not in err


@pytest.mark.parametrize('stride', ['16', '8', '4'])
def test_agreement_with_the_synthetic_truth_for_any_stride(
    tmp_path: Path, stride: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_checkpoint(tmp_path / 'a.ckpt', patch_size=16)
    main(['predict', '--model', str(tmp_path / 'a.ckpt'), '--modality', 'sar',
          '--synthetic-scene', str(tmp_path / 'scene.tif'), '--synthetic-size', '64',
          '--stride', stride, '-o', str(tmp_path / 'pred') + '/'])  # fmt: skip
    out = capsys.readouterr().out
    assert f'one class per {stride} x {stride} ' in out
    assert 'agreement with the synthetic truth: ' in out


def test_synthetic_model_on_real_scenes_warns_once_even_quiet(
    tmp_path: Path, write_scene: WriteScene, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_checkpoint(tmp_path / 'a.ckpt', patch_size=16)
    write_scene(sar_pixels(32, 32), 'a.tif')
    write_scene(sar_pixels(32, 32), 'b.tif')
    main(['predict', str(tmp_path / '*.tif'), '--model', str(tmp_path / 'a.ckpt'),
          '--modality', 'sar', '-o', str(tmp_path / 'out'), '--quiet'])  # fmt: skip
    out, err = capsys.readouterr()
    assert out == ''
    [line] = err.strip().splitlines()
    assert line.startswith(
        'geokd predict: warning: the sar model was trained on '
        'SYNTHETIC data (geokd.datasets.synthetic.SyntheticMSSAR)'
    )
    summary = json.loads((tmp_path / 'out' / 'a_summary.json').read_text())
    provenance = summary['model']['provenance']
    assert provenance['training_data']['synthetic'] is True
    assert provenance['gsd'] == 10.0
    assert summary['bands'] == [
        {'model': 'VV', 'index': 1, 'scene': 'VV', 'file': None},
        {'model': 'VH', 'index': 2, 'scene': 'VH', 'file': None},
    ]
    assert summary['grid']['cell'] == (
        'one class per 16 x 16 patch = 160 m at 10 m per pixel'
    )


def test_scene_as_band_files(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_export: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pixels = sar_pixels(32, 48)
    vv = write_scene(pixels[:1], 'scene_vv.tif')
    vh = write_scene(pixels[1:], 'scene_vh.tif')
    both = write_scene(pixels, 'both.tif')
    out = tmp_path / 'out'
    main(['predict', str(both), '--band-file', f'VH={vh}', '--band-file', f'VV={vv}',
          '--model', str(sar_export), '-o', str(out)])  # fmt: skip
    stdout = capsys.readouterr().out
    assert 'bands (model <- scene) VV <- scene_vv.tif, VH <- scene_vh.tif;' in stdout
    with (
        rasterio.open(out / 'both_classes.tif') as a,
        rasterio.open(out / 'scene_classes.tif') as b,
    ):
        assert (a.read() == b.read()).all()
    with pytest.raises(SystemExit) as info:
        main(['predict', '--band-file', str(vv), '--model', str(sar_export)])
    assert info.value.code == 2
    assert 'expected NAME=PATH' in capsys.readouterr().err


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_checkpoint(tmp_path / 'a.ckpt', patch_size=16)
    main(['export', str(tmp_path / 'a.ckpt'), '-o', str(tmp_path / 'exp'),
          '--modality', 'sar'])  # fmt: skip
    assert load_exported(tmp_path / 'exp' / 'sar').metadata.modality == 'sar'
    assert not (tmp_path / 'exp' / 'ms').exists()
    (tmp_path / 'bad.ckpt').write_text('x')
    with pytest.raises(SystemExit) as info:
        main(['export', str(tmp_path / 'bad.ckpt')])
    assert info.value.code == 1
    assert 'not a readable checkpoint' in capsys.readouterr().err


def test_fit_exports_each_modality(tmp_path: Path) -> None:
    main(
        [
            'fit',
            '--config', str(CONFIG),
            '--trainer.fast_dev_run', 'true',
            '--trainer.default_root_dir', str(tmp_path),
            *TINY_SYNTHETIC,
        ]
    )  # fmt: skip
    for modality, bands in [('ms', 13), ('sar', 2)]:
        [directory] = {
            p.parent for p in tmp_path.rglob(f'export/{modality}/model.json')
        }
        meta = load_exported(directory).metadata
        assert meta.modality == modality
        assert meta.patch_size == 16
        assert len(meta.band_names) == bands
        assert meta.class_names[0] == 'AnnualCrop'


def test_predict_without_model_takes_the_newest_export(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sar_model: SingleSensorClassifier,
) -> None:
    monkeypatch.chdir(tmp_path)

    def fails(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 1
        return capsys.readouterr().err

    assert re.search(
        r"geokd predict: error: no exported 'sar' model under .*--model",
        fails(['predict', '--modality', 'sar', 'scene.tif']),
    )
    old = export_model(sar_model.model, sar_model.metadata, tmp_path / 'runs/a/sar')
    new = export_model(sar_model.model, sar_model.metadata, tmp_path / 'runs/b/sar')
    os.utime(old / 'model.json', (1, 1))
    (tmp_path / 'runs/c/sar').mkdir(parents=True)
    (tmp_path / 'runs/c/sar/model.json').write_text('{}')  # unfinished: skipped
    main(['predict', '--modality', 'sar', '--synthetic-scene', 'scene.tif',
          '--synthetic-size', '32', '-o', 'out/', '--quiet'])  # fmt: skip
    assert f'Using the newest exported sar model: {Path("runs/b/sar")}' in (
        capsys.readouterr().err
    )
    assert new.is_dir()
    assert (tmp_path / 'out' / 'scene_classes.tif').is_file()
    monkeypatch.setenv('GEOKD_RUNS', str(tmp_path / 'elsewhere'))
    assert 'elsewhere' in fails(['predict', '--modality', 'sar', 'scene.tif'])
    assert 'geokd predict: error: give --modality' in fails(['predict', 'scene.tif'])


def test_failures_are_raised_for_main_to_report(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match='--batch-size 0: ') as info:
        predict([str(tmp_path / 'x.tif'), '--batch-size', '0'])
    assert isinstance(info.value, GeokdError)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match=r'--no-such-option \(see --help\)$'):
        predict(['x.tif', '--no-such-option'])
    with pytest.raises(GeokdError, match=r'^give --modality') as info:
        predict([str(tmp_path / 'x.tif')])
    assert info.value.exit_code == 1
