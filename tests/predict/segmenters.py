"""Tiny segmentation tasks and their exported segmenters, for export and predict tests."""

from pathlib import Path
from typing import Any

import torch

from geokd.export import SingleSensorClassifier, export_model
from geokd.export.classifier import classifier_from_task
from geokd.tasks import (
    DisCoMKDSegmentationTask,
    PerClassifierTask,
    SingleModalSegmentationTask,
)
from geokd.transforms import SensorNormalization

#: The tiny encoder and decoder of the segmentation task tests.
TINY = {'encoder': 'tu-test_resnet', 'decoder_channels': [8, 8, 8, 8, 8]}
#: Patch (tile) size of the tiny segmenters: a multiple of 2 ** encoder_depth.
PATCH = 32
CLASSES = ['dry', 'flooded']
BANDS = {'ms': ['B04', 'B03', 'B02'], 'sar': ['VV', 'VH']}


def datamodule_state(
    method: str = 'per_patch', modalities: tuple[str, ...] = ('ms', 'sar')
) -> dict[str, Any]:
    """What a segmentation DataModule saves: normalisation, bands, patch size, GSD."""
    norms = {
        m: SensorNormalization(
            method,  # type: ignore[arg-type]
            shift=[0.0] * len(BANDS[m]),
            scale=[1.0] * len(BANDS[m]),
        ).to_dict()
        for m in modalities
    }
    return {
        'normalization': norms,
        'patch_size': PATCH,
        'band_names': {m: BANDS[m] for m in modalities},
        'class_names': CLASSES,
        'provenance': {
            'datamodule': 'geokd.datamodules.OMBRIASegmentationDataModule',
            'dataset': 'geokd.datasets.OMBRIASegmentation',
            'synthetic': False,
            'gsd': dict.fromkeys(modalities, 10.0),
        },
    }


def _balance(task: PerClassifierTask) -> PerClassifierTask:
    """Scale the last convolution and centre its bias on random images.

    A random network then draws a map of both classes in about equal parts, with
    class boundaries inside tiles, not one class everywhere.
    """
    task.eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, module in task.deployable_classifiers().items():
            net = module.module
            head = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
            head.weight.mul_(40)
            channels = module.spec.in_channels
            x = torch.randn(4, channels, PATCH, PATCH, generator=generator)
            logits = net(x)
            assert head.bias is not None, name
            head.bias[1] -= (logits[:, 1] - logits[:, 0]).median()
    return task


def discomkd_task(seed: int = 0) -> DisCoMKDSegmentationTask:
    """A random tiny DisCoM-KD segmentation task of an MS and a SAR sensor."""
    torch.manual_seed(seed)
    task = DisCoMKDSegmentationTask({'ms': 3, 'sar': 2}, class_names=CLASSES, **TINY)
    _balance(task)
    return task


def baseline_task(seed: int = 0) -> SingleModalSegmentationTask:
    """A random tiny single-sensor SAR U-Net."""
    torch.manual_seed(seed)
    task = SingleModalSegmentationTask('sar', 2, class_names=CLASSES, **TINY)
    _balance(task)
    return task


def tiny_segmenter(modality: str = 'sar') -> SingleSensorClassifier:
    """The SAR (or MS) segmenter of :func:`discomkd_task`, as prediction loads it."""
    task = discomkd_task()
    return classifier_from_task(task, modality, datamodule_state())


def export_tiny_segmenter(directory: Path, modality: str = 'sar') -> Path:
    """Export :func:`tiny_segmenter` to ``directory``; return it."""
    segmenter = tiny_segmenter(modality)
    return export_model(segmenter.model, segmenter.metadata, directory)
