"""DataModule of OMBRIA flood pairs (Sentinel-1 + Sentinel-2 sub-patches, 3 classes)."""

from collections.abc import Sequence
from typing import Any

from ..datasets import OMBRIA
from ..datasets.ombria import band_names
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule


class OMBRIADataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.OMBRIA`.

    Uses the published train/test split and holds out whole training tiles for
    validation. The default normalisation, ``'per_patch'``, standardises each patch on
    its own: OMBRIA's PNGs are stretched to 0..255 per tile, so only a normalisation
    blind to gain and offset lets a model trained here read real Sentinel-1 scenes in
    decibels (see :class:`~geokd.datasets.OMBRIA`).

    Args:
        root: Folder holding ``OmbriaS1/`` and ``OmbriaS2/``.
        modalities: Sensors: 'sar' (Sentinel-1) and/or 'ms' (Sentinel-2).
        before: Append each sensor's BEFORE image as extra channels.
        patch_size: Side of the sub-patches (64 cuts a 256 tile in 16).
        thresholds: Flooded fractions where 'partly flooded' and 'flooded' start.
        val_fraction: Share of the training tiles of each class held out to validate.
        split_seed: Seed of that hold-out.
        leave_out_block: Test on this contiguous range of training tiles instead of
            the published test split (leave-events-out, see
            :class:`~geokd.datasets.OMBRIA`); None keeps the published split.
        num_blocks: Number of contiguous ranges of ``leave_out_block`` and
            ``val_block``.
        val_block: Validate on this contiguous range of training tiles, or these
            ranges (events the model does not train on), instead of a stratified
            ``val_fraction``.
        norm_method: 'per_patch' (default), 'standard' or 'percentile'.
        download: Download the OMBRIA repository archive if the data is absent.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``normalization``, ``augmentation``, ``paired``, ...).
    """

    def __init__(
        self,
        root: str = 'data/ombria',
        modalities: Sequence[str] = ('ms', 'sar'),
        before: bool = False,
        patch_size: int = 64,
        thresholds: Sequence[float] = (0.05, 0.5),
        val_fraction: float = 0.1,
        split_seed: int = 0,
        leave_out_block: int | None = None,
        num_blocks: int = 8,
        val_block: int | list[int] | None = None,
        norm_method: Method = 'per_patch',
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new OMBRIADataModule instance."""
        super().__init__(
            OMBRIA,
            modalities=list(modalities),
            norm_method=norm_method,
            root=root,
            before=before,
            patch_size=patch_size,
            thresholds=list(thresholds),
            val_fraction=val_fraction,
            split_seed=split_seed,
            leave_out_block=leave_out_block,
            num_blocks=num_blocks,
            val_block=val_block,
            download=download,
            **kwargs,
        )
        # The dataset's own 'modalities' argument: the base class takes that name.
        self.kwargs['modalities'] = list(modalities)

    @property
    def band_names(self) -> dict[str, list[str]]:
        """Band names of each modality, in the order the model sees them."""
        return {m: band_names(m, self.kwargs['before']) for m in self.modalities}
