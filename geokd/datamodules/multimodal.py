"""Base DataModule for paired multi-sensor samples (``image_<modality>`` + ``label``)."""

from collections.abc import Mapping, Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample


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

    Normalisation statistics are part of the DataModule's state, so they are saved in
    every Lightning checkpoint and prediction can apply exactly the same preprocessing.

    Args:
        dataset_class: Dataset whose ``__init__`` takes ``split``.
        modalities: Modality names, matching the dataset's ``image_<modality>`` keys.
        mean: Per-band mean of each modality; None computes it from the training split.
        std: Per-band standard deviation of each modality; None computes it likewise.
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
        mean: Mapping[str, Sequence[float]] | None = None,
        std: Mapping[str, Sequence[float]] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        augment: bool = True,
        stats_samples: int = 512,
        **kwargs: Any,
    ) -> None:
        """Initialize a new MultiModalDataModule instance."""
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.modalities = list(modalities)
        self.stats_samples = stats_samples
        self.band_mean: dict[str, Tensor] = {}
        self.band_std: dict[str, Tensor] = {}
        if mean is not None and std is not None:
            self.set_statistics(mean, std)
        self.train_aug = reference_augmentation() if augment else None

    def set_statistics(
        self, mean: Mapping[str, Sequence[float]], std: Mapping[str, Sequence[float]]
    ) -> None:
        """Set the per-band normalisation statistics of every modality.

        Args:
            mean: Per-band mean of each modality.
            std: Per-band standard deviation of each modality.

        Raises:
            ValueError: If a modality is missing from ``mean`` or ``std``.
        """
        missing = [m for m in self.modalities if m not in mean or m not in std]
        if missing:
            msg = f'normalisation statistics missing for modalities {missing}'
            raise ValueError(msg)
        self.band_mean = {
            m: torch.as_tensor(mean[m], dtype=torch.float32) for m in self.modalities
        }
        self.band_std = {
            m: torch.as_tensor(std[m], dtype=torch.float32) for m in self.modalities
        }

    def estimate_statistics(self) -> None:
        """Estimate per-band mean and std from the first samples of the training split."""
        dataset = self.dataset_class(split='train', **self.kwargs)  # type: ignore[call-arg]
        n = min(len(dataset), self.stats_samples)
        samples = [dataset[i] for i in range(n)]
        mean, std = {}, {}
        for m in self.modalities:
            x = (
                torch.stack([s[f'image_{m}'] for s in samples])
                .transpose(0, 1)
                .flatten(1)
            )
            mean[m], std[m] = x.mean(1).tolist(), x.std(1).clamp_min(1e-6).tolist()
        self.set_statistics(mean, std)

    def setup(self, stage: str) -> None:
        """Set up datasets, estimating normalisation statistics if none were given.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        if not self.band_mean:
            self.estimate_statistics()
        super().setup(stage)

    def normalize(self, batch: Sample) -> Sample:
        """Standardise every ``image_<modality>`` of a batch with its own statistics.

        Args:
            batch: Batch on any device.

        Returns:
            The batch, with normalised images.
        """
        for m in self.modalities:
            key = f'image_{m}'
            if key in batch:
                x = batch[key]
                mean = self.band_mean[m].to(x.device)[:, None, None]
                std = self.band_std[m].to(x.device)[:, None, None]
                batch[key] = (x - mean) / std
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
        """Normalisation statistics, saved into checkpoints.

        Returns:
            Per-band mean and std of every modality.
        """
        return {
            'mean': {m: v.tolist() for m, v in self.band_mean.items()},
            'std': {m: v.tolist() for m, v in self.band_std.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore normalisation statistics from a checkpoint.

        Args:
            state_dict: Output of :meth:`state_dict`.
        """
        self.set_statistics(state_dict['mean'], state_dict['std'])
