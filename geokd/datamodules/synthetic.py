"""DataModule of the SYNTHETIC multispectral / SAR demo dataset."""

from collections.abc import Mapping
from typing import Any

from ..datasets import SyntheticMSSAR
from ..transforms import Augmentation
from .multimodal import MultiModalDataModule


class SyntheticMSSARDataModule(MultiModalDataModule):
    """LightningDataModule for :class:`~geokd.datasets.SyntheticMSSAR` (synthetic data).

    Args:
        batch_size: Size of each mini-batch.
        num_workers: Number of workers for parallel data loading.
        normalization: Statistics per modality (``SensorNormalization.to_dict()``);
            None estimates standardisation statistics from the training split.
        augmentation: Training augmentation: 'reference' (the DisCoM-KD reference's
            flips and quarter turns), 'none', or a list of kornia augmentations.
        samples_per_class: Samples per class over train, val and test (70/10/20).
        size: Height and width of a patch in pixels.
        looks: Equivalent number of looks of the SAR speckle (lower is noisier).
        seed: Seed of the synthetic data.
        paired: Batch co-registered samples; False shuffles each modality's training
            set on its own, as the DisCoM-KD reference trains (tasks that relate the
            sensors of one sample, teachers and students, need paired batches).
    """

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        augmentation: Augmentation = 'reference',
        samples_per_class: int = 100,
        size: int = 64,
        looks: int = 3,
        seed: int = 0,
        paired: bool = True,
    ) -> None:
        """Initialize a new SyntheticMSSARDataModule instance."""
        super().__init__(
            SyntheticMSSAR,
            modalities=['ms', 'sar'],
            normalization=normalization,
            batch_size=batch_size,
            num_workers=num_workers,
            augmentation=augmentation,
            paired=paired,
            samples_per_class=samples_per_class,
            size=size,
            looks=looks,
            seed=seed,
        )
