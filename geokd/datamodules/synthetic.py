"""DataModule of the SYNTHETIC multispectral / SAR demo dataset."""

from typing import Any

from ..datasets import SyntheticMSSAR
from .multimodal import MultiModalDataModule


class SyntheticMSSARDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.SyntheticMSSAR` (synthetic data).

    Args:
        samples_per_class: Samples per class over train, val and test (70/10/20).
        size: Height and width of a patch in pixels.
        looks: Equivalent number of looks of the SAR speckle (lower is noisier).
        seed: Seed of the synthetic data.
        **kwargs: Passed to :class:`~geokd.datamodules.MultiModalDataModule`
            (``batch_size``, ``normalization``, ``augmentation``, ``paired``, ...).
    """

    def __init__(
        self,
        samples_per_class: int = 100,
        size: int = 64,
        looks: int = 3,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SyntheticMSSARDataModule instance."""
        super().__init__(
            SyntheticMSSAR,
            modalities=['ms', 'sar'],
            samples_per_class=samples_per_class,
            size=size,
            looks=looks,
            seed=seed,
            **kwargs,
        )
