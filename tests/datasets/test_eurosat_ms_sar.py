import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from torchgeo.datasets import CopernicusBenchEuroSATS1, CopernicusBenchEuroSATS2

from geokd.datasets import EuroSATMSSAR
from geokd.datasets.eurosat_ms_sar import CLASSES

FIXTURE = Path(__file__).parents[1] / 'data' / 'eurosat_ms_sar'


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / 'eurosat'
    for half in ('eurosat_s2', 'eurosat_s1'):
        shutil.copytree(FIXTURE / half, root / half)
    return root


def test_pairs_and_shapes() -> None:
    ds = EuroSATMSSAR(FIXTURE, split='train')
    assert len(ds) == 20
    sample = ds[0]
    assert sample['image_ms'].shape == (13, 16, 16)
    assert sample['image_sar'].shape == (2, 16, 16)
    assert sample['image_ms'].dtype == torch.float32
    assert len(EuroSATMSSAR(FIXTURE, split='val')) == 10


def test_one_class_order_for_both_halves() -> None:
    # Copernicus-Bench lists the classes in another order; geokd's is alphabetical.
    assert list(CLASSES) == sorted(CopernicusBenchEuroSATS2.classes)
    assert set(CopernicusBenchEuroSATS1.classes) == set(CLASSES)
    ds = EuroSATMSSAR(FIXTURE, split='train')
    for i in range(len(ds)):
        sample = ds[i]
        name = ds.class_name(i)
        assert int(sample['label']) == CLASSES.index(name)
        # The fixture encodes the Copernicus-Bench class index c in the S2 values.
        c = CopernicusBenchEuroSATS2.classes.index(name)
        assert 1000 * (c + 1) <= sample['image_ms'].min() < 1000 * (c + 1) + 500
    assert ds.targets == [int(ds[i]['label']) for i in range(len(ds))]


def test_band_selection() -> None:
    ds = EuroSATMSSAR(
        FIXTURE, split='test', bands={'ms': ['B04', 'B03', 'B02'], 'sar': ['VH']}
    )
    full = EuroSATMSSAR(FIXTURE, split='test')
    sample, ref = ds[0], full[0]
    assert torch.equal(sample['image_ms'], ref['image_ms'][[3, 2, 1]])
    assert torch.equal(sample['image_sar'], ref['image_sar'][[1]])
    with pytest.raises(ValueError, match='unknown ms bands'):
        EuroSATMSSAR(FIXTURE, bands={'ms': ['B99']})


def test_missing_partner_is_an_error_naming_the_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    listing = root / 'eurosat_s1' / 'eurosat-train.txt'
    lines = listing.read_text().splitlines()
    listing.write_text('\n'.join(lines[1:]) + '\n')
    with pytest.raises(ValueError, match=lines[0]):
        EuroSATMSSAR(root, split='train')
    ds = EuroSATMSSAR(root, split='train', drop_unpaired=True)
    assert len(ds) == len(lines) - 1


def test_download_delegates_to_torchgeo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def copy(url: str, root: str, *args: object, **kwargs: object) -> None:
        os.makedirs(root, exist_ok=True)
        shutil.copy(url, root)

    monkeypatch.setattr('torchgeo.datasets.utils.download_url', copy)
    for cls, zipfile in (
        (CopernicusBenchEuroSATS2, 'eurosat_s2.zip'),
        (CopernicusBenchEuroSATS1, 'eurosat_s1.zip'),
    ):
        monkeypatch.setattr(cls, 'url', str(FIXTURE / zipfile))
    root = tmp_path / 'download'
    ds = EuroSATMSSAR(root, split='val', download=True)
    assert len(ds) == 10
    assert (root / 'eurosat_s1' / 'eurosat-val.txt').is_file()
    with pytest.raises(Exception, match='not found'):
        EuroSATMSSAR(tmp_path / 'empty', split='val')


def _poison(root: Path, value: float) -> str:
    ds = EuroSATMSSAR(root, split='train')
    path = ds._path(ds.sar, ds.pairs[0][1])
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    data[0, 2, 3] = value
    data[1, 0, 0] = np.inf
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
    return path


def test_nan_is_an_error_naming_the_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = _poison(root, np.nan)
    ds = EuroSATMSSAR(root, split='train')
    with pytest.raises(ValueError, match=f'{os.path.basename(path)}: 2 NaN'):
        ds[0]


def test_nan_filled_on_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _copy(tmp_path)
    _poison(root, np.nan)
    ds = EuroSATMSSAR(root, split='train', invalid='fill', fill_value=-30.0)
    sar = ds[0]['image_sar']
    assert torch.isfinite(sar).all()
    assert sar[0, 2, 3] == -30
    assert sar[1, 0, 0] == -30
    assert 'replaced 2 NaN' in caplog.text


def test_wrong_band_count(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    ds = EuroSATMSSAR(root, split='train')
    path = ds._path(ds.ms, ds.pairs[0][0])
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile['count'] = 12
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data[:12])
    with pytest.raises(ValueError, match='12 bands, expected 13'):
        ds[0]


def _copernicus_layout(root: Path, splits: dict[str, list[Path]]) -> None:
    """Genuine EuroSAT-MS tiles in the Copernicus-Bench layout EuroSATMSSAR reads.

    No EuroSAT-SAR tile is available offline: each gets a made-up, constant S1 partner
    (-12 dB), which the tests below never check.
    """
    for half in ('eurosat_s2', 'eurosat_s1'):
        (root / half).mkdir(parents=True, exist_ok=True)
        for split in ('train', 'val', 'test'):
            names = ''.join(f'{t.stem}.jpg\n' for t in splits.get(split, []))
            (root / half / f'eurosat-{split}.txt').write_text(names)
    tiles = sorted({t for tiles in splits.values() for t in tiles})
    partner = root / 'partner.tif'
    with rasterio.open(tiles[0]) as src:
        profile = src.profile | {'count': 2, 'dtype': 'float32'}
    with rasterio.open(partner, 'w', **profile) as dst:
        dst.write(np.full((2, 64, 64), -12, dtype=np.float32))
    for tile in tiles:
        cls = tile.stem.split('_')[0]
        for half, target in (('eurosat_s2', tile), ('eurosat_s1', partner)):
            dest = root / half / 'all_imgs' / cls
            dest.mkdir(parents=True, exist_ok=True)
            (dest / tile.name).symlink_to(target)


def test_genuine_eurosat_tiles_through_the_s2_reader(
    tmp_path: Path, realdata: Path
) -> None:
    tiles = sorted((realdata / 'eotdl' / 'EuroSAT-small').glob('*.tif'))
    _copernicus_layout(tmp_path, {s: tiles for s in ('train', 'val', 'test')})
    ds = EuroSATMSSAR(tmp_path, split='train')
    assert len(ds) == len(tiles)
    for i in range(len(ds)):
        sample = ds[i]
        name = ds.class_name(i)
        tile = next(t for t in tiles if t.stem == str(ds.ms.files[ds.pairs[i][0]])[:-4])
        with rasterio.open(tile) as src:
            expected = torch.from_numpy(src.read().astype(np.float32))
        assert torch.equal(sample['image_ms'], expected)
        assert int(sample['label']) == CLASSES.index(name)
        assert name in ('AnnualCrop', 'Forest')
    # Genuine reflectances: NIR (B08) above red (B04) over forest.
    forest = [ds[i]['image_ms'] for i in range(len(ds)) if ds.class_name(i) == 'Forest']
    bands = list(ds.all_band_names['ms'])
    for image in forest:
        assert image[bands.index('B08')].mean() > image[bands.index('B04')].mean()


def test_band_order_of_270_genuine_eurosat_tiles(
    tmp_path: Path, realdata: Path
) -> None:
    # The files name no band; the values must say that geokd's names fit them: EuroSAT
    # order, B8A last (a standard L1C stack has it after B08).
    folder = realdata / 'eurosat_ms'
    splits = {s: sorted((folder / s).glob('*/*.tif')) for s in ('train', 'test')}
    _copernicus_layout(tmp_path, splits)
    train, test = (EuroSATMSSAR(tmp_path, split=s) for s in ('train', 'test'))
    assert (len(train), len(test)) == (216, 54)
    assert sorted(set(train.targets)) == list(range(10))
    for i in range(0, len(test), 7):
        assert test.class_name(i) == CLASSES[int(test[i]['label'])]
    bands = train.bands['ms']
    assert bands == list(CopernicusBenchEuroSATS2.all_bands)
    every_third = range(0, len(train), 3)
    pixels = torch.cat([train[i]['image_ms'].flatten(1) for i in every_third], 1)
    means = dict(zip(bands, pixels.mean(1).tolist(), strict=True))
    corr = torch.corrcoef(pixels)[bands.index('B8A')]
    # B10 (cirrus, 1375 nm) is nearly black; B8A (865 nm) follows B07 and B08.
    assert min(means, key=means.__getitem__) == 'B10'
    assert means['B10'] < 50 < means['B09']
    assert corr[bands.index('B07')] > 0.95
    assert corr[bands.index('B08')] > 0.95
    assert means['B8A'] > 2 * means['B09']
    # Read in L1C order instead, the 9th band would be B8A: it is the water-vapour band.
    assert corr[bands.index('B09')] < 0.9
    picked = EuroSATMSSAR(tmp_path, split='test', bands={'ms': ['B04', 'B08', 'B8A']})
    assert torch.equal(picked[0]['image_ms'], test[0]['image_ms'][[3, 7, 12]])
