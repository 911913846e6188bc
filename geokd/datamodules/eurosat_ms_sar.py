"""DataModule of EuroSat-MS-SAR (EuroSAT Sentinel-2 paired with EuroSAT-SAR)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ..datasets import EuroSATMSSAR
from ..datasets.utils import Invalid
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
        norm_method: 'percentile' or 'standard'.
        stats_samples: Training samples used to estimate statistics (0: all).
        drop_unpaired: Skip files whose partner is missing instead of raising.
        invalid: 'error' or 'fill' for NaN, inf and nodata pixels.
        fill_value: Replacement of invalid pixels in 'fill' mode.
        download: Download both halves through torchgeo if absent.
        checksum: Verify the downloads' SHA-256.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``normalization``, ``augmentation``, ``paired``, ...).
    """

    def __init__(
        self,
        root: str = 'data',
        bands: Mapping[str, Sequence[str]] | None = None,
        norm_method: Method = 'percentile',
        stats_samples: int = 2048,
        drop_unpaired: bool = False,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        download: bool = False,
        checksum: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new EuroSATMSSARDataModule instance."""
        super().__init__(
            EuroSATMSSAR,
            modalities=['ms', 'sar'],
            norm_method=norm_method,
            stats_samples=stats_samples,
            root=root,
            bands=bands,
            drop_unpaired=drop_unpaired,
            invalid=invalid,
            fill_value=fill_value,
            download=download,
            checksum=checksum,
            **kwargs,
        )
