"""Datasets of geokd: samples are dicts with ``image_<modality>`` and ``label``."""

from .eurosat_ms_sar import EuroSATMSSAR
from .folder import PairedFolder
from .mmflood import MMFlood
from .ombria import OMBRIA
from .ombria_segmentation import OMBRIASegmentation
from .packed import PackedDataset, pack
from .sen1floods11 import Sen1Floods11
from .so2sat import So2SatMSSAR
from .splits import stratified_split
from .synthetic import SyntheticMSSAR

__all__ = [
    'OMBRIA',
    'EuroSATMSSAR',
    'MMFlood',
    'OMBRIASegmentation',
    'PackedDataset',
    'PairedFolder',
    'Sen1Floods11',
    'So2SatMSSAR',
    'SyntheticMSSAR',
    'pack',
    'stratified_split',
]
