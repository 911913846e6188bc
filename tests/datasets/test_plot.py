import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from geokd.datasets import EuroSATMSSAR, PairedFolder, So2SatMSSAR, SyntheticMSSAR
from geokd.datasets.plot import display_image, plot_sample

DATA = Path(__file__).parents[1] / 'data'


def _titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


DATASETS: dict[str, tuple[Callable[[], Any], list[str]]] = {
    'synthetic': (
        lambda: SyntheticMSSAR(split='val', samples_per_class=10, size=8),
        ['ms', 'sar'],
    ),
    'eurosat': (
        lambda: EuroSATMSSAR(DATA / 'eurosat_ms_sar', split='val'),
        ['ms', 'sar'],
    ),
    'so2sat': (lambda: So2SatMSSAR(DATA / 'so2sat'), ['sar', 'ms']),
    'sun_rgbd': (
        lambda: PairedFolder(
            DATA / 'paired_folder' / 'sun_rgbd', {'rgb': 'rgb', 'depth': 'depth'}
        ),
        ['rgb', 'depth'],
    ),
    'tristar': (
        lambda: PairedFolder(
            DATA / 'paired_folder' / 'tristar',
            {'depth': 'depth', 'thermal': 'thermal'},
            manifest='manifest.csv',
        ),
        ['depth', 'thermal'],
    ),
}


@pytest.mark.parametrize('name', DATASETS)
def test_every_dataset_plots_every_sensor(name: str) -> None:
    make, panels = DATASETS[name]
    dataset = make()
    sample = dataset[0]
    label = dataset.classes[int(sample['label'])]
    fig = dataset.plot(sample, suptitle='a sample')
    titles = _titles(fig)
    assert [t.split(' ')[0] for t in titles] == panels
    assert all(f'Label: {label}' in t for t in titles)
    assert not any('Prediction' in t for t in titles)
    assert fig._suptitle.get_text() == 'a sample'  # type: ignore[union-attr]
    plt.close(fig)
    fig = dataset.plot(sample | {'prediction': torch.tensor(1)}, show_titles=False)
    assert _titles(fig) == ['', '']
    assert fig._suptitle is None
    plt.close(fig)


def test_panels() -> None:
    # Band k holds k + 1 everywhere but one pixel, so each panel's bands show.
    image = torch.arange(1.0, 5.0)[:, None, None].repeat(1, 3, 3)
    image[:, 0, 0] = 10
    rgb, shown = display_image(image, ['B02', 'B03', 'B04', 'B08'])
    assert shown == 'B04, B03, B02'
    assert rgb.shape == (3, 3, 3)
    # Red shows B04 (3), green B03 (2), blue B02 (1) on one stretch.
    assert rgb[1, 1, 0] > rgb[1, 1, 1] > rgb[1, 1, 2]
    assert display_image(image[:3], ['S2_B04', 'S2_B03', 'S2_B02'])[1] == (
        'S2_B04, S2_B03, S2_B02'
    )
    sar, shown = display_image(image[:2], ['VH', 'VV'])
    assert shown == 'VV, VH, mean'
    assert sar.shape == (3, 3, 3)
    assert display_image(image[:3])[1] == 'RGB'
    grey, shown = display_image(image[3:], ['B08'])
    assert (grey.shape, shown) == ((3, 3), 'B08')
    assert display_image(image[:2])[1] == 'band 1'
    assert grey.min() >= 0
    assert grey.max() <= 1


def test_per_modality_labels_and_predictions() -> None:
    sample = {
        'image_a': torch.rand(1, 4, 4),
        'label_a': torch.tensor(0),
        'prediction_a': torch.tensor(1),
        'prediction': torch.tensor(7),
    }
    fig = plot_sample(sample, ['x', 'y'])
    assert _titles(fig) == ['a (band 1)\nLabel: x\nPrediction: y']
    plt.close(fig)
    with pytest.raises(ValueError, match='no image_<modality> key'):
        plot_sample({'label': torch.tensor(0)}, ['x'])


def test_so2sat_shows_its_lee_filtered_polarisations() -> None:
    dataset = So2SatMSSAR(DATA / 'so2sat')
    fig = dataset.plot(dataset[0])
    assert _titles(fig)[0].startswith('sar (VV, VH, mean)')
    assert _titles(fig)[1].startswith('ms (S2_B04, S2_B03, S2_B02)')
    plt.close(fig)


def test_real_visible_and_thermal_pair(realdata: Path, tmp_path: Path) -> None:
    root = realdata / 'roadscene'
    names = sorted(p.stem for p in (root / 'visible').iterdir())[:2]
    manifest = tmp_path / 'manifest.csv'
    with manifest.open('w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['file', 'label', 'split'])
        writer.writerows([n, 'road', 'train'] for n in names)
    dataset = PairedFolder(
        root, {'rgb': 'visible', 'thermal': 'thermal'}, manifest=str(manifest)
    )
    sample = dataset[0]
    fig = dataset.plot(sample)
    assert _titles(fig) == ['rgb (RGB)\nLabel: road', 'thermal (band 1)\nLabel: road']
    [visible, thermal] = [ax.get_images()[0].get_array() for ax in fig.axes]
    assert visible.shape == (*sample['image_rgb'].shape[1:], 3)
    assert thermal.ndim == 2
    # The red channel shown is the file's red band, stretched.
    red = np.asarray(Image.open(root / 'visible' / f'{names[0]}.jpg'))[..., 0]
    correlation = np.corrcoef(visible[..., 0].ravel(), red.ravel())[0, 1]
    assert correlation > 0.95
    plt.close(fig)
