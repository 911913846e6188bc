"""Datasets of geokd: samples are dicts with ``image_<modality>`` and ``label``."""

from .eurosat_ms_sar import EuroSATMSSAR
from .folder import PairedFolder
from .ombria import OMBRIA
from .packed import PackedDataset, pack
from .so2sat import So2SatMSSAR
from .splits import stratified_split
from .synthetic import SyntheticMSSAR

__all__ = [
    'OMBRIA',
    'EuroSATMSSAR',
    'PackedDataset',
    'PairedFolder',
    'So2SatMSSAR',
    'SyntheticMSSAR',
    'pack',
    'stratified_split',
]
