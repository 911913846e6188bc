"""Per-patch evaluation at a scene's right and bottom edges (issue 18, item 3).

A scene whose size is not a multiple of the patch leaves a last partial row and column
of cells. Their patches used to reach past the scene, padded with nodata, and fell
below ``--min-valid``: valid pixels there got no class. The last patch of each axis is
now cut shifted inward, ending on the scene's last pixel.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from geokd.export import SingleSensorClassifier
from geokd.predict import OutputPaths, PredictOptions, predict_scene

from .conftest import WriteScene, sar_pixels
from .test_pipeline import classify_patches

QUIET: dict[str, Any] = {'quiet': True}


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        data: np.ndarray = src.read()
    return data


def occupied_cells(valid: np.ndarray, stride: int) -> np.ndarray:
    """Cells of the output grid holding at least one valid pixel.

    Args:
        valid: ``(H, W)`` valid pixels of the scene.
        stride: Cell size in pixels.

    Returns:
        ``(ceil(H / stride), ceil(W / stride))`` booleans.
    """
    h, w = valid.shape
    rows, cols = -(-h // stride), -(-w // stride)
    padded = np.zeros((rows * stride, cols * stride), bool)
    padded[:h, :w] = valid
    return padded.reshape(rows, stride, cols, stride).any((1, 3))


@pytest.mark.parametrize('stride', [16, 8])
def test_every_cell_holding_valid_pixels_gets_a_class(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_model: SingleSensorClassifier,
    stride: int,
) -> None:
    # 97 x 73 pixels, patches of 16: the last cell row and column hold one pixel
    # row or column. Padded, the last patches (and at stride 8 the corner one, 9 x 9
    # pixels valid) were under --min-valid 0.5.
    pixels = sar_pixels(97, 73, seed=5)
    pixels[:, :20, :40] = np.nan  # a nodata corner
    scene = write_scene(pixels)
    summary = predict_scene(
        sar_model, scene, tmp_path / 's', PredictOptions(stride=stride, **QUIET)
    )
    classes = _read(OutputPaths(tmp_path / 's').classes)[0]
    occupied = occupied_cells(np.isfinite(pixels).all(0), stride)
    assert classes.shape == occupied.shape
    assert (classes[occupied] != 255).all()
    if stride == 16:
        # One patch per cell: the cells of the nodata corner alone stay nodata. (With
        # overlapping patches a nodata cell takes the class of a half-valid patch
        # covering it, as anywhere in a scene.)
        assert (classes[~occupied] == 255).all()
        assert summary['nodata_cells'] == int((~occupied).sum()) == 2


def test_the_edge_cells_take_the_patch_shifted_inward(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    pixels = sar_pixels(100, 75, seed=6)
    scene = write_scene(pixels)
    options = PredictOptions(probabilities=True, **QUIET)
    predict_scene(sar_model, scene, tmp_path / 's', options)
    probabilities = _read(OutputPaths(tmp_path / 's').probabilities)
    assert probabilities.shape[1:] == (7, 5)
    # The inner 6 x 4 cells: their own patches.
    _, inner = classify_patches(sar_model, pixels, 16)
    np.testing.assert_allclose(probabilities[:, :6, :4], inner, rtol=1e-5)
    # The last row: pixels 84..100; the last column: pixels 59..75; the corner both.
    _, row = classify_patches(sar_model, pixels[:, 84:, :64], 16)
    np.testing.assert_allclose(probabilities[:, 6:, :4], row, rtol=1e-5)
    _, col = classify_patches(sar_model, pixels[:, :96, 59:], 16)
    np.testing.assert_allclose(probabilities[:, :6, 4:], col, rtol=1e-5)
    _, corner = classify_patches(sar_model, pixels[:, 84:, 59:], 16)
    np.testing.assert_allclose(probabilities[:, 6:, 4:], corner, rtol=1e-5)


def test_a_nodata_strip_at_the_edge_stays_nodata(
    tmp_path: Path, write_scene: WriteScene, sar_model: SingleSensorClassifier
) -> None:
    # The shifted patch of the last row is all valid but for 4 rows, yet its own
    # cells (pixels 96..100) hold no valid pixel: no class is made up for them.
    pixels = sar_pixels(100, 64, seed=7)
    pixels[:, 96:] = np.nan
    scene = write_scene(pixels)
    summary = predict_scene(sar_model, scene, tmp_path / 's', PredictOptions(**QUIET))
    classes = _read(OutputPaths(tmp_path / 's').classes)[0]
    assert (classes[6] == 255).all()
    assert (classes[:6] != 255).all()
    assert summary['nodata_cells'] == 4


@pytest.mark.parametrize('stride', [16, 8])
def test_the_map_does_not_depend_on_the_window_size(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_model: SingleSensorClassifier,
    stride: int,
) -> None:
    # 300 x 230 pixels: at --window 32 several windows, among them windows holding
    # only the shifted last patches, whose pixels begin before their cells.
    pixels = sar_pixels(300, 230, seed=8)
    pixels[:, 100:140, 50:90] = np.nan
    scene = write_scene(pixels)
    maps = {}
    for window in (32, 4096):
        options = PredictOptions(
            stride=stride, window=window, probabilities=True, **QUIET
        )
        predict_scene(sar_model, scene, tmp_path / f'w{window}', options)
        paths = OutputPaths(tmp_path / f'w{window}')
        maps[window] = [
            _read(getattr(paths, n)) for n in ('classes', 'confidence', 'probabilities')
        ]
    for small, whole in zip(maps[32], maps[4096], strict=True):
        np.testing.assert_array_equal(small, whole)
