"""Datasets of geokd: samples are dicts with ``image_<modality>`` and ``label``."""

from .synthetic import SyntheticMSSAR

__all__ = ['SyntheticMSSAR']
