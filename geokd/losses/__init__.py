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
from .kd import (
    batch_correlation_loss,
    class_correlation_loss,
    dkd_loss,
    dkd_warmup,
    kd_loss,
    mlkd_loss,
    standardize_logits,
)

__all__ = [
    'LossWeights',
    'adversarial_loss',
    'auxiliary_loss',
    'batch_correlation_loss',
    'class_correlation_loss',
    'classification_loss',
    'discomkd_loss',
    'dkd_loss',
    'dkd_warmup',
    'kd_loss',
    'mean_cosine',
    'mlkd_loss',
    'modality_loss',
    'orthogonality_loss',
    'standardize_logits',
]
