import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from geokd.datasets import PairedFolder
from geokd.errors import DataError

FIXTURE = Path(__file__).parents[1] / 'data' / 'paired_folder'
SUN = {'rgb': 'rgb', 'depth': 'depth'}
TRISTAR = {'depth': 'depth', 'thermal': 'thermal'}


def test_class_subfolders_and_stratified_split() -> None:
    splits = {
        s: PairedFolder(FIXTURE / 'sun_rgbd', SUN, split=s, size=16)  # type: ignore[arg-type]
        for s in ('train', 'val', 'test')
    }
    assert splits['train'].classes == ['bedroom', 'kitchen', 'office']
    assert {s: len(d) for s, d in splits.items()} == {'train': 21, 'val': 3, 'test': 6}
    assert Counter(splits['train'].targets) == {0: 7, 1: 7, 2: 7}
    keys = [set(d.keys) for d in splits.values()]
    assert len(set.union(*keys)) == sum(len(k) for k in keys) == 30
    sample = splits['train'][0]
    assert sample['image_rgb'].shape == (3, 16, 16)
    assert sample['image_depth'].shape == (1, 16, 16)
    # 16-bit depth in millimetres keeps its values (class c: 1000 (c + 1) .. +300).
    c = int(sample['label'])
    assert 1000 * (c + 1) - 1 <= sample['image_depth'].mean() <= 1000 * (c + 1) + 301
    other = PairedFolder(FIXTURE / 'sun_rgbd', SUN, split='train', split_seed=1)
    assert other.keys != splits['train'].keys


def test_pairs_by_name_across_extensions() -> None:
    ds = PairedFolder(FIXTURE / 'sun_rgbd', SUN, split='val')
    for i, key in enumerate(ds.keys):
        assert ds.paths['rgb'][i].endswith(key + '.jpg')
        assert ds.paths['depth'][i].endswith(key + '.png')
        with Image.open(ds.paths['depth'][i]) as img:
            depth = torch.from_numpy(np.asarray(img).astype(np.float32))
        assert torch.equal(ds[i]['image_depth'][0], depth)


def test_manifest_with_splits_and_three_modalities() -> None:
    folders = {'depth': 'depth', 'thermal': 'thermal', 'rgb': 'rgb'}
    root = FIXTURE / 'tristar'
    ds = PairedFolder(root, folders, split='train', manifest='manifest.csv')
    with open(root / 'manifest.csv') as f:
        rows = [r for r in csv.DictReader(f) if r['split'] == 'train']
    assert ds.keys == sorted(r['file'] for r in rows)
    sample = ds[0]
    assert sample['image_thermal'].shape == (1, 16, 16)
    assert sample['image_thermal'].max() <= 255
    assert sample['image_rgb'].shape == (3, 16, 16)
    assert ds.classes[int(sample['label'])] == ds.keys[0].split('_')[0]


def test_missing_partner(tmp_path: Path) -> None:
    root = tmp_path / 'sun'
    shutil.copytree(FIXTURE / 'sun_rgbd', root)
    lonely = next((root / 'depth' / 'office').glob('*.png'))
    lonely.unlink()
    with pytest.raises(ValueError, match=f'office/{lonely.stem}'):
        PairedFolder(root, SUN)
    ds = PairedFolder(root, SUN, drop_unpaired=True, fractions=(1.0, 0.0, 0.0))
    assert len(ds) == 29


def test_bad_manifest(tmp_path: Path) -> None:
    root = tmp_path / 'tristar'
    shutil.copytree(FIXTURE / 'tristar', root)
    (root / 'bad.csv').write_text('file,label\nnot_there,walking\n')
    with pytest.raises(ValueError, match='not found in every folder'):
        PairedFolder(root, TRISTAR, manifest='bad.csv')
    (root / 'bad.csv').write_text('name,class\nwalking_00,walking\n')
    with pytest.raises(ValueError, match='file,label'):
        PairedFolder(root, TRISTAR, manifest='bad.csv')
    with pytest.raises(ValueError, match='does not exist'):
        PairedFolder(root, {'depth': 'depth', 'x': 'nowhere'}, manifest='manifest.csv')
    with pytest.raises(ValueError, match='not in classes'):
        PairedFolder(root, TRISTAR, manifest='manifest.csv', classes=['walking'])


def test_geotiff_nodata_and_channels(tmp_path: Path) -> None:
    for folder, bands in (('ms', 4), ('sar', 2)):
        for c in ('a', 'b'):
            for i in range(5):
                path = tmp_path / folder / c / f'{i}.tif'
                path.parent.mkdir(parents=True, exist_ok=True)
                data = np.full((bands, 8, 8), 5, dtype=np.int16)
                if (folder, c, i) == ('ms', 'a', 0):
                    data[:, 0, 0] = -1
                with rasterio.open(
                    path,
                    'w',
                    driver='GTiff',
                    width=8,
                    height=8,
                    count=bands,
                    dtype='int16',
                    nodata=-1,
                ) as dst:
                    dst.write(data)
    ds = PairedFolder(tmp_path, {'ms': 'ms', 'sar': 'sar'}, fractions=(1, 0, 0))
    index = ds.keys.index('a/0')
    assert ds[ds.keys.index('a/1')]['image_ms'].shape == (4, 8, 8)
    with pytest.raises(ValueError, match=r'a/0.tif: 4 NaN, inf or nodata'):
        ds[index]
    ds = PairedFolder(
        tmp_path, {'ms': 'ms', 'sar': 'sar'}, fractions=(1, 0, 0), invalid='fill'
    )
    assert ds[index]['image_ms'][:, 0, 0].tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match='expected 3 channels'):
        PairedFolder(
            tmp_path,
            {'ms': 'ms', 'sar': 'sar'},
            fractions=(1, 0, 0),
            channels={'ms': 3},
        )[0]


def test_unreadable_file(tmp_path: Path) -> None:
    for folder in ('a', 'b'):
        (tmp_path / folder / 'x').mkdir(parents=True)
        (tmp_path / folder / 'x' / '0.png').write_bytes(b'not a png')
    ds = PairedFolder(tmp_path, {'a': 'a', 'b': 'b'}, fractions=(1, 0, 0))
    with pytest.raises(ValueError, match=r'0\.png: cannot read image'):
        ds[0]


def _manifest(tmp_path: Path, files: list[str]) -> str:
    path = tmp_path / 'manifest.csv'
    labels = ['even', 'odd']
    path.write_text(
        'file,label\n' + ''.join(f'{f},{labels[i % 2]}\n' for i, f in enumerate(files))
    )
    return str(path)


def test_real_rgbd_frames(tmp_path: Path, realdata: Path) -> None:
    root = realdata / 'open3d_rgbd'
    files = sorted(p.stem for p in (root / 'depth').glob('*.png'))
    manifest = _manifest(tmp_path, files)
    ds = PairedFolder(
        root,
        {'rgb': 'color', 'depth': 'depth'},
        manifest=manifest,
        fractions=(1, 0, 0),
        size=32,
    )
    assert len(ds) == 5
    sample = ds[0]
    assert sample['image_rgb'].shape == (3, 32, 32)
    assert sample['image_depth'].shape == (1, 32, 32)
    # 16-bit millimetres: beyond the 8-bit range.
    raw = PairedFolder(
        root, {'rgb': 'color', 'depth': 'depth'}, manifest=manifest, fractions=(1, 0, 0)
    )[0]
    assert raw['image_depth'].shape == (1, 480, 640)
    assert raw['image_depth'].max() > 255
    assert raw['image_rgb'].max() <= 255


def test_real_visible_thermal_pairs(tmp_path: Path, realdata: Path) -> None:
    root = realdata / 'roadscene'
    files = sorted(p.stem for p in (root / 'thermal').glob('*.jpg'))
    manifest = _manifest(tmp_path, files)
    ds = PairedFolder(
        root, {'rgb': 'visible', 'thermal': 'thermal'}, manifest=manifest, size=32
    )
    assert len(ds) == 16
    sample = ds[0]
    assert sample['image_rgb'].shape == (3, 32, 32)
    assert sample['image_thermal'].shape == (1, 32, 32)
    assert 0 <= sample['image_thermal'].min() <= sample['image_thermal'].max() <= 255


def test_an_image_saved_with_other_channels_is_named(tmp_path: Path) -> None:
    # One RGB image saved as greyscale: it would fail to batch deep inside torch.
    root = tmp_path / 'sun'
    shutil.copytree(FIXTURE / 'sun_rgbd', root)
    grey = root / 'rgb' / 'office' / 'rgb_grey.jpg'
    Image.open(next((root / 'rgb' / 'office').glob('*.jpg'))).convert('L').save(grey)
    shutil.copy(next((root / 'depth' / 'office').glob('*.png')),
                root / 'depth' / 'office' / 'rgb_grey.png')  # fmt: skip
    datasets = [PairedFolder(root, SUN, split=s) for s in ('train', 'val', 'test')]
    split = next(d for d in datasets if 'office/rgb_grey' in d.keys)
    with pytest.raises(DataError, match=rf'^{grey}: 1 channels, but .* has 3:'):
        split[split.keys.index('office/rgb_grey')]


def test_a_class_missing_from_splits_is_named_with_its_counts(tmp_path: Path) -> None:
    root = tmp_path / 'sun'
    shutil.copytree(FIXTURE / 'sun_rgbd', root)
    stem = sorted((root / 'rgb' / 'office').iterdir())[0].stem
    for modality, ext in (('rgb', 'jpg'), ('depth', 'png')):
        (root / modality / 'garage').mkdir()
        shutil.copy(root / modality / 'office' / f'{stem}.{ext}',
                    root / modality / 'garage')  # fmt: skip
    with pytest.warns(UserWarning, match=r"class 'garage' has train 1, val 0, test 0 "
                      r'samples: it cannot be validated or tested'):  # fmt: skip
        PairedFolder(root, SUN, split='train')
    classes = ['bedroom', 'garage', 'kitchen', 'office', 'pool']
    with pytest.raises(DataError, match=r"class 'pool' has no samples \(train 0, "):
        PairedFolder(root, SUN, split='val', classes=classes)
