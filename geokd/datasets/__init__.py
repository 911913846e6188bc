"""Datasets of geokd: samples are dicts with ``image_<modality>`` and ``label``."""

from .synthetic import SyntheticMSSAR
from .synthetic_scene import write_synthetic_scene

__all__ = ['SyntheticMSSAR', 'write_synthetic_scene']
