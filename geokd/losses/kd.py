"""Teacher/student distillation losses of the paper's competitors, as pure functions.

* :func:`kd_loss`: classical knowledge distillation (Hinton et al., 2015).
* :func:`dkd_loss`: decoupled KD (Zhao et al., CVPR 2022), with :func:`dkd_warmup`.
* :func:`mlkd_loss`: multi-level logit distillation (Jin et al., CVPR 2023).
* :func:`standardize_logits`: logit standardisation (Sun et al., CVPR 2024), applied
  to student and teacher logits before any of the above.

Every function takes raw student and teacher logits ``(N, K)``; teacher logits are
treated as constants (detach them before calling). Reductions follow the authors'
code (mdistiller and the logit-standardisation repository): sums over classes,
means over the batch, KL terms scaled by ``T**2``.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def standardize_logits(logits: Tensor, eps: float = 1e-7) -> Tensor:
    """Z-score each sample's logits (Sun et al., 2024).

    Args:
        logits: Logits ``(N, K)``.
        eps: Added to the standard deviation to avoid division by zero.

    Returns:
        ``(logits - mean) / (std + eps)`` per row, with the unbiased std as in the
        authors' code.
    """
    mean = logits.mean(dim=1, keepdim=True)
    std = logits.std(dim=1, keepdim=True)
    return (logits - mean) / (std + eps)


def kd_loss(student: Tensor, teacher: Tensor, temperature: float = 4.0) -> Tensor:
    """Classical KD: ``T**2 * KL(softmax(t / T) || softmax(s / T))``.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        temperature: Softening temperature ``T`` (paper: 4).

    Returns:
        Scalar loss, averaged over samples.
    """
    log_p_student = F.log_softmax(student / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction='batchmean', log_target=True)
    return kl * temperature**2


def _binary_kl(p_student: Tensor, p_teacher: Tensor) -> Tensor:
    """KL divergence between rows of two-way distributions ``(N, 2)``, summed over rows."""
    return (p_teacher * (p_teacher.log() - p_student.log())).sum()


def dkd_loss(
    student: Tensor,
    teacher: Tensor,
    labels: Tensor,
    alpha: float = 1.0,
    beta: float = 8.0,
    temperature: float = 4.0,
) -> Tensor:
    """Decoupled KD: ``alpha * TCKD + beta * NCKD`` (Zhao et al., 2022).

    TCKD is the KL divergence of the binary (target class, all others) distributions;
    NCKD the KL divergence of the distributions over the non-target classes only.
    Both are scaled by ``T**2`` and averaged over samples.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        labels: Ground-truth class indices ``(N,)``.
        alpha: Weight of TCKD (paper: 1).
        beta: Weight of NCKD (paper: 8).
        temperature: Softening temperature ``T`` (paper: 4).

    Returns:
        Scalar loss (to be multiplied by :func:`dkd_warmup`).
    """
    n = len(labels)
    target = F.one_hot(labels, student.shape[1]).bool()
    p_s = F.softmax(student / temperature, dim=1)
    p_t = F.softmax(teacher / temperature, dim=1)

    def binary(p: Tensor) -> Tensor:
        p_target = p.masked_fill(~target, 0).sum(dim=1)
        return torch.stack([p_target, 1 - p_target], dim=1)

    tckd = _binary_kl(binary(p_s), binary(p_t)) * temperature**2 / n
    # Masking the target logit out before the softmax gives the distribution over
    # the other classes; -inf would make 0 * log 0 terms NaN, so a large offset.
    offset = 1000.0 * target
    log_q_s = F.log_softmax(student / temperature - offset, dim=1)
    log_q_t = F.log_softmax(teacher / temperature - offset, dim=1)
    nckd = F.kl_div(log_q_s, log_q_t, reduction='sum', log_target=True)
    nckd = nckd * temperature**2 / n
    return alpha * tckd + beta * nckd


def dkd_warmup(epoch: int, warmup_epochs: int = 20) -> float:
    """DKD's linear warm-up factor ``min(epoch / warmup_epochs, 1)``.

    Args:
        epoch: Current epoch, counted from 1 as in the authors' trainer.
        warmup_epochs: Epochs over which the factor rises to 1 (paper: 20).

    Returns:
        The factor in [0, 1].
    """
    if warmup_epochs <= 0:
        return 1.0
    return min(max(epoch, 0) / warmup_epochs, 1.0)


def batch_correlation_loss(
    student: Tensor, teacher: Tensor, temperature: float
) -> Tensor:
    """MLKD's batch level: match the ``(N, N)`` Gram matrices of the predictions.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        temperature: Softening temperature.

    Returns:
        ``sum((G_t - G_s)**2) / N`` with ``G = P P^T``.
    """
    p_s = F.softmax(student / temperature, dim=1)
    p_t = F.softmax(teacher / temperature, dim=1)
    return ((p_t @ p_t.T - p_s @ p_s.T) ** 2).sum() / len(student)


def class_correlation_loss(
    student: Tensor, teacher: Tensor, temperature: float
) -> Tensor:
    """MLKD's class level: match the ``(K, K)`` class correlation matrices.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        temperature: Softening temperature.

    Returns:
        ``sum((C_t - C_s)**2) / K`` with ``C = P^T P``.
    """
    p_s = F.softmax(student / temperature, dim=1)
    p_t = F.softmax(teacher / temperature, dim=1)
    return ((p_t.T @ p_t - p_s.T @ p_s) ** 2).sum() / student.shape[1]


def mlkd_loss(
    student: Tensor,
    teacher: Tensor,
    temperatures: Sequence[float] = (2.0, 3.0, 4.0, 5.0, 6.0),
) -> Tensor:
    """Multi-level logit distillation: instance, batch and class levels over temperatures.

    The sum over ``temperatures`` of :func:`kd_loss` (instance level),
    :func:`batch_correlation_loss` and :func:`class_correlation_loss`. The authors'
    prediction-confidence masks and second, strongly augmented view are left out:
    every baseline here shares one data pipeline.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        temperatures: Temperatures to sum over (paper: 2 to 6).

    Returns:
        Scalar loss.

    Raises:
        ValueError: If ``temperatures`` is empty.
    """
    if not temperatures:
        msg = 'mlkd_loss needs at least one temperature'
        raise ValueError(msg)
    return torch.stack(
        [
            kd_loss(student, teacher, t)
            + batch_correlation_loss(student, teacher, t)
            + class_correlation_loss(student, teacher, t)
            for t in temperatures
        ]
    ).sum()
