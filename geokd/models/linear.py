"""The paper's single-sensor baseline network: a trunk and a linear head."""

from torch import nn

from .backbone import TrunkInit, Weights, create_trunk, feature_dim


def linear_classifier(
    in_chans: int,
    num_classes: int,
    backbone: str,
    weights: Weights = None,
    trunk_init: TrunkInit = 'torchvision',
) -> nn.Sequential:
    """A timm trunk followed by a linear head: the paper's single-modal network.

    Args:
        in_chans: Number of input channels of the sensor.
        num_classes: Number of task classes.
        backbone: timm model name (``resnet18`` in the paper).
        weights: Initial trunk weights, see :data:`~geokd.models.Weights`.
        trunk_init: Initialisation of a trunk without pretrained weights, see
            :func:`~geokd.models.create_trunk`.

    Returns:
        A module mapping images ``(B, in_chans, H, W)`` to logits ``(B, num_classes)``.
    """
    trunk = create_trunk(backbone, in_chans, weights, trunk_init)
    return nn.Sequential(trunk, nn.Linear(feature_dim(trunk), num_classes))
