"""DataModule of So2Sat LCZ42 as Sentinel-1 / Sentinel-2 pairs."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..datasets import So2SatMSSAR
from ..datasets.utils import Invalid
from ..transforms import Augmentation
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule


class So2SatMSSARDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.So2SatMSSAR` (17 LCZ classes).

    Version '2' uses the official train/validation/test files; the version 3 variants
    hold out a stratified ``val_fraction`` of their training file for validation.

    Args:
        root: Folder of the HDF5 files.
        version: '2', '3_random', '3_block' or '3_culture_10'.
        bands: torchgeo band names per modality ('sar', 'ms'); None keeps all.
        batch_size: Size of each mini-batch (per modality in unpaired mode).
        num_workers: Number of workers for parallel data loading.
        normalization: Statistics per modality (``SensorNormalization.to_dict()``,
            as printed by ``geokd stats``); None estimates them at set-up.
        norm_method: 'standard' or 'percentile'.
        augmentation: Training augmentation: 'reference' (the DisCoM-KD reference's
            flips and quarter turns), 'none', or a list of kornia augmentations.
        paired: Batch co-registered pairs; False shuffles each modality on its own.
        stats_samples: Training samples used to estimate statistics (0: all).
        val_fraction: Version 3 only: share of the training file used to validate.
        split_seed: Version 3 only: seed of that hold-out.
        invalid: 'error' or 'fill' for NaN and inf values.
        fill_value: Replacement of invalid values in 'fill' mode.
        cache_dir: Pack each split into memory-mapped arrays here, once.
        checksum: Verify the files' MD5.
    """

    def __init__(
        self,
        root: str = 'data',
        version: Literal['2', '3_random', '3_block', '3_culture_10'] = '2',
        bands: Mapping[str, Sequence[str]] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        norm_method: Method = 'standard',
        augmentation: Augmentation = 'reference',
        paired: bool = True,
        stats_samples: int = 2048,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        cache_dir: str | None = None,
        checksum: bool = False,
    ) -> None:
        """Initialize a new So2SatMSSARDataModule instance."""
        super().__init__(
            So2SatMSSAR,
            modalities=['ms', 'sar'],
            normalization=normalization,
            norm_method=norm_method,
            batch_size=batch_size,
            num_workers=num_workers,
            augmentation=augmentation,
            stats_samples=stats_samples,
            paired=paired,
            cache_dir=cache_dir,
            root=root,
            version=version,
            bands=bands,
            val_fraction=val_fraction,
            split_seed=split_seed,
            invalid=invalid,
            fill_value=fill_value,
            checksum=checksum,
        )
