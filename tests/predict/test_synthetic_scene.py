from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geokd.datasets import SyntheticMSSAR
from geokd.predict.synthetic_scene import agreement, truth_path, write_synthetic_scene


def test_sar_scene_is_georeferenced_tiled_and_has_nodata(tmp_path: Path) -> None:
    path = write_synthetic_scene(tmp_path / 'sar.tif', 'sar', 100, 80, block=16, seed=1)
    with rasterio.open(path) as src:
        assert src.crs == 'EPSG:32631'
        assert src.res == (10.0, 10.0)
        assert src.block_shapes == [(16, 16), (16, 16)]
        assert src.shape == (100, 80)
        assert src.descriptions == SyntheticMSSAR.all_band_names['sar']
        assert src.tags()['SYNTHETIC'].startswith('yes')
        data = src.read()
    assert np.isnan(data[:, 0, 0]).all()
    assert np.isfinite(data[:, -1, -1]).all()
    assert np.nanmin(data) > -45
    assert np.nanmax(data) < 15
    with rasterio.open(tmp_path / 'sar_truth.tif') as src:
        assert src.shape == (7, 5)
        assert src.transform == rasterio.open(path).transform @ rasterio.Affine.scale(
            16
        )
        truth = src.read(1)
    assert truth[0, 0] == 255
    assert set(np.unique(truth)) - {255} <= set(range(10))


def test_ms_scene_is_deterministic_with_zero_nodata(tmp_path: Path) -> None:
    a = write_synthetic_scene(tmp_path / 'a.tif', 'ms', 64, 64, block=32, seed=3)
    b = write_synthetic_scene(tmp_path / 'b.tif', 'ms', 64, 64, block=32, seed=3)
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert x.nodata == 0
        assert x.count == 13
        pa, pb = x.read(), y.read()
    np.testing.assert_array_equal(pa, pb)
    nodata = (pa == 0).all(0)
    assert nodata.any()
    # Valid pixels never contain the nodata value in any band.
    assert not (pa[:, ~nodata] == 0).any()


def test_blocks_look_like_the_dataset(tmp_path: Path) -> None:
    # Blocks are rendered by the dataset's own simulator: SeaLake blocks (open water)
    # backscatter less than PermanentCrop blocks (soil and trees), as in SyntheticMSSAR.
    path = write_synthetic_scene(tmp_path / 's.tif', 'sar', 256, 256, block=32, seed=0)
    with rasterio.open(path) as src, rasterio.open(tmp_path / 's_truth.tif') as t:
        vv, truth = src.read(1), t.read(1)
    blocks = vv.reshape(8, 32, 8, 32).transpose(0, 2, 1, 3)
    water = blocks[truth == SyntheticMSSAR.classes.index('SeaLake')]
    trees = blocks[truth == SyntheticMSSAR.classes.index('PermanentCrop')]
    assert len(water) > 0
    assert len(trees) > 0
    assert np.nanmean(water) < np.nanmean(trees) - 3


def test_agreement_with_truth(tmp_path: Path) -> None:
    path = write_synthetic_scene(tmp_path / 's.tif', 'sar', 64, 64, block=16, seed=0)
    truth = truth_path(path)
    assert truth == tmp_path / 's_truth.tif'
    assert agreement(truth, truth) == 1.0
    with rasterio.open(truth) as src:
        profile, classes = src.profile, src.read(1)
    # One valid cell of the 16 wrong, one more set to nodata.
    wrong = classes.copy()
    [r, c] = np.argwhere(classes != 255)[0]
    wrong[r, c] = (classes[r, c] + 1) % 10
    wrong[-1, -1] = 255
    with rasterio.open(tmp_path / 'pred.tif', 'w', **profile) as dst:
        dst.write(wrong, 1)
    valid = int((classes != 255).sum()) - 1
    assert agreement(tmp_path / 'pred.tif', truth) == (valid - 1) / valid
    # A map shifted one cell east is compared where it lies: cell (r, c) of the map
    # covers block (r, c + 1) of the truth, and the last column lies outside it.
    shifted = {**profile, 'transform': profile['transform'] @ Affine.translation(1, 0)}
    with rasterio.open(tmp_path / 'shifted.tif', 'w', **shifted) as dst:
        dst.write(classes, 1)
    pred, true = classes[:, :-1], classes[:, 1:]
    both = (pred != 255) & (true != 255)
    expected = float((pred[both] == true[both]).mean())
    assert agreement(tmp_path / 'shifted.tif', truth) == expected
    # Far away: no common cell.
    away = {**profile, 'transform': profile['transform'] @ Affine.translation(100, 0)}
    with rasterio.open(tmp_path / 'away.tif', 'w', **away) as dst:
        dst.write(classes, 1)
    assert agreement(tmp_path / 'away.tif', truth) is None


def test_agreement_on_finer_cells(tmp_path: Path) -> None:
    # A class map at half the block size (geokd predict --stride patch/2) has 2 x 2
    # cells per true block: the agreement is measured on its grid.
    path = write_synthetic_scene(tmp_path / 's.tif', 'sar', 64, 64, block=16, seed=0)
    with rasterio.open(truth_path(path)) as src:
        profile, classes = src.profile, src.read(1)
    fine = np.kron(classes, np.ones((2, 2), dtype=classes.dtype))
    fine[0, 1] = 255  # nodata cells do not count
    valid = fine != 255
    fine[valid.nonzero()[0][-1], valid.nonzero()[1][-1]] += 1  # one wrong cell
    profile.update(
        width=fine.shape[1], height=fine.shape[0],
        transform=profile['transform'] @ Affine.scale(0.5),
    )  # fmt: skip
    with rasterio.open(tmp_path / 'fine.tif', 'w', **profile) as dst:
        dst.write(fine, 1)
    expected = 1 - 1 / valid.sum()
    assert agreement(tmp_path / 'fine.tif', truth_path(path)) == pytest.approx(expected)
