"""LightningModules of geokd."""

from .base import (
    DeployableClassifier,
    PerClassifierTask,
    require_paired,
    unpack_batch,
)
from .discomkd import DisCoMKDTask
from .distillation import DistillationTask, load_teacher
from .multimodal_teacher import MultiModalTeacherTask
from .single_modal import SingleModalTask

__all__ = [
    'DeployableClassifier',
    'DisCoMKDTask',
    'DistillationTask',
    'MultiModalTeacherTask',
    'PerClassifierTask',
    'SingleModalTask',
    'load_teacher',
    'require_paired',
    'unpack_batch',
]
