"""Real Sentinel-1 / Sentinel-2 files from ../shared/realdata (skipped when absent)."""

from pathlib import Path

import numpy as np
import pytest
import rasterio

from geokd.deploy import (
    OutputPaths,
    PredictError,
    PredictOptions,
    SingleSensorClassifier,
    predict_scene,
)

from .test_predict import classify_patches


def test_sen1floods11_s1_with_sar_model(
    tmp_path: Path, realdata: Path, sar_model: SingleSensorClassifier
) -> None:
    [scene] = (realdata / 'sen1floods11').glob('*_S1Hand.tif')
    # A copy with a NaN corner (the chip itself has no nodata).
    with rasterio.open(scene) as src:
        profile, pixels = src.profile, src.read()
    pixels[:, :100, :150] = np.nan
    holed = tmp_path / scene.name
    with rasterio.open(holed, 'w', **profile) as dst:
        dst.write(pixels)
    summary = predict_scene(
        sar_model, holed, tmp_path / 's1', PredictOptions(patch_size=32, quiet=True)
    )
    with rasterio.open(OutputPaths(tmp_path / 's1').classes) as out:
        assert out.crs == profile['crs'] == 'EPSG:4326'
        assert out.transform == profile['transform'] @ rasterio.Affine.scale(32)
        assert out.shape == (16, 16)
        classes = out.read(1)
    valid = np.isfinite(pixels).all(0).reshape(16, 32, 16, 32).mean((1, 3)) >= 0.5
    np.testing.assert_array_equal(classes != 255, valid)
    expected, _ = classify_patches(sar_model, np.nan_to_num(pixels), 32)
    full = np.isfinite(pixels).all(0).reshape(16, 32, 16, 32).all((1, 3))
    np.testing.assert_array_equal(classes[full], expected[full])
    assert summary['nodata_cells'] == int((~valid).sum())
    areas = [c['area_km2'] for c in summary['classes'].values()]
    # 512 x 512 pixels of about 10 m x 7.9 m (at 38 degrees north), minus the hole.
    assert sum(areas) == pytest.approx(
        512 * 512 * 10 * 7.9 / 1e6 * valid.mean(), rel=0.1
    )


def test_sen1floods11_s2_with_ms_model(
    tmp_path: Path, realdata: Path, ms_model: SingleSensorClassifier
) -> None:
    [scene] = (realdata / 'sen1floods11').glob('*_S2Hand.tif')
    options = PredictOptions(patch_size=32, quiet=True)
    predict_scene(ms_model, scene, tmp_path / 's2', options)
    with rasterio.open(scene) as src:
        # The file's order is B1..B8, B8A, B9..B12; the model's is EuroSAT's (B8A last).
        order = [src.descriptions.index(b) + 1 for b in
                 ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9', 'B10', 'B11', 'B12', 'B8A')]  # fmt: skip
        pixels = src.read(order).astype('float32')
    expected, _ = classify_patches(ms_model, pixels, 32)
    with rasterio.open(OutputPaths(tmp_path / 's2').classes) as out:
        classes = out.read(1)
    valid = classes != 255
    np.testing.assert_array_equal(classes[valid], expected[valid])
    assert valid.mean() > 0.5


def test_single_polarisation_scene_refused_by_dual_pol_model(
    tmp_path: Path, realdata: Path, sar_model: SingleSensorClassifier
) -> None:
    [scene] = (realdata / 'pyrosar').glob('*.tif')
    with pytest.raises(PredictError) as info:
        predict_scene(sar_model, scene, tmp_path / 'p', PredictOptions(quiet=True))
    message = str(info.value)
    assert '\n' not in message
    assert scene.name in message
    assert 'has 1 band' in message
    assert 'reads 2 bands (VV, VH)' in message
