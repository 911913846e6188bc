"""LightningDataModules of geokd."""

from .multimodal import MultiModalDataModule, reference_augmentation
from .synthetic import SyntheticMSSARDataModule

__all__ = ['MultiModalDataModule', 'SyntheticMSSARDataModule', 'reference_augmentation']
