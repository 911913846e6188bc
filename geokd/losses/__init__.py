"""Loss functions of geokd, as small pure functions."""

from .discomkd import (
    LossWeights,
    adversarial_loss,
    auxiliary_loss,
    classification_loss,
    discomkd_loss,
    mean_cosine,
    modality_loss,
    orthogonality_loss,
)

__all__ = [
    'LossWeights',
    'adversarial_loss',
    'auxiliary_loss',
    'classification_loss',
    'discomkd_loss',
    'mean_cosine',
    'modality_loss',
    'orthogonality_loss',
]
