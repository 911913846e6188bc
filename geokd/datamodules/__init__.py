"""LightningDataModules of geokd."""

from .eurosat_ms_sar import EuroSATMSSARDataModule
from .folder import PairedFolderDataModule
from .mmflood import MMFloodDataModule
from .multimodal import MultiModalDataModule
from .ombria import OMBRIADataModule
from .ombria_segmentation import OMBRIASegmentationDataModule
from .sen1floods11 import Sen1Floods11DataModule
from .so2sat import So2SatMSSARDataModule
from .synthetic import SyntheticMSSARDataModule

__all__ = [
    'EuroSATMSSARDataModule',
    'MMFloodDataModule',
    'MultiModalDataModule',
    'OMBRIADataModule',
    'OMBRIASegmentationDataModule',
    'PairedFolderDataModule',
    'Sen1Floods11DataModule',
    'So2SatMSSARDataModule',
    'SyntheticMSSARDataModule',
]
