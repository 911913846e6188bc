"""``geokd predict`` with a segmenter: a class per pixel, blended from tiles.

The map is checked against tiles segmented one by one, does not depend on the
window size, resumes to the bytes of an uninterrupted run and is the same with
``--workers 2``.
"""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch

from geokd.export import SingleSensorClassifier
from geokd.predict import OutputPaths, PredictOptions, predict_scene
from geokd.predict.engine.blending import blend_patches
from tests.hostile.predict_helpers import assert_error, predict

from .conftest import TRANSFORM, WriteScene, sar_pixels
from .segmenters import PATCH
from .test_pipeline import _interrupted_run

QUIET = {'quiet': True}
RASTERS = ('classes', 'confidence', 'probabilities')


def segment_tiles(
    segmenter: SingleSensorClassifier, pixels: np.ndarray
) -> torch.Tensor:
    """The reference: every tile cut out, segmented alone, blended.

    Tiles start at multiples of half a tile from the scene's origin; a tile past
    the scene's end is padded with NaN (nodata).
    """
    c, h, w = pixels.shape
    s = PATCH // 2
    rows = max(0, -(-(h - PATCH) // s)) + 1
    cols = max(0, -(-(w - PATCH) // s)) + 1
    padded = np.full((c, (rows - 1) * s + PATCH, (cols - 1) * s + PATCH), np.nan)
    padded[:, :h, :w] = pixels
    x = torch.from_numpy(padded.astype('float32'))
    valid = torch.isfinite(x).all(0)
    probs = torch.zeros(rows, cols, 2, PATCH, PATCH)
    norm = segmenter.metadata.preprocessing
    with torch.inference_mode():
        for i in range(rows):
            for j in range(cols):
                tile = x[:, i * s : i * s + PATCH, j * s : j * s + PATCH][None]
                mask = valid[i * s : i * s + PATCH, j * s : j * s + PATCH][None, None]
                tile = torch.where(mask, norm(tile.nan_to_num(), valid=mask), 0.0)
                probs[i, j] = segmenter.model(tile).softmax(1)[0]
    keep = torch.ones(rows, cols, dtype=torch.bool)
    blended = blend_patches(probs, keep, s)[:, :h, :w]
    return torch.where(valid[:h, :w], blended, torch.nan)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def test_a_class_per_pixel_on_the_scene_grid(
    tmp_path: Path, write_scene: WriteScene, sar_segmenter: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(100, 70)
    pixels[:, :5, :7] = np.nan  # a nodata corner
    scene = write_scene(pixels)
    options = PredictOptions(window=32, probabilities=True, polygons=True, **QUIET)
    summary = predict_scene(sar_segmenter, scene, tmp_path / 'map', options)
    paths = OutputPaths(tmp_path / 'map')
    with rasterio.open(paths.classes) as out:
        assert out.shape == (100, 70)
        assert out.transform == TRANSFORM
        assert out.crs.to_string() == 'EPSG:32631'
        assert out.tags()['EVALUATION'] == 'segmenter'
        classes = out.read(1)
    expected = segment_tiles(sar_segmenter, pixels).numpy()
    probabilities = _read(paths.probabilities)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # Where the two classes are not within rounding of a tie, the same class.
    found = np.isfinite(expected).all(0)
    sure = found & (np.where(found, expected, 0).max(0) > 0.5 + 1e-4)
    np.testing.assert_array_equal(classes[sure], expected.argmax(0)[sure])
    assert (classes[:5, :7] == 255).all()
    assert {0, 1} <= set(np.unique(classes))  # both classes drawn
    # The summary says a segmenter made the map, and counts pixels.
    assert summary['model']['kind'] == 'segmenter'
    assert summary['options']['evaluation'] == 'segmenter'
    assert summary['grid']['cell_size_pixels'] == 1
    assert summary['grid']['cell'].startswith('one class per pixel at 10 m')
    assert sum(c['cells'] for c in summary['classes'].values()) == 100 * 70 - 35
    area = summary['classes']['flooded']['area_km2']
    assert area == pytest.approx((classes == 1).sum() * 1e-4)
    polygons = gpd.read_file(paths.polygons)
    assert set(polygons['class_name']) <= {'dry', 'flooded'}


def test_the_map_does_not_depend_on_the_window_size(
    tmp_path: Path, write_scene: WriteScene, sar_segmenter: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(100, 70, seed=3))
    maps = {}
    for window in (32, 64, 1024):
        options = PredictOptions(window=window, probabilities=True, **QUIET)
        predict_scene(sar_segmenter, scene, tmp_path / f'w{window}', options)
        maps[window] = {
            name: _read(getattr(OutputPaths(tmp_path / f'w{window}'), name))
            for name in RASTERS
        }
    # Every pixel is blended from the same tiles with the same contents, each
    # normalised and segmented as it would be alone: the same values, not close
    # ones (the files differ in their tiling, which follows the window).
    for window in (64, 1024):
        for name in RASTERS:
            np.testing.assert_array_equal(maps[window][name], maps[32][name])


def test_resume_after_interruption_gives_the_bytes_of_a_fresh_run(
    tmp_path: Path, write_scene: WriteScene, sar_segmenter: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(100, 70, seed=4))
    options = PredictOptions(window=32, probabilities=True, **QUIET)
    predict_scene(sar_segmenter, scene, tmp_path / 'fresh', options)
    paths = _interrupted_run(sar_segmenter, scene, tmp_path / 'part', options)
    assert not paths.classes.exists()
    progress = json.loads((paths.partial / 'progress.json').read_text())
    assert progress['completed'] == 1
    resumed = PredictOptions(window=32, probabilities=True, resume=True, **QUIET)
    summary = predict_scene(sar_segmenter, scene, paths.prefix, resumed)
    assert summary['resumed']
    fresh = OutputPaths(tmp_path / 'fresh')
    for name in RASTERS:
        assert getattr(paths, name).read_bytes() == getattr(fresh, name).read_bytes()


def test_workers_give_the_bytes_of_a_serial_run(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_segmenter_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenes = [
        write_scene(sar_pixels(h, w, seed=i), name=f's{i}.tif')
        for i, (h, w) in enumerate([(70, 40), (40, 90), (33, 33)])
    ]
    common = ['--model', sar_segmenter_dir, '--probabilities', '--window', '32']
    serial = predict([*scenes, *common, '-o', tmp_path / 'serial'], capsys)
    parallel = predict([*scenes, *common, '-o', tmp_path / 'par', '--workers', '2'],
                       capsys)  # fmt: skip
    assert serial.code == parallel.code == 0, parallel.err
    for scene in scenes:
        a, b = (
            OutputPaths(tmp_path / 'serial' / scene.stem),
            OutputPaths(tmp_path / 'par' / scene.stem),
        )
        for name in RASTERS:
            assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes()


@pytest.mark.parametrize(
    ('option', 'fragment'),
    [
        (['--stride', '16'], '--stride 16: a segmenter gives a class per pixel'),
        (['--evaluation', 'dense'], '--evaluation dense: a segmenter'),
        (['--patch-size', '48'], '--patch-size 48: this segmenter takes tiles of a'),
    ],
)
def test_options_a_segmenter_does_not_take_are_refused_in_one_line(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_segmenter_dir: Path,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    fragment: str,
) -> None:
    scene = write_scene(sar_pixels(40, 40))
    out = tmp_path / 'out'
    result = predict([scene, '--model', sar_segmenter_dir, '-o', out, *option], capsys)
    assert_error(result, 2, fragment)
    assert not out.exists()


def test_a_scene_smaller_than_a_tile_is_mapped(
    tmp_path: Path, write_scene: WriteScene, sar_segmenter: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(20, 12)
    scene = write_scene(pixels)
    predict_scene(sar_segmenter, scene, tmp_path / 'small', PredictOptions(**QUIET))
    classes = _read(OutputPaths(tmp_path / 'small').classes)[0]
    assert classes.shape == (20, 12)
    expected = segment_tiles(sar_segmenter, pixels).argmax(0).numpy()
    np.testing.assert_array_equal(classes, expected)
