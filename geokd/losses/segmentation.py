"""DisCoM-KD's loss terms and pixel-wise KD for segmentation, as small pure functions.

The classification terms of :mod:`geokd.losses.discomkd` already work on maps
(PyTorch's cross-entropy and cosine take ``(N, C, H, W)``); what segmentation adds is
here: unlabelled pixels, auxiliary logits of a coarser scale than the mask, modality
labels per location, and several scales. The choice behind each term is written in
``docs/concepts.md``.
"""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .discomkd import adversarial_loss, modality_loss, orthogonality_loss
from .kd import kd_loss

#: Mask value of unlabelled pixels (Sen1Floods11's hand labels use -1).
IGNORE_INDEX = -1


def pixel_classification_loss(
    logits: Tensor, mask: Tensor, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """``L_cl`` per pixel: cross-entropy over the labelled pixels.

    Args:
        logits: Per-pixel logits ``(N, K, H, W)``.
        mask: Class indices ``(N, H, W)``; ``ignore_index`` marks unlabelled pixels.
        ignore_index: Mask value that does not count.

    Returns:
        Scalar mean over labelled pixels; 0 (still connected to the graph) when no
        pixel is labelled, where PyTorch's mean would be NaN.
    """
    if not (mask != ignore_index).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, mask, ignore_index=ignore_index)


def upsampled_auxiliary_loss(
    aux_inf: Tensor, aux_inv: Tensor, mask: Tensor, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """``L_aux`` of one scale: ``C_aux`` classifies every pixel from ``z_inf`` and ``z_inv``.

    The coarse logits are upsampled bilinearly to the mask (as PSPNet's and
    DeepLab's auxiliary heads are), so no label is lost to downsampling the mask.

    Args:
        aux_inf: ``C_aux(z_inf)``, ``(N, K, h, w)``.
        aux_inv: ``C_aux(z_inv)``, ``(N, K, h, w)``.
        mask: Class indices ``(N, H, W)``.
        ignore_index: Mask value that does not count.

    Returns:
        Scalar loss, the sum of both cross-entropies.
    """
    size = mask.shape[-2:]

    def up(x: Tensor) -> Tensor:
        return F.interpolate(x, size=size, mode='bilinear', align_corners=False)

    return pixel_classification_loss(
        up(aux_inf), mask, ignore_index
    ) + pixel_classification_loss(up(aux_inv), mask, ignore_index)


def location_labels(modality: Tensor, like: Tensor) -> Tensor:
    """The modality label of every sample repeated at every location of a map.

    Args:
        modality: Integer modality labels ``(N,)``.
        like: A map ``(N, C, h, w)``.

    Returns:
        ``(N, h, w)`` labels.
    """
    n, _, h, w = like.shape
    return modality.view(n, 1, 1).expand(n, h, w)


def modality_map_loss(mod_inf: Tensor, mod_irr: Tensor, modality: Tensor) -> Tensor:
    """``L_mod`` of one scale: every location of ``z_inf`` and ``z_irr`` reveals its sensor.

    Args:
        mod_inf: ``D_inf(z_inf)``, ``(N, M, h, w)``.
        mod_irr: ``D_irr(z_irr)``, ``(N, M, h, w)``.
        modality: Integer modality labels ``(N,)``.

    Returns:
        Scalar loss: :func:`~geokd.losses.modality_loss` over all locations.
    """
    return modality_loss(mod_inf, mod_irr, location_labels(modality, mod_inf))


def adversarial_map_loss(mod_adv: Tensor, modality: Tensor) -> Tensor:
    """``L_adv`` of one scale, per location of ``D_adv(GRL(z_inv))``.

    Args:
        mod_adv: ``D_adv(GRL(z_inv))``, ``(N, M, h, w)``.
        modality: Integer modality labels ``(N,)``.

    Returns:
        Scalar loss: :func:`~geokd.losses.adversarial_loss` over all locations.
    """
    return adversarial_loss(mod_adv, location_labels(modality, mod_adv))


def orthogonality_map_loss(z_inf: Tensor, z_irr: Tensor, z_inv: Tensor) -> Tensor:
    """``L_perp`` of one scale: ``z_inf`` orthogonal to ``z_irr`` and ``z_inv`` everywhere.

    Args:
        z_inf: ``(N, D, h, w)``.
        z_irr: ``(N, D, h, w)``.
        z_inv: ``(N, D, h, w)``.

    Returns:
        Scalar loss, the mean cosines over locations (the channel axis is dim 1).
    """
    return orthogonality_loss(z_inf, z_irr, z_inv)


def mean_over_scales(term: Callable[..., Tensor], *maps: Sequence[Tensor]) -> Tensor:
    """Average one loss term over the scales of a multi-scale output.

    Args:
        term: The term of one scale, called with one map of each argument.
        *maps: Per argument, one map per scale (all of the same length); a tensor
            that is the same at every scale (labels) may be given as a one-element
            tuple, which is repeated.

    Returns:
        Scalar mean over scales, so the term weighs the same whatever the depth.
    """
    scales = max(len(m) for m in maps)
    args = [list(m) * scales if len(m) == 1 else list(m) for m in maps]
    return torch.stack([term(*a) for a in zip(*args, strict=True)]).mean()


def pixel_kd_loss(
    student: Tensor,
    teacher: Tensor,
    temperature: float = 4.0,
    mask: Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> Tensor:
    """Hinton's KD at every pixel: ``T**2 * KL(softmax(t / T) || softmax(s / T))``.

    Args:
        student: Student logits ``(N, K, H, W)``.
        teacher: Teacher logits ``(N, K, H, W)``, detached.
        temperature: Softening temperature ``T``.
        mask: Optional class indices ``(N, H, W)``: pixels at ``ignore_index``
            (outside the sensor's footprint, unlabelled) are left out.
        ignore_index: Mask value of those pixels.

    Returns:
        Scalar mean over the pixels kept; 0 when none is.
    """
    k = student.shape[1]
    s = student.permute(0, 2, 3, 1).reshape(-1, k)
    t = teacher.permute(0, 2, 3, 1).reshape(-1, k)
    if mask is not None:
        keep = mask.reshape(-1) != ignore_index
        s, t = s[keep], t[keep]
    if len(s) == 0:
        return student.sum() * 0.0
    return kd_loss(s, t, temperature)
