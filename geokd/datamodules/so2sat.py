"""DataModule of So2Sat LCZ42 as Sentinel-1 / Sentinel-2 pairs."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..datasets import So2SatMSSAR
from ..datasets.utils import Invalid
from .multimodal import MultiModalDataModule


class So2SatMSSARDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.So2SatMSSAR` (17 LCZ classes).

    Version '2' uses the official train/validation/test files; the version 3 variants
    hold out a stratified ``val_fraction`` of their training file for validation.

    Args:
        root: Folder of the HDF5 files.
        version: '2', '3_random', '3_block' or '3_culture_10'.
        bands: torchgeo band names per modality ('sar', 'ms'); None keeps all.
        stats_samples: Training samples used to estimate statistics (0: all).
        val_fraction: Version 3 only: share of the training file used to validate.
        split_seed: Version 3 only: seed of that hold-out.
        invalid: 'error' or 'fill' for NaN and inf values.
        fill_value: Replacement of invalid values in 'fill' mode.
        checksum: Verify the files' MD5.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``normalization``, ``augmentation``, ``paired``, ...).
    """

    def __init__(
        self,
        root: str = 'data',
        version: Literal['2', '3_random', '3_block', '3_culture_10'] = '2',
        bands: Mapping[str, Sequence[str]] | None = None,
        stats_samples: int = 2048,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        checksum: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new So2SatMSSARDataModule instance."""
        super().__init__(
            So2SatMSSAR,
            modalities=['ms', 'sar'],
            stats_samples=stats_samples,
            root=root,
            version=version,
            bands=bands,
            val_fraction=val_fraction,
            split_seed=split_seed,
            invalid=invalid,
            fill_value=fill_value,
            checksum=checksum,
            **kwargs,
        )
