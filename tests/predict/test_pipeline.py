import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from geokd.export import SingleSensorClassifier
from geokd.predict import OutputPaths, PredictError, PredictOptions, predict_scene
from geokd.predict.output.working import WorkingRasters

from .conftest import CLASSES, TRANSFORM, WriteScene, sar_pixels

QUIET = {'quiet': True}


def classify_patches(
    classifier: SingleSensorClassifier, pixels: np.ndarray, patch: int
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every patch cut out and classified on its own (in eval mode a
    patch's output does not depend on the others in its batch)."""
    _, h, w = pixels.shape
    rows, cols = h // patch, w // patch
    patches = torch.stack(
        [
            torch.from_numpy(
                pixels[:, i * patch : (i + 1) * patch, j * patch : (j + 1) * patch]
            )
            for i in range(rows)
            for j in range(cols)
        ]
    )
    with torch.inference_mode():
        norm = classifier.metadata.preprocessing
        probs = classifier.model(norm(patches)).softmax(1).numpy()
    probs = probs.T.reshape(len(CLASSES), rows, cols)
    return probs.argmax(0).astype(np.uint8), probs


def test_georeferencing_and_exactness(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(96, 80)
    scene = write_scene(pixels)
    summary = predict_scene(
        sar_model, scene, tmp_path / 'out' / 's', PredictOptions(**QUIET)
    )
    paths = OutputPaths(tmp_path / 'out' / 's')
    expected, probs = classify_patches(sar_model, pixels, 16)
    with rasterio.open(paths.classes) as src:
        assert src.crs == 'EPSG:32631'
        assert src.transform == TRANSFORM @ Affine.scale(16)
        assert src.shape == (6, 5)
        assert src.dtypes == ('uint8',)
        assert src.nodata == 255
        assert src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert src.colormap(1)[0][3] == 255
        assert json.loads(src.tags()['CLASS_NAMES']) == CLASSES
        np.testing.assert_array_equal(src.read(1), expected)
    with rasterio.open(paths.confidence) as src:
        np.testing.assert_allclose(src.read(1), probs.max(0), rtol=1e-5)
    assert paths.style.read_text().count('paletteEntry') == len(CLASSES)
    assert json.loads(paths.summary.read_text()) == summary
    assert sum(c['cells'] for c in summary['classes'].values()) == 30
    # 30 cells of 160 m x 160 m.
    total = sum(c['area_km2'] for c in summary['classes'].values())
    assert total == pytest.approx(30 * 0.16 * 0.16)
    assert not paths.partial.exists()


def test_overlapping_patches_average_probabilities(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(48, 48, seed=1)
    scene = write_scene(pixels)
    options = PredictOptions(stride=8, probabilities=True, **QUIET)
    predict_scene(sar_model, scene, tmp_path / 's', options)
    with rasterio.open(OutputPaths(tmp_path / 's').probabilities) as src:
        assert src.shape == (6, 6)
        assert src.transform == TRANSFORM @ Affine.scale(8)
        assert src.descriptions == tuple(CLASSES)
        probs = src.read()
    # Cell (1, 1) (pixels 8..16) is covered by the patches at pixels 0 and 8 per axis.
    patches = [
        classify_patches(sar_model, pixels[:, r : r + 16, c : c + 16], 16)[1][:, 0, 0]
        for r in (0, 8)
        for c in (0, 8)
    ]
    np.testing.assert_allclose(probs[:, 1, 1], np.mean(patches, 0), rtol=1e-5)
    # Cell (0, 0) is covered by the first patch only.
    np.testing.assert_allclose(probs[:, 0, 0], patches[0], rtol=1e-5)


def test_nodata_stays_nodata(
    tmp_path: Path, write_scene: WriteScene, ms_model: SingleSensorClassifier
) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 4000, (13, 64, 64)).astype('uint16')
    pixels[:, :16, :] = 0  # first row of patches: nodata
    pixels[:, 16:32, :10] = 0  # 10/16 of a patch: below the 0.5 valid fraction
    pixels[:, 16:32, 16:22] = 0  # 6/16: still classified
    scene = write_scene(pixels, nodata=0)  # unnamed bands, in the model's order
    options = PredictOptions(bands=['file-order'], **QUIET)
    summary = predict_scene(ms_model, scene, tmp_path / 's', options)
    with rasterio.open(OutputPaths(tmp_path / 's').classes) as src:
        classes = src.read(1)
    with rasterio.open(OutputPaths(tmp_path / 's').confidence) as src:
        confidence = src.read(1)
    assert (classes[0] == 255).all()
    assert classes[1, 0] == 255
    assert (classes[1, 1:] < 10).all()
    assert (classes[2:] < 10).all()
    assert np.isnan(confidence[classes == 255]).all()
    assert summary['nodata_cells'] == 5


def test_band_mapping_by_name_and_index(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(32, 32)
    swapped = write_scene(pixels[::-1].copy(), 'vh_vv.tif', descriptions=('VH', 'VV'))
    plain = write_scene(pixels, 'plain.tif')
    unnamed_swapped = write_scene(pixels[::-1].copy(), 'swapped.tif', descriptions=None)
    predict_scene(sar_model, plain, tmp_path / 'a', PredictOptions(**QUIET))
    predict_scene(sar_model, swapped, tmp_path / 'b', PredictOptions(**QUIET))
    opts = PredictOptions(bands=['2', '1'], **QUIET)
    predict_scene(sar_model, unnamed_swapped, tmp_path / 'c', opts)
    maps = []
    for name in 'abc':
        with rasterio.open(OutputPaths(tmp_path / name).confidence) as src:
            maps.append(src.read(1))
    np.testing.assert_array_equal(maps[0], maps[1])
    np.testing.assert_array_equal(maps[0], maps[2])
    with pytest.raises(PredictError, match="no band named 'HH'"):
        predict_scene(
            sar_model, swapped, tmp_path / 'd', PredictOptions(bands=['HH', 'VV'])
        )


def _interrupt_after_first_window(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make prediction stop with KeyboardInterrupt after its first window.

    Returns:
        The original window writer, to restore with ``monkeypatch.setattr``.
    """
    write_window = WorkingRasters.write_window
    calls = []

    def interrupted(*args: Any) -> None:
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        write_window(*args)

    monkeypatch.setattr(WorkingRasters, 'write_window', interrupted)
    return write_window


def _interrupted_run(
    model: SingleSensorClassifier, scene: Path, prefix: Path, options: PredictOptions
) -> OutputPaths:
    """Predict until a KeyboardInterrupt after the first window; resumable after.

    Returns:
        The outputs of the interrupted run.
    """
    paths = OutputPaths(prefix)
    with pytest.MonkeyPatch.context() as monkeypatch:
        write_window = _interrupt_after_first_window(monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            predict_scene(model, scene, paths.prefix, options)
    assert WorkingRasters.write_window is write_window
    return paths


def test_resume_after_interruption_matches_uninterrupted(
    tmp_path: Path, two_window_scene: Path, sar_model: SingleSensorClassifier
) -> None:
    scene = two_window_scene
    # Windows of 256 pixels: 2 x 1 windows.
    options = PredictOptions(window=256, probabilities=True, **QUIET)
    predict_scene(sar_model, scene, tmp_path / 'full', options)

    paths = _interrupted_run(sar_model, scene, tmp_path / 'part', options)
    # Nothing that looks finished.
    assert not paths.classes.exists()
    assert not paths.summary.exists()
    progress = json.loads((paths.partial / 'progress.json').read_text())
    assert progress['completed'] == 1

    resumed = PredictOptions(window=256, probabilities=True, resume=True, **QUIET)
    summary = predict_scene(sar_model, scene, paths.prefix, resumed)
    assert summary['resumed']
    assert summary['patches_classified_this_run'] < summary['patches']
    full = OutputPaths(tmp_path / 'full')
    for a, b in [
        (full.classes, paths.classes),
        (full.confidence, paths.confidence),
        (full.probabilities, paths.probabilities),
    ]:
        with rasterio.open(a) as x, rasterio.open(b) as y:
            np.testing.assert_array_equal(x.read(), y.read())
    full_summary = json.loads(full.summary.read_text())
    assert summary['classes'] == full_summary['classes']


def test_resume_after_interruption_in_finishing_and_with_other_window(
    tmp_path: Path,
    two_window_scene: Path,
    sar_model: SingleSensorClassifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = two_window_scene
    options = PredictOptions(window=256, **QUIET)
    expected = predict_scene(sar_model, scene, tmp_path / 'full', options)

    # Interrupted after the last window, while the COGs are written.
    stage = WorkingRasters.stage

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(WorkingRasters, 'stage', interrupted)
    paths = OutputPaths(tmp_path / 'part')
    with pytest.raises(KeyboardInterrupt):
        predict_scene(sar_model, scene, paths.prefix, options)
    monkeypatch.setattr(WorkingRasters, 'stage', stage)
    resumed = PredictOptions(window=256, resume=True, **QUIET)
    summary = predict_scene(sar_model, scene, paths.prefix, resumed)
    assert summary['patches_classified_this_run'] == 0
    assert summary['classes'] == expected['classes']

    # A finished run is returned as is only for the same options; another window
    # size (other window indices) is refused rather than mixed in.
    assert predict_scene(sar_model, scene, paths.prefix, resumed) == summary
    other = PredictOptions(window=512, resume=True, **QUIET)
    with pytest.raises(PredictError, match='another scene, model or options'):
        predict_scene(sar_model, scene, paths.prefix, other)


def test_resume_with_changed_window_starts_over(
    tmp_path: Path, two_window_scene: Path, sar_model: SingleSensorClassifier
) -> None:
    scene = two_window_scene
    options = PredictOptions(window=256, **QUIET)
    paths = _interrupted_run(sar_model, scene, tmp_path / 'part', options)
    summary = predict_scene(
        sar_model, scene, paths.prefix, PredictOptions(window=512, resume=True, **QUIET)
    )
    assert summary['patches_classified_this_run'] == summary['patches']
    assert (
        summary['nodata_cells']
        == predict_scene(sar_model, scene, tmp_path / 'full', PredictOptions(**QUIET))[
            'nodata_cells'
        ]
    )


def test_existing_outputs_are_not_overwritten(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(32, 32))
    predict_scene(sar_model, scene, tmp_path / 's', PredictOptions(**QUIET))
    with pytest.raises(PredictError, match='already exist'):
        predict_scene(sar_model, scene, tmp_path / 's', PredictOptions(**QUIET))
    predict_scene(
        sar_model, scene, tmp_path / 's', PredictOptions(overwrite=True, **QUIET)
    )


def test_polygons(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(64, 64))
    options = PredictOptions(polygons=True, **QUIET)
    predict_scene(sar_model, scene, tmp_path / 's', options)
    paths = OutputPaths(tmp_path / 's')
    frame = gpd.read_file(paths.polygons)
    with rasterio.open(paths.classes) as src:
        classes = src.read(1)
    with rasterio.open(paths.confidence) as src:
        confidence = src.read(1)
    assert frame.crs == 'EPSG:32631'
    assert frame['cells'].sum() == classes.size
    assert set(frame['class_name']) == {CLASSES[c] for c in np.unique(classes)}
    # Polygons of one class together: cell-weighted mean confidence of the class.
    for name, group in frame.groupby('class_name'):
        cells = confidence[classes == CLASSES.index(name)]
        weighted = (group['confidence'] * group['cells']).sum() / group['cells'].sum()
        assert weighted == pytest.approx(cells.mean(), rel=1e-5)
    area = frame.geometry.area.sum()
    assert area == pytest.approx(64 * 64 * 100)


def test_bad_inputs_give_one_line_errors(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    opts = PredictOptions(**QUIET)
    out = tmp_path / 'out' / 's'
    text = tmp_path / 'notes.tif'
    text.write_text('not a raster')
    with pytest.raises(PredictError, match=r'notes\.tif: not a readable raster'):
        predict_scene(sar_model, text, out, opts)
    with pytest.raises(PredictError, match='no such file'):
        predict_scene(sar_model, tmp_path / 'missing.tif', out, opts)
    three = write_scene(sar_pixels(32, 32)[[0, 1, 1]], 'three.tif')
    with pytest.raises(
        PredictError, match=r'three\.tif: its 3 band\(s\) carry no names.*: VV, VH;'
    ):
        predict_scene(sar_model, three, out, opts)
    empty = write_scene(np.full((2, 32, 32), np.nan, 'float32'), 'empty.tif')
    with pytest.raises(PredictError, match=r'empty\.tif: no patch has 50% valid'):
        predict_scene(sar_model, empty, out, opts)
    assert not OutputPaths(out).classes.exists()
    assert not OutputPaths(out).partial.exists()
    scene = write_scene(sar_pixels(32, 32), 'ok.tif')
    with pytest.raises(PredictError, match='cannot be created'):
        predict_scene(sar_model, scene, text / 'sub' / 's', opts)
    with pytest.raises(PredictError, match='stride 5 must divide'):
        predict_scene(sar_model, scene, out, PredictOptions(stride=5, **QUIET))


def test_scene_smaller_than_a_patch(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(10, 12))
    with pytest.raises(PredictError, match=r'smaller than one patch \(10 x 12 < 16\)'):
        predict_scene(sar_model, scene, tmp_path / 'a', PredictOptions(**QUIET))
    options = PredictOptions(min_valid=0.4, **QUIET)
    summary = predict_scene(sar_model, scene, tmp_path / 'b', options)
    assert summary['grid']['rows'] == summary['grid']['cols'] == 1
    assert sum(c['cells'] for c in summary['classes'].values()) == 1


def test_scene_without_crs_warns_and_predicts(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    scene = write_scene(sar_pixels(32, 32), crs=None, transform=Affine.identity())
    with pytest.warns(UserWarning, match='no CRS|no geotransform') as record:
        summary = predict_scene(sar_model, scene, tmp_path / 's', PredictOptions())
    messages = ' '.join(str(w.message) for w in record)
    assert 'no CRS' in messages
    assert 'no geotransform' in messages
    assert summary['crs'] is None
    assert all(c['area_km2'] is None for c in summary['classes'].values())
    with rasterio.open(OutputPaths(tmp_path / 's').classes) as src:
        assert src.crs is None
        assert src.shape == (2, 2)
