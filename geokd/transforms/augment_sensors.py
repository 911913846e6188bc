"""Augment multi-sensor batches: jointly when paired, independently when unpaired."""

from collections.abc import Sequence
from typing import Literal

import kornia.augmentation as K
from torch import nn
from torchgeo.datasets.utils import Sample

from .flip_rotate import RandomFlipRotate90

#: What a DataModule's ``augmentation`` argument takes: a preset name, or kornia
#: augmentations (in a YAML config: a list of ``class_path``/``init_args``).
Augmentation = Literal['reference', 'none'] | Sequence[nn.Module]


class AugmentSensors(nn.Module):
    """Kornia augmentations applied to every ``image_<modality>`` of a batch.

    A paired batch (one ``label`` or ``mask`` for all sensors) is augmented with the
    same random parameters for every sensor, so co-registered images stay
    co-registered. An unpaired batch (``label_<modality>`` or ``mask_<modality>``
    keys, samples that do not correspond) is augmented independently per modality.
    Segmentation masks (``mask``, ``mask_<modality>``, ``(B, H, W)`` class indices)
    get the same draw as the images they label, as kornia transforms masks (nearest
    neighbour, integers kept). Other keys pass through.

    Args:
        augmentations: Kornia augmentations, applied in order.
    """

    def __init__(self, augmentations: Sequence[nn.Module]) -> None:
        """Initialize a new AugmentSensors instance."""
        super().__init__()
        # kornia's hint names its own augmentation classes, but its containers
        # also apply any other Module a config lists.
        self.augment = K.AugmentationSequential(
            *augmentations,  # type: ignore[arg-type]
            data_keys=None,
            keepdim=True,
        )

    def forward(self, batch: Sample) -> Sample:
        """Augment the images of a batch.

        Args:
            batch: ``image_<modality>`` tensors ``(B, C, H, W)``, optionally masks
                ``(B, H, W)``, and other keys.

        Returns:
            A new dict with augmented images and masks.
        """
        images = {k: v for k, v in batch.items() if k.startswith('image_')}
        if any(k.startswith(('label_', 'mask_')) for k in batch):
            augmented = {}
            for key, image in images.items():
                mask_key = f'mask_{key.removeprefix("image_")}'
                together = {key: image}
                if mask_key in batch:
                    together[mask_key] = batch[mask_key]
                augmented.update(self.augment(together))
        else:
            together = {
                **images,
                **({'mask': batch['mask']} if 'mask' in batch else {}),
            }
            augmented = self.augment(together)
        return {**batch, **augmented}


def build_augmentation(augmentation: Augmentation) -> AugmentSensors | None:
    """Resolve a DataModule's ``augmentation`` argument.

    Args:
        augmentation: 'reference' (:class:`RandomFlipRotate90` with the DisCoM-KD
            reference's probabilities), 'none', or kornia augmentations.

    Returns:
        The augmentation, or None for no augmentation.

    Raises:
        ValueError: On an unknown preset name.
    """
    if isinstance(augmentation, str):
        if augmentation == 'none':
            return None
        if augmentation == 'reference':
            return AugmentSensors([RandomFlipRotate90()])
        msg = (
            "augmentation must be 'reference', 'none' or a list of kornia "
            f'augmentations, got {augmentation!r}'
        )
        raise ValueError(msg)
    if not augmentation:
        return None
    return AugmentSensors(augmentation)
