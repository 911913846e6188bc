"""Hostile probes of ``geokd predict`` (issue 19): bad values."""

from pathlib import Path

import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from geokd.predict import OutputPaths
from geokd.predict.output.working import WorkingRasters
from tests.predict.conftest import sar_pixels
from tests.predict.test_pipeline import _interrupt_after_first_window

from .predict_helpers import Run, assert_error, write_raster
from .round2 import BIG, DEEP, DEG, copy_model, out_of, predict_small_scene, summaries

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.15: deep JSON, odd normalisation, odd band indexes and CRSs: one line each -----


def test_stac_json_nested_too_deep(tmp_path: Path, run: Run) -> None:
    stac = tmp_path / 'item.json'
    stac.write_text('{"type": "Feature", "id": "x", "deep": ' + DEEP + '}')
    assert_error(run(stac, '-o', out_of(tmp_path)), 1, 'item.json')


def test_model_json_nested_too_deep(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (model / 'model.json').read_text().rstrip()[:-1] + ', "deep": ' + DEEP + '}'
    edited = copy_model(model, tmp_path / 'model', metadata=text)
    assert_error(predict_small_scene(tmp_path, edited, capsys), 1, 'model.json')


@pytest.mark.parametrize('name', ['progress', 'summary'])
def test_resume_over_json_nested_too_deep(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    scene = write_raster(tmp_path / 'big.tif', sar_pixels(272, 160, seed=2))
    prefix = tmp_path / 'out' / 'big'
    paths = OutputPaths(prefix)
    if name == 'progress':
        write_window = _interrupt_after_first_window(monkeypatch)
        assert run(scene, '-o', prefix, *BIG).code == 130
        monkeypatch.setattr(WorkingRasters, 'write_window', write_window)
        paths.progress.write_text(DEEP)
    else:
        assert run(scene, '-o', prefix, *BIG).code == 0
        paths.summary.write_text(DEEP)
    result = run(scene, '-o', prefix, *BIG, '--resume')
    if name == 'progress':  # a damaged progress file: the run starts over
        assert result.code == 0, result.err
        assert 'Traceback' not in result.err
    else:  # not the summary of this run: refused, never replaced
        assert_error(result, 1, 'big_summary.json', '--overwrite')
        assert paths.summary.read_text() == DEEP


@pytest.mark.parametrize('workers', [[], ['--workers', '2']], ids=['serial', 'workers'])
@pytest.mark.parametrize('bands', ['1,²', '\u0661,2', '1,2²'])
def test_bands_with_digits_that_are_not_ascii(
    tmp_path: Path, run: Run, bands: str, workers: list[str]
) -> None:
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    result = run(scene, '-o', out_of(tmp_path), f'--bands={bands}', *workers)
    assert_error(result, 2 if result.code == 2 else 1, '--bands')
    assert summaries(tmp_path) == []


MARS = (
    'GEOGCRS["Mars (2015) - Sphere / Ocentric",DATUM["Mars (2015) - Sphere",'
    'ELLIPSOID["Mars (2015) - Sphere",3396190,0,LENGTHUNIT["metre",1]]],'
    'PRIMEM["Reference Meridian",0,ANGLEUNIT["degree",0.0174532925199433]],'
    'CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],'
    'ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",east,'
    'ORDER[2],ANGLEUNIT["degree",0.0174532925199433]]]'
)


@pytest.mark.parametrize('crs', ['mars', 'mars projected'])
def test_scene_in_a_crs_not_of_the_earth(tmp_path: Path, run: Run, crs: str) -> None:
    from rasterio.crs import CRS

    if crs == 'mars':
        wkt, transform = MARS, Affine(DEG, 0, 10, 0, -DEG, 0.5)
    else:
        wkt = CRS.from_proj4(
            '+proj=eqc +a=3396190 +b=3396190 +units=m +no_defs'
        ).to_wkt()
        transform = Affine(20, 0, 10_000, 0, -20, 50_000)
    path = tmp_path / 'mars.tif'
    pixels = sar_pixels(64, 64)
    with rasterio.open(path, 'w', driver='GTiff', count=2, height=64, width=64,
                       dtype='float32', crs=CRS.from_wkt(wkt), transform=transform,
                       nodata=float('nan')) as dst:  # fmt: skip
        dst.write(pixels)
        dst.descriptions = ('VV', 'VH')
    assert_error(run(path, '-o', out_of(tmp_path)), 1, 'mars.tif', 'not of the Earth')
