"""Fixtures of the deployment tests: tiny random models and scenes on disk."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from geokd.datasets import SyntheticMSSAR
from geokd.export import ModelMetadata, SingleSensorClassifier
from geokd.models import DisCoMKD
from geokd.transforms import SensorNormalization

#: A UTM transform with 10 m pixels, as the synthetic scenes use.
TRANSFORM = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_600_000.0)
CLASSES = list(SyntheticMSSAR.classes)


def tiny_classifier(
    modality: str,
    patch_size: int = 16,
    bands: list[str] | None = None,
    gsd: float | None = 10.0,
) -> SingleSensorClassifier:
    """A random test_resnet DisCoM-KD branch with plausible normalisation.

    Args:
        modality: 'ms' or 'sar'.
        patch_size: Its patch size.
        bands: Its band names; None takes the synthetic dataset's (EuroSAT's).
        gsd: Its training ground sample distance in metres.
    """
    bands = bands or list(SyntheticMSSAR.all_band_names[modality])
    torch.manual_seed(0)
    channels = {'ms': 13, 'sar': 2} | {modality: len(bands)}
    net = DisCoMKD(channels, len(CLASSES), backbone='test_resnet')
    branch = net.extract(modality)
    if modality == 'sar':
        norm = SensorNormalization(shift=[-12.0, -19.0], scale=[5.0, 5.0])
    else:
        norm = SensorNormalization(
            shift=[1500.0] * len(bands), scale=[1000.0] * len(bands)
        )
    meta = ModelMetadata(
        modality=modality,
        in_channels=len(bands),
        num_classes=len(CLASSES),
        class_names=CLASSES,
        band_names=bands,
        normalization=norm.to_dict(),
        patch_size=patch_size,
        backbone='test_resnet',
        embed_dim=branch.embed_dim,
        gsd=gsd,
    )
    return SingleSensorClassifier(branch, meta)


@pytest.fixture(scope='session')
def sar_model() -> SingleSensorClassifier:
    return tiny_classifier('sar')


@pytest.fixture(scope='session')
def ms_model() -> SingleSensorClassifier:
    return tiny_classifier('ms')


def tiled_profile(
    data: np.ndarray,
    crs: str | None = 'EPSG:32631',
    transform: Affine = TRANSFORM,
    nodata: float | None = float('nan'),
) -> dict[str, Any]:
    """The rasterio profile of a GeoTIFF of ``data`` in 16 x 16 pixel tiles."""
    return {
        'driver': 'GTiff',
        'count': data.shape[0],
        'height': data.shape[1],
        'width': data.shape[2],
        'dtype': data.dtype.name,
        'crs': crs,
        'transform': transform,
        'nodata': nodata,
        'tiled': True,
        'blockxsize': 16,
        'blockysize': 16,
    }


WriteScene = Callable[..., Path]


@pytest.fixture
def write_scene(tmp_path: Path) -> WriteScene:
    """Write an array as a tiled GeoTIFF (EPSG:32631 by default).

    Band names (``descriptions``) default to VV, VH for two bands (what the SAR test
    model reads); None leaves the bands unnamed.
    """

    def write(
        data: np.ndarray,
        name: str = 'scene.tif',
        crs: str | None = 'EPSG:32631',
        transform: Affine = TRANSFORM,
        nodata: float | None = float('nan'),
        descriptions: tuple[str, ...] | Literal['sar'] | None = 'sar',
    ) -> Path:
        if descriptions == 'sar':
            descriptions = ('VV', 'VH') if data.shape[0] == 2 else None
        path = tmp_path / name
        profile = tiled_profile(data, crs, transform, nodata)
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(data)
            if descriptions:
                dst.descriptions = descriptions
        return path

    return write


@pytest.fixture
def two_window_scene(write_scene: WriteScene) -> Path:
    """A 272 x 160 SAR scene: 2 x 1 windows of 256 pixels, to interrupt between."""
    return write_scene(sar_pixels(272, 160, seed=2))


def sar_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random SAR-like backscatter in dB, float32."""
    rng = np.random.default_rng(seed)
    return rng.normal(-15, 5, (2, height, width)).astype('float32')


@pytest.fixture(scope='session')
def sar_segmenter() -> SingleSensorClassifier:
    """The SAR segmenter of a tiny random DisCoM-KD segmentation task (patch 32)."""
    from .segmenters import tiny_segmenter

    return tiny_segmenter('sar')


@pytest.fixture(scope='session')
def sar_segmenter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`sar_segmenter`, exported."""
    from .segmenters import export_tiny_segmenter

    return export_tiny_segmenter(tmp_path_factory.mktemp('segmenter') / 'sar')
