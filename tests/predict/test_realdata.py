"""Real Sentinel-1 / Sentinel-2 products from ../shared/realdata (skipped when absent).

Scenes as delivered: geographic chips, one file per polarisation or per band at
10/20/60 m, unnamed band stacks, single-polarisation scenes.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject

from geokd.export import SingleSensorClassifier, export_model
from geokd.main import main
from geokd.predict import OutputPaths, PredictOptions, band_files_input, predict_scene
from geokd.predict.scene.resampling import read_grid, warped

from .conftest import tiny_classifier
from .test_pipeline import classify_patches

#: BigEarthNet's 12 Sentinel-2 bands (no B10), in its order.
BEN_S2 = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11',
          'B12']  # fmt: skip
#: The class maps of a 10 m scene and of its 20 m version agree on at least this
#: fraction of cells (measured: 0.874 with the random 16-pixel test model).
RESOLUTION_AGREEMENT = 0.8


def _classes(prefix: Path) -> np.ndarray:
    with rasterio.open(OutputPaths(prefix).classes) as src:
        return src.read(1)


def _s1hand(realdata: Path) -> Path:
    [scene] = (realdata / 'sen1floods11').glob('*_S1Hand.tif')
    return scene


def _ben(realdata: Path, sensor: str, patch: str) -> Path:
    root = realdata / 'bigearthnet_common' / f'BigEarthNet-{sensor}-Example'
    [directory] = root.glob(f'*_{patch}')
    return directory


def test_geographic_chip_is_reprojected_to_utm_at_the_model_gsd(
    tmp_path: Path, realdata: Path, sar_model: SingleSensorClassifier
) -> None:
    scene = _s1hand(realdata)
    with rasterio.open(scene) as src:
        profile, pixels = src.profile, src.read()
    pixels[:, :100, :150] = np.nan  # a nodata corner (the chip has none)
    holed = tmp_path / scene.name
    with rasterio.open(holed, 'w', **profile) as dst:
        dst.write(pixels)
        dst.descriptions = ('VV', 'VH')
    summary = predict_scene(
        sar_model, holed, tmp_path / 's1', PredictOptions(patch_size=32, quiet=True)
    )
    # The chip's pixels are about 10 m x 7.9 m in EPSG:4326 (38 degrees north): it is
    # read in UTM 30N at the model's 10 m, so a 32-pixel patch covers 320 m.
    assert summary['crs'] == 'EPSG:32630'
    assert summary['read']['reprojected_from'] == 'EPSG:4326'
    assert summary['read']['native_pixel_size_m'] == pytest.approx([7.9, 10.0], abs=0.1)
    assert summary['grid']['pixel_size_m'] == [10.0, 10.0]
    assert (
        summary['grid']['cell']
        == 'one class per 32 x 32 patch = 320 m at 10 m per pixel'
    )
    with rasterio.open(holed) as src, warped(src, read_grid(src, 10.0)) as vrt:
        expected_transform = vrt.transform @ Affine.scale(32)
        reference = vrt.read()
    classes = _classes(tmp_path / 's1')
    expected, _ = classify_patches(sar_model, np.nan_to_num(reference), 32)
    rows, cols = expected.shape
    full = np.isfinite(reference[:, : rows * 32, : cols * 32]).all(0)
    full = full.reshape(rows, 32, cols, 32).all((1, 3))
    np.testing.assert_array_equal(classes[:rows, :cols][full], expected[full])
    assert (classes[:2, :2] == 255).all()  # the nodata corner
    with rasterio.open(OutputPaths(tmp_path / 's1').classes) as out:
        assert out.transform.almost_equals(expected_transform)
    areas = sum(c['area_km2'] for c in summary['classes'].values())
    cells = sum(c['cells'] for c in summary['classes'].values())
    assert areas == pytest.approx(cells * 0.32**2, rel=1e-3)


def test_s2_stack_in_l1c_order_feeds_a_eurosat_model(
    tmp_path: Path, realdata: Path, ms_model: SingleSensorClassifier
) -> None:
    [scene] = (realdata / 'sen1floods11').glob('*_S2Hand.tif')
    summary = predict_scene(
        ms_model, scene, tmp_path / 's2', PredictOptions(patch_size=32, quiet=True)
    )
    # The file's order is B1..B8, B8A, B9..B12; the model's is EuroSAT's (B8A last).
    mapping = {b['model']: b['index'] for b in summary['bands']}
    assert mapping['B8A'] == 9
    assert mapping['B09'] == 10
    assert [b['index'] for b in summary['bands']][-1] == 9
    with rasterio.open(scene) as src, warped(src, read_grid(src, 10.0)) as vrt:
        pixels = vrt.read([b['index'] for b in summary['bands']])
    expected, _ = classify_patches(ms_model, np.nan_to_num(pixels), 32)
    classes = _classes(tmp_path / 's2')
    rows, cols = expected.shape
    valid = classes[:rows, :cols] != 255
    full = np.isfinite(pixels[:, : rows * 32, : cols * 32]).all(0)
    full = full.reshape(rows, 32, cols, 32).all((1, 3)) & valid
    np.testing.assert_array_equal(classes[:rows, :cols][full], expected[full])
    assert full.mean() > 0.5


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run geokd predict; its exit code, stdout and stderr."""
    try:
        main(['predict', *args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _refused(
    args: list[str], out: Path, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    """The command fails with one line naming the problem, and writes no output."""
    code, stdout, stderr = _cli([*args, '-o', f'{out}/'], capsys)
    assert code == 1
    [line] = stderr.strip().splitlines()
    assert line.startswith('geokd predict: error: ')
    assert message in line
    assert 'Traceback' not in stdout + stderr
    assert not list(out.glob('*_classes.tif'))
    assert not list(out.glob('*_summary.json'))


def test_unnamed_13_band_scene_needs_bands(
    tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A standard L1C stack (B8A ninth) whose bands carry no names.
    [scene] = (realdata / 'copernicus_fm').glob('*.tif')
    ms = tiny_classifier('ms')
    model = export_model(ms.model, ms.metadata, tmp_path / 'ms')
    out = tmp_path / 'out'
    _refused(
        [str(scene), '--model', str(model)], out, capsys,
        'its 13 band(s) carry no names, so which is which is unknown; the model reads '
        '13 bands in this order: B01, B02, B03, B04, B05, B06, B07, B08, B09, B10, '
        'B11, B12, B8A; pass --bands',
    )  # fmt: skip
    code, stdout, _ = _cli(
        [str(scene), '--model', str(model), '-o', f'{out}/',
         '--bands', '1,2,3,4,5,6,7,8,10,11,12,13,9'],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert 'bands (model <- scene) B01 <- 1, ' in stdout
    assert ', B8A <- 9;' in stdout
    summary = json.loads((out / f'{scene.stem}_summary.json').read_text())
    assert [b['index'] for b in summary['bands']][-1] == 9


def test_single_polarisation_scene_refused_by_a_dual_pol_model(
    tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [scene] = (realdata / 'pyrosar').glob('*.tif')
    sar = tiny_classifier('sar')
    model = str(export_model(sar.model, sar.metadata, tmp_path / 'sar'))
    out = tmp_path / 'out'
    # Named VV by its file name (..._VV_grd_mli_geo_norm_db.tif).
    _refused([str(scene), '--model', model], out, capsys,
             f'{scene}: has no band VH (its bands: VV); the model reads VV, VH')  # fmt: skip
    # The old advice, VV fed twice, is refused.
    _refused([str(scene), '--model', model, '--bands', '1,1'], out, capsys,
             'uses band 1 more than once')  # fmt: skip
    _refused([str(scene), '--model', model, '--bands', 'file-order'], out, capsys,
             'needs exactly the model')  # fmt: skip


def test_s1_polarisation_files_predict_without_stacking(
    tmp_path: Path,
    realdata: Path,
    sar_model: SingleSensorClassifier,
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory = _ben(realdata, 'S1', '87_48')
    summary = predict_scene(sar_model, directory, tmp_path / 'dir', PredictOptions())
    line = capsys.readouterr().out.splitlines()[0]
    assert (
        f'{directory}: bands (model <- scene) VV <- {directory.name}_VV.tif, ' in line
    )
    assert 'one class per 16 x 16 patch = 160 m at 10 m per pixel' in line
    assert [Path(b['file']).name[-6:] for b in summary['bands']] == ['VV.tif', 'VH.tif']
    assert summary['read']['resampled'] is False
    files = {b: directory / f'{directory.name}_{b}.tif' for b in ('VV', 'VH')}
    pixels = []
    for file in files.values():
        with rasterio.open(file) as src:
            pixels.append(src.read(1))
            transform = src.transform
    expected, _ = classify_patches(sar_model, np.stack(pixels), 16)
    classes = _classes(tmp_path / 'dir')
    assert classes.shape == (8, 8)  # 120 pixels: 7 whole patches and an edge one
    np.testing.assert_array_equal(classes[:7, :7], expected)
    with rasterio.open(OutputPaths(tmp_path / 'dir').classes) as out:
        assert out.transform == transform @ Affine.scale(16)
    # The same files named one by one.
    options = PredictOptions(quiet=True)
    pairs = [f'VH={files["VH"]}', f'VV={files["VV"]}']
    predict_scene(sar_model, band_files_input(pairs), tmp_path / 'pairs', options)
    np.testing.assert_array_equal(_classes(tmp_path / 'pairs'), classes)


def test_s2_band_files_at_10_20_60_m_predict_without_stacking(
    tmp_path: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _ben(realdata, 'S2', '87_48')
    ben = tiny_classifier('ms', bands=BEN_S2)
    summary = predict_scene(ben, directory, tmp_path / 's2', PredictOptions(quiet=True))
    assert [Path(b['file']).stem[-3:] for b in summary['bands']] == [
        'B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11',
        'B12',
    ]  # fmt: skip
    # Reference: each band read on the 10 m grid, 20 m and 60 m bands interpolated.
    pixels = []
    for band in summary['bands']:
        with rasterio.open(band['file']) as src:
            data = src.read(1, out_shape=(120, 120), resampling=Resampling.bilinear)
            pixels.append(data.astype('float32'))
    expected, _ = classify_patches(ben, np.stack(pixels), 16)
    np.testing.assert_array_equal(_classes(tmp_path / 's2')[:7, :7], expected)
    # A EuroSAT model needs B10, which BigEarthNet's L2A bands lack.
    sar = tiny_classifier('ms')
    model = str(export_model(sar.model, sar.metadata, tmp_path / 'eurosat'))
    _refused(
        [str(directory), '--model', model],
        tmp_path / 'out',
        capsys,
        'has no band B10 (its bands: B1, B2, B3, B4, B5, B6, B7, B8, B8A, B9, '
        'B11, B12)',
    )


def test_a_20_m_scene_gives_the_class_map_of_its_10_m_original(
    tmp_path: Path, realdata: Path, sar_model: SingleSensorClassifier
) -> None:
    # The 10 m original: the real sen1floods11 chip in UTM 30N at 10 m. Its 20 m
    # version: 2 x 2 means of it, on the same extent.
    with rasterio.open(_s1hand(realdata)) as src:
        crs = rasterio.crs.CRS.from_epsg(32630)
        transform, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds, resolution=10
        )
        width, height = width // 2 * 2, height // 2 * 2
        ten = np.full((2, height, width), np.nan, 'float32')
        reproject(
            src.read(),
            ten,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=transform,
            dst_crs=crs,
            src_nodata=np.nan,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    blocks = ten.reshape(2, height // 2, 2, width // 2, 2)
    with np.errstate(all='ignore'):
        twenty = np.nanmean(blocks, (2, 4)).astype('float32')
    profile = {
        'driver': 'GTiff',
        'count': 2,
        'dtype': 'float32',
        'crs': crs,
        'nodata': np.nan,
    }
    versions = {
        'ten': (ten, transform),
        'twenty': (twenty, transform @ Affine.scale(2)),
    }
    for name, (data, t) in versions.items():
        with rasterio.open(
            tmp_path / f'{name}.tif',
            'w',
            width=data.shape[2],
            height=data.shape[1],
            transform=t,
            **profile,
        ) as dst:
            dst.write(data)
            dst.descriptions = ('VV', 'VH')
    options = PredictOptions(quiet=True)
    a = predict_scene(sar_model, tmp_path / 'ten.tif', tmp_path / 'a', options)
    b = predict_scene(sar_model, tmp_path / 'twenty.tif', tmp_path / 'b', options)
    assert not a['read']['resampled']
    assert b['read']['resampled']
    assert b['read']['native_pixel_size_m'] == [20.0, 20.0]
    assert a['grid'] == b['grid']  # the same cells on the ground
    ca, cb = _classes(tmp_path / 'a'), _classes(tmp_path / 'b')
    both = (ca != 255) & (cb != 255)
    assert both.sum() > 500
    assert len(np.unique(ca[both])) > 1
    assert (ca[both] == cb[both]).mean() >= RESOLUTION_AGREEMENT


def test_eurosat_tiles_store_b8a_last(realdata: Path) -> None:
    # The documented band order: B01..B12 then B8A. B10 (cirrus, 1375 nm) is near
    # zero over land; B8A (865 nm, near infrared) is bright over forest, unlike B09
    # (water vapour, 945 nm).
    tiles = sorted((realdata / 'eurosat_ms' / 'train' / 'Forest').glob('*.tif'))[:10]
    means = []
    for tile in tiles:
        with rasterio.open(tile) as src:
            assert src.count == 13
            assert not any(src.descriptions)
            means.append(src.read().reshape(13, -1).mean(1))
    b = dict(
        zip(tiny_classifier('ms').metadata.band_names, np.mean(means, 0), strict=True)
    )
    assert b['B10'] < 50 < b['B09']
    assert b['B8A'] > 2 * b['B09']
    assert b['B8A'] > b['B04'] * 4  # vegetation: NIR far above red


def test_segmenter_maps_the_sen1floods11_chip_per_pixel(
    tmp_path: Path,
    realdata: Path,
    sar_segmenter_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from geokd.export import load_exported

    from .test_segmenter import segment_tiles

    scene = _s1hand(realdata)
    out = tmp_path / 'map'
    argv = ['predict', '--modality', 'sar', '--model', str(sar_segmenter_dir),
            str(scene), '-o', str(out), '--polygons', '--probabilities', '--quiet']  # fmt: skip
    main(argv)
    summary = json.loads(OutputPaths(out).summary.read_text())
    assert summary['model']['kind'] == 'segmenter'
    assert summary['crs'] == 'EPSG:32630'  # read in UTM at the model's 10 m
    assert summary['grid']['cell_size_pixels'] == 1
    with rasterio.open(scene) as src, warped(src, read_grid(src, 10.0)) as vrt:
        reference, transform = vrt.read(), vrt.transform
    with rasterio.open(OutputPaths(out).probabilities) as src:
        assert src.transform.almost_equals(transform)
        assert src.shape == reference.shape[1:]
        probabilities = src.read()
    expected = segment_tiles(load_exported(sar_segmenter_dir), reference).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    cells = sum(c['cells'] for c in summary['classes'].values())
    assert cells == int(np.isfinite(reference).all(0).sum())
    assert OutputPaths(out).polygons.is_file()


def test_every_cell_of_the_sen1floods11_chip_holding_valid_pixels_gets_a_class(
    tmp_path: Path, realdata: Path
) -> None:
    # The chip is read in UTM at 10 m: 521 x 416 pixels, 9 x 7 cells of 64 px. The
    # last cell row holds 9 pixel rows and the last column 32 columns, beside the
    # nodata slivers of the reprojection: padded, their patches fell under
    # --min-valid and 15 of the 63 cells stayed nodata although they hold valid
    # pixels. Shifted inward, they are classified.
    from .test_scene_edges import occupied_cells

    scene = _s1hand(realdata)
    model = tiny_classifier('sar', patch_size=64)
    summary = predict_scene(model, scene, tmp_path / 's1', PredictOptions(quiet=True))
    with rasterio.open(scene) as src, warped(src, read_grid(src, 10.0)) as vrt:
        valid = np.isfinite(vrt.read()).all(0)
    assert valid.shape == (521, 416)
    occupied = occupied_cells(valid, 64)
    classes = _classes(tmp_path / 's1')
    assert classes.shape == occupied.shape == (9, 7)
    assert ((classes != 255) == occupied).all()
    assert summary['nodata_cells'] == int((~occupied).sum()) <= 1
