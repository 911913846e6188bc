"""Blending the per-pixel probabilities of overlapping patches into one seamless map.

A segmenter is least reliable near the borders of its input (its receptive field is
cut there), and neighbouring patches disagree most there. Averaging overlapping
patches with equal weights still leaves a step wherever one patch's border begins;
weighting each pixel by a window that falls off towards the patch's borders makes
every pixel a smooth mixture of the patches covering it.
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def blend_window(size: int, floor: float = 1e-3) -> Tensor:
    """A separable tent window, highest at the centre of a patch.

    Args:
        size: Side of the patch in pixels.
        floor: Smallest weight, at the corners: every pixel keeps a positive weight,
            so a pixel covered by one patch only (the scene's border) still gets it.

    Returns:
        Weights ``(size, size)`` in ``[floor, 1]``.

    Raises:
        ValueError: If ``size`` is not positive or ``floor`` not in ``(0, 1]``.
    """
    if size < 1:
        msg = f'patch size must be positive, got {size}'
        raise ValueError(msg)
    if not 0 < floor <= 1:
        msg = f'floor must be in (0, 1], got {floor}'
        raise ValueError(msg)
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    tent = 1 - (2 * centres - 1).abs()
    return torch.outer(tent, tent).clamp(min=floor).float()


def blend_patches(
    probs: Tensor, keep: Tensor, stride: int, window: Tensor | None = None
) -> Tensor:
    """Weighted mean of overlapping patch probabilities at every pixel.

    The patches lie on a regular grid (those ``Tensor.unfold`` cuts with ``stride``),
    so their weighted sum is ``F.fold``, the exact inverse of that cut.

    Args:
        probs: Per-pixel class probabilities of every patch, ``(nr, nc, K, p, p)``.
        keep: Which patches count, ``(nr, nc)`` boolean (others were not segmented).
        stride: Pixels between neighbouring patches (at most ``p``).
        window: Weights ``(p, p)``; None takes :func:`blend_window`.

    Returns:
        ``(K, (nr - 1) * stride + p, (nc - 1) * stride + p)`` probabilities; NaN
        where no kept patch covers a pixel.

    Raises:
        ValueError: If ``stride`` leaves gaps between patches.
    """
    nr, nc, k, p, _ = probs.shape
    if not 0 < stride <= p:
        msg = f'stride {stride} must be in 1..{p} (the patch size) to cover every pixel'
        raise ValueError(msg)
    weights = blend_window(p) if window is None else window
    weights = weights.to(probs) * keep.to(probs)[..., None, None]  # (nr, nc, p, p)
    size = ((nr - 1) * stride + p, (nc - 1) * stride + p)

    def fold(x: Tensor, channels: int) -> Tensor:
        # (nr, nc, C, p, p) -> (1, C * p * p, nr * nc), the layout F.fold reads.
        cols = x.reshape(nr * nc, channels * p * p).T[None]
        return F.fold(cols, size, kernel_size=p, stride=stride)[0]

    total = fold(probs * weights[:, :, None], k)
    weight = fold(weights[:, :, None], 1)
    return torch.where(weight > 0, total / weight.clamp(min=1e-12), torch.nan)
