"""DataModule of OMBRIA flood masks (Sentinel-1 + Sentinel-2 sub-patches, per pixel)."""

from collections.abc import Sequence
from typing import Any

from ..datasets.ombria_segmentation import OMBRIASegmentation
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule, refuse_packed_masks
from .ombria import OMBRIADataModule


class OMBRIASegmentationDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.OMBRIASegmentation`.

    The tiles, splits, sub-patches and default per-patch normalisation of
    :class:`~geokd.datamodules.OMBRIADataModule`; batches hold ``mask`` (paired) or
    ``mask_<modality>`` (unpaired) instead of labels, and the training augmentation
    moves each mask with its images.

    Args:
        root: Folder holding ``OmbriaS1/`` and ``OmbriaS2/``.
        modalities: Sensors: 'sar' (Sentinel-1) and/or 'ms' (Sentinel-2).
        before: Append each sensor's BEFORE image as extra channels.
        patch_size: Side of the sub-patches (64 cuts a 256 tile in 16).
        val_fraction: Share of the training tiles of each class held out to validate.
        split_seed: Seed of that hold-out.
        norm_method: 'per_patch' (default), 'standard' or 'percentile'.
        download: Download the OMBRIA repository archive if the data is absent.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``num_workers``, ``augmentation``, ``paired``,
            ``normalization``, ...).

    Raises:
        UsageError: If ``cache_dir`` is given (packed splits hold no masks).
    """

    def __init__(
        self,
        root: str = 'data/ombria',
        modalities: Sequence[str] = ('ms', 'sar'),
        before: bool = False,
        patch_size: int = 64,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        norm_method: Method = 'per_patch',
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new OMBRIASegmentationDataModule instance."""
        refuse_packed_masks(kwargs)
        super().__init__(
            OMBRIASegmentation,
            modalities=list(modalities),
            norm_method=norm_method,
            root=root,
            before=before,
            patch_size=patch_size,
            val_fraction=val_fraction,
            split_seed=split_seed,
            download=download,
            **kwargs,
        )
        # The dataset's own 'modalities' argument: the base class takes that name.
        self.kwargs['modalities'] = list(modalities)

    #: The band names of :class:`~geokd.datamodules.OMBRIADataModule`: the same
    #: sensors, BEFORE channels appended the same way.
    band_names = OMBRIADataModule.band_names
