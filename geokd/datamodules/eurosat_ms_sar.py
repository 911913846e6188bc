"""DataModule of EuroSat-MS-SAR (EuroSAT Sentinel-2 paired with EuroSAT-SAR)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ..datasets import EuroSATMSSAR
from ..datasets.utils import Invalid
from ..transforms import Augmentation
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule


class EuroSATMSSARDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.EuroSATMSSAR`.

    Uses the official Copernicus-Bench train/val/test splits. The default
    normalisation is the DisCoM-KD reference: per band, 2nd..98th percentile of the
    training split, clipped and rescaled to [0, 1].

    Args:
        root: Folder holding ``eurosat_s2/`` and ``eurosat_s1/``.
        bands: Band names per modality ('ms', 'sar'); None keeps all.
        batch_size: Size of each mini-batch (per modality in unpaired mode).
        num_workers: Number of workers for parallel data loading.
        normalization: Statistics per modality (``SensorNormalization.to_dict()``,
            as printed by ``geokd stats``); None estimates them at set-up.
        norm_method: 'percentile' or 'standard'.
        to_db: Modalities stored as linear power, converted to dB first.
        augmentation: Training augmentation: 'reference' (the DisCoM-KD reference's
            flips and quarter turns), 'none', or a list of kornia augmentations.
        paired: Batch co-registered pairs; False shuffles each modality on its own.
        stats_samples: Training samples used to estimate statistics (0: all).
        drop_unpaired: Skip files whose partner is missing instead of raising.
        invalid: 'error' or 'fill' for NaN, inf and nodata pixels.
        fill_value: Replacement of invalid pixels in 'fill' mode.
        cache_dir: Pack each split into memory-mapped arrays here, once.
        download: Download both halves through torchgeo if absent.
        checksum: Verify the downloads' SHA-256.
    """

    def __init__(
        self,
        root: str = 'data',
        bands: Mapping[str, Sequence[str]] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        norm_method: Method = 'percentile',
        to_db: Sequence[str] = (),
        augmentation: Augmentation = 'reference',
        paired: bool = True,
        stats_samples: int = 2048,
        drop_unpaired: bool = False,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        cache_dir: str | None = None,
        download: bool = False,
        checksum: bool = False,
    ) -> None:
        """Initialize a new EuroSATMSSARDataModule instance."""
        super().__init__(
            EuroSATMSSAR,
            modalities=['ms', 'sar'],
            normalization=normalization,
            norm_method=norm_method,
            to_db=to_db,
            batch_size=batch_size,
            num_workers=num_workers,
            augmentation=augmentation,
            stats_samples=stats_samples,
            paired=paired,
            cache_dir=cache_dir,
            root=root,
            bands=bands,
            drop_unpaired=drop_unpaired,
            invalid=invalid,
            fill_value=fill_value,
            download=download,
            checksum=checksum,
        )
