import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from geokd.datasets import OMBRIA
from geokd.datasets.ombria import CLASSES, patch_classes
from geokd.transforms import SensorNormalization

FIXTURE = Path(__file__).parents[1] / 'data' / 'ombria'
ARCHIVE = FIXTURE / 'OMBRIA-38a4903.zip'


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / 'ombria'
    for sensor in ('OmbriaS1', 'OmbriaS2'):
        shutil.copytree(FIXTURE / sensor, root / sensor)
    return root


def test_patch_classes_by_flooded_fraction() -> None:
    mask = np.zeros((20, 30), bool)
    mask[:10, 10:20] = True  # the middle patch: exactly 50 % flooded
    mask[10, 20:30] = True  # 10 % of the right patch in the top row
    mask[19, 0] = True  # 1 % of the bottom-left patch
    mask[10:20, 10:20] = True
    grid = patch_classes(mask, 10)
    assert grid.tolist() == [[0, 2, 0], [0, 2, 1]]
    exactly_five = np.zeros((20, 20), bool)
    exactly_five[0, :10] = exactly_five[1, :10] = False
    exactly_five[:5, 0] = True  # 5 of 100 pixels
    assert patch_classes(exactly_five, 10)[0, 0] == 1


def test_splits_sizes_and_labels() -> None:
    train, val, test = (OMBRIA(FIXTURE, split=s) for s in ('train', 'val', 'test'))
    # 18 training tiles, six per class: 10 % of each class (one tile) validates.
    assert (len(train), len(val), len(test)) == (15, 3, 3)
    assert sorted(val.targets) == [0, 1, 2]
    assert sorted(test.targets) == [0, 1, 2]
    assert not {t for t, _, _ in train.items} & {t for t, _, _ in val.items}
    sample = train[0]
    assert set(sample) == {'image_ms', 'image_sar', 'label'}
    assert sample['image_ms'].shape == (3, 64, 64)
    assert sample['image_sar'].shape == (1, 64, 64)
    assert sample['image_sar'].dtype == torch.float32
    assert train.targets == [int(train[i]['label']) for i in range(len(train))]
    assert OMBRIA.classes == CLASSES
    assert OMBRIA.gsd == 10.0
    assert OMBRIA.synthetic is False


def test_val_hold_out_follows_the_seed() -> None:
    held = {
        s: {t for t, _, _ in OMBRIA(FIXTURE, 'val', split_seed=s).items}
        for s in range(4)
    }
    assert len({frozenset(v) for v in held.values()}) > 1
    with pytest.raises(ValueError, match='leaves the val split empty'):
        OMBRIA(FIXTURE, split='val', val_fraction=0.01)


def test_sub_patches_are_crops_of_the_after_images() -> None:
    ds = OMBRIA(FIXTURE, split='test', patch_size=32)
    assert len(ds) == 12
    tile, r, c = ds.items[5]
    sample = ds[5]
    after = np.asarray(
        Image.open(FIXTURE / 'OmbriaS2' / 'test' / 'AFTER' / f'S2_after_{tile}.png')
    )
    crop = after[r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32].transpose(2, 0, 1)
    assert torch.equal(sample['image_ms'], torch.from_numpy(crop.astype(np.float32)))
    mask = np.asarray(
        Image.open(FIXTURE / 'OmbriaS1' / 'test' / 'MASK' / f'S1_mask_{tile}.png')
    )
    assert int(sample['label']) == patch_classes(mask > 0, 32)[r, c]
    with pytest.raises(ValueError, match='not a multiple of patch_size=48'):
        OMBRIA(FIXTURE, split='test', patch_size=48)


def test_before_images_are_extra_channels() -> None:
    ds = OMBRIA(FIXTURE, split='test', before=True)
    sample = ds[0]
    assert sample['image_sar'].shape == (2, 64, 64)
    assert sample['image_ms'].shape == (6, 64, 64)
    assert ds.bands == {
        'ms': [
            'png_r',
            'png_g',
            'png_b',
            'png_r_before',
            'png_g_before',
            'png_b_before',
        ],
        'sar': ['VV', 'VV_before'],
    }
    plain = OMBRIA(FIXTURE, split='test')[0]
    assert torch.equal(sample['image_sar'][:1], plain['image_sar'])


def test_one_sensor_and_unknown_sensor() -> None:
    sample = OMBRIA(FIXTURE, split='test', modalities=['sar'])[0]
    assert set(sample) == {'image_sar', 'label'}
    with pytest.raises(ValueError, match='modalities must be among'):
        OMBRIA(FIXTURE, modalities=['rgb'])


def test_missing_file_names_its_folder(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / 'OmbriaS2' / 'test' / 'AFTER' / 'S2_after_0020.png').unlink()
    with pytest.raises(
        ValueError, match=r'OmbriaS2/test/AFTER: 1 of 3 tiles missing \(0020\)'
    ):
        OMBRIA(root, split='test')
    shutil.rmtree(root / 'OmbriaS1' / 'test' / 'BEFORE')
    OMBRIA(root, split='test', modalities=['sar'])  # BEFORE is only read on request
    with pytest.raises(ValueError, match='BEFORE: 3 of 3 tiles missing'):
        OMBRIA(root, split='test', modalities=['sar'], before=True)


def test_absent_data_is_a_one_line_error_saying_where(tmp_path: Path) -> None:
    root = tmp_path / 'data' / 'ombria'
    with pytest.raises(FileNotFoundError) as info:
        OMBRIA(root)
    message = str(info.value)
    assert '\n' not in message
    assert f'OMBRIA not found under {root}: expected OmbriaS1 and OmbriaS2' in message
    assert 'github.com/geodrak/OMBRIA' in message
    assert 'download=True' in message


def test_download_extracts_the_repository_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def serve(url: str, root: str, filename: str) -> None:
        assert url == OMBRIA.url
        os.makedirs(root, exist_ok=True)
        shutil.copy(ARCHIVE, os.path.join(root, filename))

    monkeypatch.setattr('geokd.datasets.ombria.download_url', serve)
    root = tmp_path / 'ombria'
    ds = OMBRIA(root, split='test', download=True)
    assert len(ds) == 3
    assert sorted(os.listdir(root)) == ['OMBRIA-38a4903.zip', 'OmbriaS1', 'OmbriaS2']
    # An archive already there is extracted without downloading, only what is missing.
    shutil.rmtree(root / 'OmbriaS2')
    monkeypatch.setattr('geokd.datasets.ombria.download_url', None)
    assert len(OMBRIA(root, split='test')) == 3
    assert not (root / 'OmbriaS1' / 'OmbriaS1').exists()
    assert sorted(os.listdir(root)) == ['OMBRIA-38a4903.zip', 'OmbriaS1', 'OmbriaS2']


def test_failed_download_says_where_to_put_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def partial(url: str, root: str, filename: str) -> None:
        os.makedirs(root, exist_ok=True)
        Path(root, filename).write_bytes(b'PK')
        raise OSError('Network is unreachable')

    monkeypatch.setattr('geokd.datasets.ombria.download_url', partial)
    root = tmp_path / 'ombria'
    with pytest.raises(FileNotFoundError, match=r'failed: Network is unreachable'):
        OMBRIA(root, download=True)
    assert not (root / OMBRIA.filename).exists()
    (root / OMBRIA.filename).write_bytes(b'not a zip')
    with pytest.raises(FileNotFoundError, match=r'cannot be extracted .* retry'):
        OMBRIA(root)


def test_plot() -> None:
    ds = OMBRIA(FIXTURE, split='test', before=True)
    sample = ds[2]
    sample['prediction_sar'] = torch.tensor(1)
    fig = ds.plot(sample, suptitle='OMBRIA')
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith('ms (RGB)\nLabel: flooded')
    assert titles[1] == 'sar (VV)\nLabel: flooded\nPrediction: partly flooded'
    plt.close(fig)


def test_real_ombria(realdata: Path) -> None:
    root = realdata / 'ombria'
    sizes = {}
    for split in ('train', 'val', 'test'):
        ds = OMBRIA(root, split=split)
        sizes[split] = (
            len({t for t, _, _ in ds.items}),
            np.bincount(ds.targets).tolist(),
        )
    # 624 training tiles of 16 sub-patches, 62 of them held out; 70 test tiles.
    assert sizes == {
        'train': (562, [3036, 3181, 2775]),
        'val': (62, [361, 341, 290]),
        'test': (70, [402, 366, 352]),
    }
    sample = ds[0]
    assert sample['image_ms'].shape == (3, 64, 64)
    assert sample['image_sar'].shape == (1, 64, 64)


def test_real_ombria_masks_agree_and_sar_is_stretched_per_tile(realdata: Path) -> None:
    # The facts the dataset's normalisation relies on: every Sentinel-1 tile is
    # stretched to exactly 0..255, and both sensors share one mask (every 10th checked).
    root = realdata / 'ombria'
    tiles = sorted((root / 'OmbriaS1').glob('*/*/S1_[ab]*.png'))
    assert len(tiles) == 2 * 694
    for path in tiles:
        with Image.open(path) as image:
            assert image.getextrema() == (0, 255), path
    for mask in sorted((root / 'OmbriaS1').glob('*/MASK/*.png'))[::10]:
        twin = Path(str(mask).replace('OmbriaS1', 'OmbriaS2').replace('S1_', 'S2_'))
        assert np.array_equal(
            np.asarray(Image.open(mask)), np.asarray(Image.open(twin))
        )


def test_per_patch_normalisation_reads_decibels_like_ombria(realdata: Path) -> None:
    # A real Sentinel-1 VV chip in dB, stretched to 8 bits the way OMBRIA's tiles are,
    # gives the model (almost) the same input as the dB values themselves.
    with rasterio.open(realdata / 'sen1floods11' / 'Spain_7370579_S1Hand.tif') as src:
        vv = src.read(1)[:256, :256]
    assert np.isfinite(vv).all()
    stretched = np.round(255 * (vv - vv.min()) / (vv.max() - vv.min()))
    patches = [
        torch.from_numpy(x.astype(np.float32))
        .reshape(4, 64, 4, 64)
        .permute(0, 2, 1, 3)
        .reshape(16, 1, 64, 64)
        for x in (vv, stretched)
    ]
    norm = SensorNormalization('per_patch', [0.0], [1.0])
    db, png = norm(patches[0]), norm(patches[1])
    assert (db - png).abs().mean() < 0.02
    standard = SensorNormalization.estimate(patches[1])  # statistics of 8-bit values
    assert (standard(patches[0]) - standard(patches[1])).abs().mean() > 5


def test_leave_out_block_tests_on_a_contiguous_range_of_training_tiles() -> None:
    def tiles(split: str, block: int) -> set[str]:
        ds = OMBRIA(
            FIXTURE, split, leave_out_block=block, num_blocks=3, val_fraction=0.25
        )
        return {t for t, _, _ in ds.items}

    # 18 training tiles, numbered 0001..0018: three ranges of six.
    for block in range(3):
        test = tiles('test', block)
        assert test == {f'{i:04d}' for i in range(6 * block + 1, 6 * block + 7)}
        train, val = tiles('train', block), tiles('val', block)
        assert val
        assert not train & val
        assert not (train | val) & test
        assert len(train | val | test) == 18
    # The published test tiles (0019..0021) are not used.
    assert not any(t >= '0019' for b in range(3) for t in tiles('test', b))
    with pytest.raises(ValueError, match=r'leave_out_block must be in 0\.\.2'):
        tiles('test', 3)


def test_val_block_validates_on_a_contiguous_range_of_other_tiles() -> None:
    def tiles(split: str, **kwargs: int) -> set[str]:
        ds = OMBRIA(FIXTURE, split, num_blocks=3, **kwargs)
        return {t for t, _, _ in ds.items}

    # 18 training tiles, numbered 0001..0018: three ranges of six.
    val = tiles('val', val_block=1, leave_out_block=0)
    assert val == {f'{i:04d}' for i in range(7, 13)}
    assert tiles('train', val_block=1, leave_out_block=0) == {
        f'{i:04d}' for i in range(13, 19)
    }
    assert tiles('test', val_block=1, leave_out_block=0) == {
        f'{i:04d}' for i in range(1, 7)
    }
    # Without leave_out_block, the published test split and the other ranges train.
    assert tiles('test', val_block=2) == {'0019', '0020', '0021'}
    train = tiles('train', val_block=2)
    assert train == {f'{i:04d}' for i in range(1, 13)}
    # The seed of the stratified hold-out no longer moves the split.
    assert tiles('val', val_block=2, split_seed=1) == tiles('val', val_block=2)


def test_val_block_may_hold_several_ranges() -> None:
    def tiles(split: str, **kwargs: int) -> set[str]:
        ds = OMBRIA(FIXTURE, split, num_blocks=3, val_block=[2, 1], **kwargs)
        return {t for t, _, _ in ds.items}

    assert tiles('val') == {f'{i:04d}' for i in range(7, 19)}
    assert tiles('train') == {f'{i:04d}' for i in range(1, 7)}
    assert tiles('test') == {'0019', '0020', '0021'}
    with pytest.raises(ValueError, match='hold out all 3 ranges: none trains'):
        tiles('val', leave_out_block=0)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'val_block': 3}, r'val_block must be in 0\.\.2, got 3'),
        ({'val_block': -1}, r'val_block must be in 0\.\.2, got -1'),
        ({'val_block': 1, 'leave_out_block': 1}, 'both hold range 1: pick others'),
    ],
)
def test_val_block_out_of_range_or_on_the_test_range_is_refused(
    kwargs: dict[str, int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        OMBRIA(FIXTURE, 'val', num_blocks=3, **kwargs)
