"""Tests of the MMFlood reader (fixture: tests/data/mmflood/data.py)."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import pytest
import torch
from torchgeo.datasets import MMFlood as TorchGeoMMFlood

from geokd.datasets import MMFlood
from geokd.datasets.mmflood import patch_offsets, tile_windows

FIXTURE = Path(__file__).parents[1] / 'data' / 'mmflood'
#: The fixture's tiles are 40x48 pixels: 2x2 patches of 32 each.
P = 32


@pytest.mark.parametrize(
    ('length', 'size', 'offsets'),
    [
        (31, 32, []),
        (32, 32, [0]),
        (40, 32, [0, 8]),
        (64, 32, [0, 32]),
        (100, 32, [0, 23, 45, 68]),
    ],
)
def test_patch_offsets_cover_the_tile_and_stay_inside(
    length: int, size: int, offsets: list[int]
) -> None:
    assert patch_offsets(length, size) == offsets


def test_tile_windows_run_row_by_row_from_the_top_left() -> None:
    windows = tile_windows((10.0, 44.992, 10.0096, 45.0), (0.0002, 0.0002), P)
    assert len(windows) == 4
    xmin, xmax, ymin, ymax = windows[0]
    assert (xmin, ymax) == (10.0, 45.0)
    assert xmax == pytest.approx(10.0064)
    assert ymin == pytest.approx(44.9936)
    # The last patch ends at the tile's bottom-right corner.
    assert windows[-1][1] == pytest.approx(10.0096)
    assert windows[-1][2] == pytest.approx(44.992)


@pytest.mark.parametrize(
    ('split', 'modalities', 'n'),
    [
        ('train', ['sar', 'dem'], 12),
        ('train', ['sar', 'dem', 'hydro'], 8),  # EMSR002 has no hydrography
        ('val', ['sar', 'dem'], 4),
        ('test', ['sar'], 4),
    ],
)
def test_published_splits(split: str, modalities: list[str], n: int) -> None:
    dataset = MMFlood(FIXTURE, split=split, modalities=modalities, patch_size=P)  # type: ignore[arg-type]
    assert len(dataset) == n


def test_sample_bands_mask_and_nodata() -> None:
    dataset = MMFlood(FIXTURE, modalities=['sar', 'dem', 'hydro'], patch_size=P)
    assert dataset.gsd == pytest.approx(0.0002 * 111_319.49)
    sample = dataset[0]  # top-left patch of EMSR001-0-0
    assert list(sample) == ['image_sar', 'image_dem', 'image_hydro', 'mask']
    assert sample['image_sar'].shape == (2, P, P)
    assert sample['image_dem'].shape == sample['image_hydro'].shape == (1, P, P)
    mask = sample['mask']
    assert mask.dtype == torch.int64
    # No Sentinel-1 data in the top two rows: ignored, and 0 in every image.
    assert (mask[:2] == -1).all()
    for m in ('sar', 'dem', 'hydro'):
        assert (sample[f'image_{m}'][:, :2] == 0).all()
    # The left third of the tile (16 columns) is flooded, dark in VV.
    assert (mask[2:, :16] == 1).all()
    assert (mask[2:, 16:] == 0).all()
    vv = sample['image_sar'][0]
    assert vv[mask == 1].mean() < vv[mask == 0].mean() / 5
    assert (sample['image_hydro'][0, 2:, 8] == 1).all()
    assert sample['image_dem'][0, 2:, -1].mean() > sample['image_dem'][0, 2:, 0].mean()


def test_modalities_without_sar_keep_its_nodata() -> None:
    sample = MMFlood(FIXTURE, modalities=['dem'], patch_size=P)[0]
    assert list(sample) == ['image_dem', 'mask']
    assert (sample['mask'][:2] == -1).all()


def test_transforms_are_applied() -> None:
    def flip(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.flip(-2) for k, v in sample.items()}

    sample = MMFlood(FIXTURE, patch_size=P, transforms=flip)[0]
    assert (sample['mask'][-2:] == -1).all()


def test_bad_inputs_fail_clearly() -> None:
    with pytest.raises(ValueError, match='split'):
        MMFlood(FIXTURE, split='valid')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='modalities'):
        MMFlood(FIXTURE, modalities=['ms'])
    with pytest.raises(ValueError, match='patch_size'):
        MMFlood(FIXTURE, patch_size=0)
    with pytest.raises(ValueError, match=r'at least 64x64 pixels'):
        MMFlood(FIXTURE, patch_size=64)


def test_a_split_without_tiles_is_named(tmp_path: Path) -> None:
    root = tmp_path / 'mmflood'
    shutil.copytree(FIXTURE / 'activations', root / 'activations')
    shutil.copy(FIXTURE / 'activations.json', root / 'activations.json')
    shutil.rmtree(root / 'activations' / 'EMSR004-0')
    with pytest.raises(FileNotFoundError, match="has no tile of split 'test'"):
        MMFlood(root, split='test', patch_size=P)


def test_absent_data_is_a_one_line_error_saying_where(tmp_path: Path) -> None:
    root = tmp_path / 'data' / 'mmflood'
    with pytest.raises(FileNotFoundError) as info:
        MMFlood(root)
    message = str(info.value)
    assert '\n' not in message
    assert f'MMFlood not found under {root}: expected activations/' in message
    assert 'huggingface.co/datasets/links-ads/mmflood' in message
    assert 'download=True' in message


def _serve(requested: list[str]) -> Callable[[str, str, str, str | None], None]:
    """A download_url that copies the fixture's file, as torchgeo's real path asks."""

    def serve(url: str, root: str, filename: str, md5: str | None) -> None:
        assert url == TorchGeoMMFlood.url + filename
        assert md5 == TorchGeoMMFlood._md5[filename]  # checksums are on by default
        requested.append(filename)
        os.makedirs(root, exist_ok=True)
        shutil.copy(FIXTURE / filename, os.path.join(root, filename))

    return serve


def test_download_joins_and_extracts_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requested: list[str] = []
    monkeypatch.setattr('torchgeo.datasets.mmflood.download_url', _serve(requested))
    root = tmp_path / 'mmflood'
    dataset = MMFlood(root, patch_size=P, download=True)
    parts = [f'activations.tar.{i:03}.gz.part' for i in range(11)]
    assert requested == [*parts, 'activations.json']
    assert len(dataset) == 12
    assert torch.equal(dataset[0]['mask'], MMFlood(FIXTURE, patch_size=P)[0]['mask'])
    assert (root / 'activations' / 'EMSR004-0' / 's1_raw').is_dir()
    # Present data is read without downloading again.
    requested.clear()
    assert len(MMFlood(root, split='test', patch_size=P, download=True)) == 4
    assert requested == []
    capsys.readouterr()


def test_failed_download_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(url: str, root: str, filename: str, md5: str | None) -> None:
        raise OSError('Network is unreachable')

    monkeypatch.setattr('torchgeo.datasets.mmflood.download_url', unreachable)
    with pytest.raises(FileNotFoundError) as info:
        MMFlood(tmp_path, download=True)
    message = str(info.value)
    assert '\n' not in message
    assert 'failed: Network is unreachable' in message


def test_plot_shows_every_sensor_the_mask_and_a_prediction() -> None:
    dataset = MMFlood(FIXTURE, modalities=['sar', 'dem', 'hydro'], patch_size=P)
    sample = dataset[0]
    fig = dataset.plot(
        sample | {'prediction': sample['mask'].clamp(min=0)}, suptitle='x'
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ['VV (dB)', 'dem', 'hydro', 'mask', 'prediction']
    assert fig._suptitle.get_text() == 'x'  # type: ignore[union-attr]
    plt.close(fig)
    fig = MMFlood(FIXTURE, modalities=['dem'], patch_size=P).plot(
        {'image_dem': sample['image_dem']}, show_titles=False
    )
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == ''
    plt.close(fig)
