"""LightningModules of geokd."""

from .base import (
    DeployableClassifier,
    PerClassifierTask,
    require_paired,
    unpack_batch,
)
from .discomkd import DisCoMKDTask
from .discomkd_segmentation import DisCoMKDSegmentationTask
from .distillation import DistillationTask, load_teacher
from .multimodal_teacher import MultiModalTeacherTask
from .segmentation_base import PerSegmenterTask
from .segmentation_baselines import (
    MultiModalSegmentationTeacherTask,
    PixelKDSegmentationTask,
    SingleModalSegmentationTask,
)
from .single_modal import SingleModalTask

__all__ = [
    'DeployableClassifier',
    'DisCoMKDSegmentationTask',
    'DisCoMKDTask',
    'DistillationTask',
    'MultiModalSegmentationTeacherTask',
    'MultiModalTeacherTask',
    'PerClassifierTask',
    'PerSegmenterTask',
    'PixelKDSegmentationTask',
    'SingleModalSegmentationTask',
    'SingleModalTask',
    'load_teacher',
    'require_paired',
    'unpack_batch',
]
