"""DataModule of MMFlood (Sentinel-1 + DEM + hydrography patches, per-pixel floods)."""

from collections.abc import Sequence
from typing import Any

from ..datasets.mmflood import MMFlood
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule, refuse_packed_masks


class MMFloodDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.MMFlood`.

    MMFlood's published train/val/test split of the activations, each tile cut into
    ``patch_size`` patches; batches hold ``mask`` (paired) or ``mask_<modality>``
    (unpaired), -1 where there is no Sentinel-1 data, and the training augmentation
    moves each mask with its images.

    Args:
        root: Folder holding ``activations/`` and ``activations.json``.
        modalities: Sensors: 'sar' (Sentinel-1), 'dem' and/or 'hydro' (hydrography;
            keeps only the tiles that have one).
        patch_size: Side of the patches in pixels.
        norm_method: 'percentile' (default: the 2nd..98th percentiles leave out the
            zeros where Sentinel-1 has no data, which are -100 dB after ``to_db``),
            'standard' or 'per_patch'.
        to_db: Modalities converted from linear power to dB before normalising
            (MMFlood's Sentinel-1 is linear).
        download: Download and extract the release if the data is absent.
        checksum: Check the MD5 of the downloaded files.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``num_workers``, ``augmentation``, ``paired``,
            ``normalization``, ...).

    Raises:
        UsageError: If ``cache_dir`` is given (packed splits hold no masks).
    """

    def __init__(
        self,
        root: str = 'data/mmflood',
        modalities: Sequence[str] = ('sar', 'dem'),
        patch_size: int = 512,
        norm_method: Method = 'percentile',
        to_db: Sequence[str] = ('sar',),
        download: bool = False,
        checksum: bool = True,
        **kwargs: Any,
    ) -> None:
        """Initialize a new MMFloodDataModule instance."""
        refuse_packed_masks(kwargs)
        super().__init__(
            MMFlood,
            modalities=list(modalities),
            norm_method=norm_method,
            to_db=[m for m in to_db if m in modalities],
            root=root,
            patch_size=patch_size,
            download=download,
            checksum=checksum,
            **kwargs,
        )
        # The dataset's own 'modalities' argument: the base class takes that name.
        self.kwargs['modalities'] = list(modalities)
