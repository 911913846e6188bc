"""Dense evaluation end to end: window-size independence, edges, records, reruns,
resume and workers."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geokd.export import SingleSensorClassifier, export_model
from geokd.predict import OutputPaths, PredictError, PredictOptions, predict_scene
from tests.hostile.predict_helpers import predict

from .conftest import WriteScene, sar_pixels, tiny_classifier
from .test_pipeline import _interrupted_run

RASTERS = ('classes', 'confidence', 'probabilities')


@pytest.fixture(scope='module')
def sar64() -> SingleSensorClassifier:
    return tiny_classifier('sar', patch_size=64)


def _scene(write_scene: WriteScene) -> Path:
    """A 232 x 296 SAR scene (no multiple of 32) with a nodata corner."""
    pixels = sar_pixels(232, 296)
    pixels[:, :40, :56] = np.nan
    return write_scene(pixels)


def _read(path: str) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(path) as src:
        return src.read(1), src.read_masks(1)


@pytest.mark.parametrize('stride', [32, 16, 8])
def test_dense_map_does_not_depend_on_the_window_size(
    sar64: SingleSensorClassifier, write_scene: WriteScene, tmp_path: Path, stride: int
) -> None:
    # Every window reads its cells and one patch (64 px) of context on each side, so
    # a cell's box sees the same pixels in any window. What still differs: the trunk
    # zero-pads the far edge of the context, and a ResNet's receptive field (over
    # 200 px for test_resnet) reaches from there into boxes near a window's border.
    # Measured: probabilities move by at most 0.016 between the smallest windows (16
    # cells) and one window holding the whole scene, so a cell changes class only
    # where its two best classes are that close (this random model is full of such
    # near-ties; a trained model has few).
    scene = _scene(write_scene)
    outputs = {}
    for window in (32, 4096):
        options = PredictOptions(
            stride=stride, evaluation='dense', window=window, probabilities=True,
            quiet=True,
        )  # fmt: skip
        summary = predict_scene(sar64, scene, tmp_path / f'w{window}', options)
        assert summary['options']['evaluation'] == 'dense'
        outputs[window] = summary['outputs']
    with (
        rasterio.open(outputs[32]['probabilities']) as a,
        rasterio.open(outputs[4096]['probabilities']) as b,
    ):
        small, whole = a.read(), b.read()
    assert (np.isnan(small) == np.isnan(whole)).all()
    moved = float(np.nanmax(np.abs(small - whole)))
    assert moved <= 0.02
    ranked = np.sort(np.nan_to_num(whole), 0)
    near_tie = ranked[-1] - ranked[-2] <= 2 * moved
    changed = _read(outputs[32]['classes'])[0] != _read(outputs[4096]['classes'])[0]
    assert not (changed & ~near_tie).any()


def test_valid_pixels_near_edges_get_a_class(
    sar64: SingleSensorClassifier, write_scene: WriteScene, tmp_path: Path
) -> None:
    scene = _scene(write_scene)
    options = PredictOptions(stride=16, evaluation='dense', quiet=True)
    summary = predict_scene(sar64, scene, tmp_path / 'd', options)
    classes, mask = _read(summary['outputs']['classes'])
    # Cells holding a valid pixel: all but those inside the nodata corner.
    occupied = np.ones((232 // 16 + 1, 296 // 16 + 1), bool)
    occupied[: 40 // 16, : 56 // 16] = False
    assert classes.shape == occupied.shape
    assert ((mask > 0) == occupied).all()


def test_dense_map_is_recorded_and_reruns_byte_identical(
    sar64: SingleSensorClassifier, write_scene: WriteScene, tmp_path: Path
) -> None:
    scene = _scene(write_scene)
    options = PredictOptions(stride=32, evaluation='dense', quiet=True, overwrite=True)
    first = predict_scene(sar64, scene, tmp_path / 'a', options)
    a = Path(first['outputs']['classes'])
    before = {
        k: Path(v).read_bytes() for k, v in first['outputs'].items() if 'json' not in v
    }
    again = predict_scene(sar64, scene, tmp_path / 'a', options)
    after = {
        k: Path(v).read_bytes() for k, v in again['outputs'].items() if 'json' not in v
    }
    assert before == after
    with rasterio.open(a) as src:
        assert src.tags()['EVALUATION'] == 'dense'
    patch = predict_scene(sar64, scene, tmp_path / 'p', PredictOptions(quiet=True))
    assert patch['options']['evaluation'] == 'patch'


@pytest.mark.parametrize('stride', [64, 4, 48])
def test_dense_cells_it_cannot_give_are_one_line_errors(
    sar64: SingleSensorClassifier, write_scene: WriteScene, tmp_path: Path, stride: int
) -> None:
    scene = _scene(write_scene)
    options = PredictOptions(stride=stride, evaluation='dense', quiet=True)
    with pytest.raises(PredictError, match='dense'):
        predict_scene(sar64, scene, tmp_path / 'x', options)


def _bytes(prefix: Path) -> dict[str, bytes]:
    paths = OutputPaths(prefix)
    return {name: getattr(paths, name).read_bytes() for name in RASTERS}


def test_dense_resume_after_interruption_gives_the_bytes_of_a_fresh_run(
    sar64: SingleSensorClassifier, write_scene: WriteScene, tmp_path: Path
) -> None:
    scene = _scene(write_scene)
    # --window 32 at stride 16: windows of 16 cells, 1 x 2 of them for 15 x 19 cells.
    options = PredictOptions(
        stride=16, evaluation='dense', window=32, probabilities=True, quiet=True
    )
    fresh = predict_scene(sar64, scene, tmp_path / 'fresh', options)
    paths = _interrupted_run(sar64, scene, tmp_path / 'part', options)
    assert not paths.classes.exists()
    progress = json.loads((paths.partial / 'progress.json').read_text())
    assert progress['completed'] == 1
    options = PredictOptions(
        stride=16, evaluation='dense', window=32, probabilities=True, quiet=True,
        resume=True,
    )  # fmt: skip
    summary = predict_scene(sar64, scene, paths.prefix, options)
    assert summary['resumed']
    assert 0 < summary['patches_classified_this_run'] < summary['patches']
    assert summary['classes'] == fresh['classes']
    assert summary['nodata_cells'] == fresh['nodata_cells']
    assert _bytes(paths.prefix) == _bytes(tmp_path / 'fresh')


def test_dense_workers_give_the_bytes_of_a_serial_run(
    sar64: SingleSensorClassifier,
    tmp_path: Path,
    write_scene: WriteScene,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = export_model(sar64.model, sar64.metadata, tmp_path / 'model')
    scenes = [
        write_scene(sar_pixels(h, w, seed=i), name=f's{i}.tif')
        for i, (h, w) in enumerate([(232, 296), (100, 70), (150, 260)])
    ]
    common = ['--model', model, '--evaluation', 'dense', '--stride', '16',
              '--probabilities', '--window', '32']  # fmt: skip
    serial = predict([*scenes, *common, '-o', tmp_path / 'serial'], capsys)
    parallel = predict([*scenes, *common, '-o', tmp_path / 'par', '--workers', '2'],
                       capsys)  # fmt: skip
    assert serial.code == parallel.code == 0, parallel.err
    assert '3 of 3 scenes classified' in parallel.err
    for scene in scenes:
        a, b = tmp_path / 'serial' / scene.stem, tmp_path / 'par' / scene.stem
        assert _bytes(a) == _bytes(b)
        summary = json.loads(OutputPaths(b).summary.read_text())
        assert summary['options']['evaluation'] == 'dense'
