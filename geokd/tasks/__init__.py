"""LightningModules of geokd."""

from .discomkd import DisCoMKDTask

__all__ = ['DisCoMKDTask']
