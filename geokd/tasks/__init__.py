"""LightningModules of geokd."""

from .base import PerClassifierTask, require_paired, unpack_batch
from .discomkd import DisCoMKDTask
from .distillation import DistillationTask, load_teacher
from .multimodal_teacher import MultiModalTeacherTask, SumFusionClassifier
from .single_modal import SingleModalTask, linear_classifier

__all__ = [
    'DisCoMKDTask',
    'DistillationTask',
    'MultiModalTeacherTask',
    'PerClassifierTask',
    'SingleModalTask',
    'SumFusionClassifier',
    'linear_classifier',
    'load_teacher',
    'require_paired',
    'unpack_batch',
]
