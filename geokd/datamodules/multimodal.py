"""Base DataModule for paired multi-sensor samples (``image_<modality>`` + ``label``)."""

from collections.abc import Mapping, Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from ..transforms import SensorNormalization
from ..transforms.normalization import Method


def reference_augmentation(p: float = 0.5) -> K.AugmentationSequential:
    """The reference training augmentation: flips and quarter turns, each with ``p``.

    Called on a dict of ``image_*`` tensors, it applies the SAME random parameters to
    every image key, so co-registered sensors stay co-registered.

    Args:
        p: Probability of each of the three transforms.

    Returns:
        A kornia augmentation taking and returning a sample dict.
    """
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=p),
        K.RandomVerticalFlip(p=p),
        K.RandomRotation90(times=(1, 3), resample='nearest', p=p),
        data_keys=None,
        keepdim=True,
    )


class MultiModalDataModule(NonGeoDataModule):
    """Normalises each sensor on the device and augments co-registered samples jointly.

    The per-sensor :class:`~geokd.transforms.SensorNormalization` is part of the
    DataModule's state, so it is saved in every Lightning checkpoint and prediction can
    apply exactly the same preprocessing.

    Args:
        dataset_class: Dataset whose ``__init__`` takes ``split``.
        modalities: Modality names, matching the dataset's ``image_<modality>`` keys.
        normalization: Statistics per modality, as written by
            :meth:`SensorNormalization.to_dict`; None estimates them from the training
            split with ``norm_method`` and ``to_db``.
        norm_method: 'standard' (mean/std) or 'percentile' (2nd..98th percentile
            clipped and rescaled to [0, 1], the DisCoM-KD reference).
        to_db: Modalities delivered as linear power, converted to dB first.
        batch_size: Size of each mini-batch.
        num_workers: Number of workers for parallel data loading.
        augment: Apply the reference flip/rotation augmentation to training batches.
        stats_samples: Training samples used to estimate missing statistics.
        **kwargs: Passed to ``dataset_class``.
    """

    def __init__(
        self,
        dataset_class: type[NonGeoDataset],
        modalities: Sequence[str],
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        norm_method: Method = 'standard',
        to_db: Sequence[str] = (),
        batch_size: int = 64,
        num_workers: int = 0,
        augment: bool = True,
        stats_samples: int = 512,
        **kwargs: Any,
    ) -> None:
        """Initialize a new MultiModalDataModule instance."""
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.modalities = list(modalities)
        self.norm_method = norm_method
        self.to_db = set(to_db)
        self.stats_samples = stats_samples
        self.normalization: dict[str, SensorNormalization] = {}
        #: Height and width of the training patches, recorded at set-up.
        self.patch_size: int | None = None
        if normalization is not None:
            self.set_normalization(normalization)
        self.train_aug = reference_augmentation() if augment else None

    def set_normalization(self, normalization: Mapping[str, Mapping[str, Any]]) -> None:
        """Set the preprocessing of every modality.

        Args:
            normalization: :meth:`SensorNormalization.to_dict` output per modality.

        Raises:
            ValueError: If a modality is missing.
        """
        missing = [m for m in self.modalities if m not in normalization]
        if missing:
            msg = f'normalisation statistics missing for modalities {missing}'
            raise ValueError(msg)
        self.normalization = {
            m: SensorNormalization.from_dict(dict(normalization[m]))
            for m in self.modalities
        }

    def estimate_normalization(self) -> None:
        """Estimate the statistics from the first samples of the training split."""
        dataset = self.dataset_class(split='train', **self.kwargs)  # type: ignore[call-arg]
        samples = [dataset[i] for i in range(min(len(dataset), self.stats_samples))]
        self.normalization = {
            m: SensorNormalization.estimate(
                torch.stack([s[f'image_{m}'] for s in samples]),
                method=self.norm_method,
                to_db=m in self.to_db,
            )
            for m in self.modalities
        }

    def setup(self, stage: str) -> None:
        """Set up datasets, estimating normalisation statistics if none were given.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        if not self.normalization:
            self.estimate_normalization()
        super().setup(stage)
        dataset = self.train_dataset or self.val_dataset or self.test_dataset
        if dataset is not None and len(dataset) > 0:  # type: ignore[arg-type]
            self.patch_size = int(dataset[0][f'image_{self.modalities[0]}'].shape[-1])

    @property
    def band_names(self) -> dict[str, list[str]]:
        """Band names of each modality, in the order the model sees them.

        Returns:
            Names per modality; empty lists where the dataset does not name its bands.
        """
        names = getattr(self.dataset_class, 'all_band_names', {})
        bands = self.kwargs.get('bands') or {}
        return {
            m: list(
                bands.get(m) or (names.get(m, ()) if isinstance(names, dict) else ())
            )
            for m in self.modalities
        }

    def normalize(self, batch: Sample) -> Sample:
        """Preprocess every ``image_<modality>`` of a batch with its own statistics.

        Args:
            batch: Batch on any device.

        Returns:
            The batch, with normalised images.
        """
        for m, norm in self.normalization.items():
            key = f'image_{m}'
            if key in batch:
                batch[key] = norm(batch[key])
        return batch

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Normalise, then (when training) augment the batch on its device.

        Args:
            batch: A batch of data that needs to be altered or augmented.
            dataloader_idx: The index of the dataloader to which the batch belongs.

        Returns:
            A batch of data.
        """
        batch = self.normalize(batch)
        if self.trainer is not None and self.trainer.training and self.train_aug:
            batch = self.train_aug(batch)
        return batch

    def state_dict(self) -> dict[str, Any]:
        """Normalisation of every modality, saved into checkpoints.

        Returns:
            :meth:`SensorNormalization.to_dict` per modality, the band names per
            modality and the patch size: what prediction needs to preprocess a scene.
        """
        return {
            'normalization': {m: n.to_dict() for m, n in self.normalization.items()}
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the normalisation from a checkpoint.

        Args:
            state_dict: Output of :meth:`state_dict`.
        """
        self.set_normalization(state_dict['normalization'])
        self.patch_size = state_dict.get('patch_size')
