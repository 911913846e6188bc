"""DataModule of paired sensor folders (RGB-D, RGB-thermal, or any co-registered rasters)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ..datasets import PairedFolder
from ..datasets.splits import DEFAULT_FRACTIONS
from ..datasets.utils import Invalid
from .multimodal import MultiModalDataModule


class PairedFolderDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.PairedFolder`.

    Modalities are the keys of ``folders``, in that order (the order of the model's
    ``in_channels``). Without a split column in the manifest, the train/val/test split
    is stratified (``fractions``, default 70/10/20) and drawn from ``split_seed``: the
    paper's five runs are five values of ``split_seed`` with ``seed_everything``.

    Args:
        root: Dataset folder.
        folders: Folder (relative to ``root``) of each modality, keyed by modality.
        manifest: CSV ``file,label[,split]`` relative to ``root``; None reads classes
            from sub-folders.
        classes: Class names in label order; None sorts the names found.
        size: Resize every image to ``size x size``; None keeps the files' size.
        gsd: Ground sample distance of the files' pixels in metres (one number or one
            per modality), recorded in exported models; None when unknown.
        channels: Expected channel count per modality (checked per file).
        fractions: Train/val/test fractions without a split column.
        split_seed: Seed of the stratified split.
        stats_samples: Training samples used to estimate statistics (0: all).
        drop_unpaired: Skip files missing in some folder instead of raising.
        invalid: 'error' or 'fill' for NaN, inf and nodata pixels.
        fill_value: Replacement of invalid pixels in 'fill' mode.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``normalization``, ``norm_method``, ``to_db``, ...).
    """

    def __init__(
        self,
        root: str,
        folders: Mapping[str, str],
        manifest: str | None = None,
        classes: Sequence[str] | None = None,
        size: int | None = None,
        gsd: float | Mapping[str, float] | None = None,
        channels: Mapping[str, int] | None = None,
        fractions: Sequence[float] = DEFAULT_FRACTIONS,
        split_seed: int = 0,
        stats_samples: int = 2048,
        drop_unpaired: bool = False,
        invalid: Invalid = 'error',
        fill_value: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new PairedFolderDataModule instance."""
        super().__init__(
            PairedFolder,
            modalities=list(folders),
            stats_samples=stats_samples,
            root=root,
            folders=dict(folders),
            manifest=manifest,
            classes=list(classes) if classes is not None else None,
            size=size,
            gsd=dict(gsd) if isinstance(gsd, Mapping) else gsd,
            channels=dict(channels) if channels is not None else None,
            fractions=list(fractions),
            split_seed=split_seed,
            drop_unpaired=drop_unpaired,
            invalid=invalid,
            fill_value=fill_value,
            **kwargs,
        )
