"""The paper's multi-modal teacher network: one trunk per sensor, features summed."""

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from .backbone import TrunkInit, Weights, create_trunk, feature_dim


class SumFusionClassifier(nn.Module):
    """Classify co-registered images of several sensors from their summed features.

    Args:
        in_channels: Channel count per modality.
        num_classes: Number of task classes.
        backbone: timm model name of every trunk.
        weights: Initial trunk weights per modality (missing ones start random).
        trunk_init: Initialisation of trunks without pretrained weights, see
            :func:`~geokd.models.create_trunk`.
    """

    def __init__(
        self,
        in_channels: Mapping[str, int],
        num_classes: int,
        backbone: str = 'resnet18',
        weights: Mapping[str, Weights] | None = None,
        trunk_init: TrunkInit = 'torchvision',
    ) -> None:
        """Initialize a new SumFusionClassifier instance."""
        super().__init__()
        weights = weights or {}
        self.trunks = nn.ModuleDict(
            {
                m: create_trunk(backbone, c, weights.get(m), trunk_init)
                for m, c in in_channels.items()
            }
        )
        first = next(iter(self.trunks.values()))
        self.head = nn.Linear(feature_dim(first), num_classes)

    def forward(self, images: Mapping[str, Tensor]) -> Tensor:
        """Sum the features of every sensor and classify.

        Args:
            images: Normalised images of every modality, same batch size.

        Returns:
            Logits ``(B, num_classes)``.
        """
        features = torch.stack([trunk(images[m]) for m, trunk in self.trunks.items()])
        logits: Tensor = self.head(features.sum(dim=0))
        return logits
