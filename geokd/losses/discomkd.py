"""The five DisCoM-KD loss terms, as small pure functions.

Every term takes tensors already concatenated over modalities (the embeddings of all
modalities stacked along the batch axis) and averages over those samples. Modality
targets are integer class indices: the reference code's all-ones / all-zeros float
targets (read by PyTorch as class probabilities) do not teach the modality classifiers
anything, see ``method.md``.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """``L_cl``: cross-entropy of the per-modality task heads.

    Args:
        logits: ``C[m](concat(z_inv, z_inf))`` of every sample, ``(N, K)``.
        labels: Class indices, ``(N,)``.

    Returns:
        Scalar loss.
    """
    return F.cross_entropy(logits, labels)


def auxiliary_loss(aux_inf: Tensor, aux_inv: Tensor, labels: Tensor) -> Tensor:
    """``L_aux``: the shared head ``C_aux`` must classify from ``z_inf`` and from ``z_inv``.

    Args:
        aux_inf: ``C_aux(z_inf)``, ``(N, K)``.
        aux_inv: ``C_aux(z_inv)``, ``(N, K)``.
        labels: Class indices, ``(N,)``.

    Returns:
        Scalar loss, the sum of both cross-entropies.
    """
    return F.cross_entropy(aux_inf, labels) + F.cross_entropy(aux_inv, labels)


def modality_loss(mod_inf: Tensor, mod_irr: Tensor, modality: Tensor) -> Tensor:
    """``L_mod``: both halves of ``E_spec`` must reveal which sensor they came from.

    As in the reference code, one cross-entropy mean over the concatenation of both
    classifiers' logits: with as many ``z_inf`` as ``z_irr`` rows, this is the mean
    (not the sum) of the two cross-entropies, so ``L_mod`` weighs as much as
    ``L_adv`` in the total loss.

    Args:
        mod_inf: ``D_inf(z_inf)``, ``(N, M)``.
        mod_irr: ``D_irr(z_irr)``, ``(N, M)``.
        modality: Integer modality labels, ``(N,)``.

    Returns:
        Scalar loss, the cross-entropy over all ``2 N`` rows.
    """
    logits = torch.cat([mod_inf, mod_irr])
    return F.cross_entropy(logits, torch.cat([modality, modality]))


def adversarial_loss(mod_adv: Tensor, modality: Tensor) -> Tensor:
    """``L_adv``: cross-entropy of the modality discriminator on ``GRL(z_inv)``.

    The discriminator minimises it; through the gradient reversal the invariant
    encoder maximises it, which makes ``z_inv`` modality-invariant.

    Args:
        mod_adv: ``D_adv(GRL(z_inv))``, ``(N, M)``.
        modality: Integer modality labels, ``(N,)``.

    Returns:
        Scalar loss.
    """
    return F.cross_entropy(mod_adv, modality)


def mean_cosine(a: Tensor, b: Tensor) -> Tensor:
    """Mean cosine similarity of paired rows of ``a`` and ``b``.

    Args:
        a: Embeddings, ``(N, D)``.
        b: Embeddings, ``(N, D)``.

    Returns:
        Scalar in [-1, 1]; 0 when every pair is orthogonal.
    """
    return F.cosine_similarity(a, b, dim=1).mean()


def orthogonality_loss(z_inf: Tensor, z_irr: Tensor, z_inv: Tensor) -> Tensor:
    """``L_perp``: ``z_inf`` orthogonal to both ``z_irr`` and ``z_inv``.

    Args:
        z_inf: Modality-informative embeddings, ``(N, D)``.
        z_irr: Modality-irrelevant embeddings, ``(N, D)``.
        z_inv: Modality-invariant embeddings, ``(N, D)``.

    Returns:
        Scalar loss ``mean cos(z_inf, z_irr) + mean cos(z_inf, z_inv)``.
    """
    return mean_cosine(z_inf, z_irr) + mean_cosine(z_inf, z_inv)


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term in the total loss; 0 is the paper's ablation "without" it.

    Attributes:
        cl: Weight of ``L_cl``.
        aux: Weight of ``L_aux``.
        mod: Weight of ``L_mod``.
        adv: Weight of ``L_adv``.
        perp: Weight of ``L_perp``.
    """

    cl: float = 1.0
    aux: float = 1.0
    mod: float = 1.0
    adv: float = 1.0
    perp: float = 1.0


def discomkd_loss(
    terms: Mapping[str, Tensor], weights: LossWeights = LossWeights()
) -> Tensor:
    """Weighted sum of the loss terms.

    Args:
        terms: Values of ``'cl'``, ``'aux'``, ``'mod'``, ``'adv'`` and ``'perp'``.
        weights: Weight of each term.

    Returns:
        Scalar total loss.
    """
    return torch.stack([getattr(weights, k) * v for k, v in terms.items()]).sum()
