"""DataModule of Sen1Floods11's hand-labelled chips (Sentinel-1 + Sentinel-2, per pixel)."""

from collections.abc import Sequence
from typing import Any

from ..datasets.sen1floods11 import Sen1Floods11
from ..transforms.normalization import Method
from .multimodal import MultiModalDataModule, refuse_packed_masks


class Sen1Floods11DataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.Sen1Floods11`.

    The published hand-labelled train/valid/test split; batches hold ``mask`` (-1
    where unlabelled or outside a sensor's data) as the segmentation tasks read it.

    Args:
        root: Folder holding ``data/`` and ``splits/``.
        modalities: Sensors: 'sar' (Sentinel-1, dB) and/or 'ms' (Sentinel-2 L1C).
        norm_method: 'standard' (default; Sentinel-1 is already in dB),
            'percentile' or 'per_patch'.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``num_workers``, ``augmentation``, ``paired``, ...).
    """

    def __init__(
        self,
        root: str = 'data/sen1floods11',
        modalities: Sequence[str] = ('ms', 'sar'),
        norm_method: Method = 'standard',
        **kwargs: Any,
    ) -> None:
        """Initialize a new Sen1Floods11DataModule instance."""
        refuse_packed_masks(kwargs)
        super().__init__(
            Sen1Floods11,
            modalities=list(modalities),
            norm_method=norm_method,
            root=root,
            **kwargs,
        )
        # The dataset's own 'modalities' argument: the base class takes that name.
        self.kwargs['modalities'] = list(modalities)
