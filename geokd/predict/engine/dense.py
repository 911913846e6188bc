"""Dense (shared-trunk) evaluation of a patch classifier: one class per fine cell.

A patch classifier is a trunk, a global average pool and a head. Running the trunk
once over a whole window instead of once per patch, then averaging its feature map
over a patch-sized box centred on every output cell and applying the head there,
gives every cell its class at the cost of about one pass over the window's pixels
(Long et al., "Fully convolutional networks", CVPR 2015, section 3.1). A trunk of
output stride 32 gives 32 px cells; finer cells (16, 8 px) come from the same trunk
with its last strides replaced by dilation (timm's ``output_stride``: the "a trous"
form of shift-and-stitch, sharing the early layers between the shifts).

This is not per-patch evaluation: a patch classified alone is zero-padded at its own
borders and (with per-patch normalisation) standardised by its own statistics, while
the shared trunk sees the patch's neighbours and each pixel is standardised by the
patch-sized box around it. ``--evaluation patch`` keeps the exact per-patch answer.
"""

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from kornia.enhance import normalize
from torch import Tensor, nn

from geokd.models.discomkd import ModalityBranch
from geokd.transforms.normalization import PATCH_STD_FLOOR, SensorNormalization

#: Cell sizes (px) dense evaluation offers: the output strides of a dilated trunk.
DENSE_STRIDES = (8, 16, 32)


def check_dense_stride(stride: int, patch_size: int) -> None:
    """Refuse a cell size dense evaluation cannot give.

    Args:
        stride: Cell size in pixels.
        patch_size: The model's patch size.

    Raises:
        ValueError: Unless ``stride`` is 8, 16 or 32 and smaller than the patch and
            dividing it.
    """
    if stride not in DENSE_STRIDES or stride >= patch_size or patch_size % stride:
        msg = (
            f'--stride {stride}: dense evaluation gives cells of 8, 16 or 32 px, '
            f'smaller than the patch ({patch_size} px) and dividing it'
        )
        raise ValueError(msg)


def _dilated(trunk: nn.Module, backbone: str, in_chans: int, stride: int) -> nn.Module:
    """A copy of a timm trunk (same weights) with output stride ``stride``."""
    import timm

    if not hasattr(trunk, 'forward_features'):
        msg = f'{backbone}: dense evaluation needs a convolutional timm trunk'
        raise ValueError(msg)
    dense = timm.create_model(
        backbone, num_classes=0, in_chans=in_chans, output_stride=stride
    )
    dense.load_state_dict(trunk.state_dict())
    return same_kernels_at_any_thread_count(dense).eval()


def same_kernels_at_any_thread_count(module: nn.Module) -> nn.Module:
    """Make every 1 x 1 convolution run the same CPU kernel whatever the threads.

    PyTorch runs a float32 CPU convolution with a 1 x 1 kernel, stride 1 and no
    dilation on a batch under 16 through oneDNN when it has several threads and
    through its own kernel when it has one (``use_mkldnn`` in ATen's
    Convolution.cpp), and the two differ in the last bits. Dense evaluation runs
    one window at a time, so a serial run and ``--workers`` (one thread each on two
    cores) gave different probabilities. A dilation changes nothing for a 1 x 1
    kernel but sends it to oneDNN at any thread count (as per-patch evaluation's
    batches of 64 do).

    Args:
        module: The network, changed in place.

    Returns:
        The same network.
    """
    for conv in module.modules():
        if (
            isinstance(conv, nn.Conv2d)
            and conv.kernel_size == (1, 1)
            and conv.stride == (1, 1)
            and conv.dilation == (1, 1)
        ):
            conv.dilation = (2, 2)
    return module


class DenseClassifier(nn.Module):
    """A patch classifier evaluated on a box centred on every cell of a window.

    Args:
        model: The single-sensor classifier as exported (a DisCoM-KD branch, or a
            trunk and a linear head).
        backbone: timm name of its trunk(s).
        in_chans: Its input bands.
        patch_size: Its patch size in pixels.
        stride: Cell size in pixels (:func:`check_dense_stride`).

    Raises:
        ValueError: If the cell size is not offered, or the trunk has no feature map.
    """

    def __init__(
        self,
        model: nn.Module,
        backbone: str,
        in_chans: int,
        patch_size: int,
        stride: int,
    ) -> None:
        """Initialize a new DenseClassifier instance."""
        super().__init__()
        check_dense_stride(stride, patch_size)
        self.stride = stride
        #: Cells per patch side; the pooling box is ``k + 1`` cells, centred.
        self.k = patch_size // stride
        # A DisCoM-KD branch (two trunks, projection, head) or a linear classifier
        # (nn.Sequential of a trunk and a head, geokd.models.linear).
        self.branch: ModalityBranch | None = None
        self.head: nn.Module | None = None
        trunks: tuple[nn.Module, ...]
        if isinstance(model, ModalityBranch):
            self.branch = model
            trunks = (model.e_inv, model.e_spec)
        else:
            sequential = cast(nn.Sequential, model)
            trunks, self.head = (sequential[0],), sequential[1]
        self.trunks = nn.ModuleList(
            _dilated(t, backbone, in_chans, stride) for t in trunks
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the box centred on every cell.

        Args:
            x: Normalised pixels ``(B, C, H, W)``, ``H`` and ``W`` multiples of the
                stride.

        Returns:
            ``(B, K, H / stride, W / stride)`` logits.
        """
        pooled = []
        for trunk in self.trunks:
            # timm trunks (checked by _dilated); nn.Module's typing doesn't know it.
            features = cast(Callable[[Tensor], Tensor], trunk.forward_features)
            f = features(x)
            f = F.avg_pool2d(
                f, self.k + 1, stride=1, padding=self.k // 2, count_include_pad=False
            )
            pooled.append(f)
        b, _, rows, cols = pooled[0].shape
        flat = [p.permute(0, 2, 3, 1).reshape(b * rows * cols, -1) for p in pooled]
        if self.branch is not None:
            z_inv = self.branch.proj(flat[0])
            z_inf = flat[1][:, : self.branch.embed_dim]
            logits: Tensor = self.branch.head(torch.cat([z_inv, z_inf], dim=1))
        else:
            assert self.head is not None  # set with the trunk of a linear classifier
            logits = self.head(flat[0])
        return logits.reshape(b, rows, cols, -1).permute(0, 3, 1, 2)


def box_sum(t: Tensor, size: int) -> Tensor:
    """Sum over the ``size x size`` box around every pixel, zero outside the array.

    The box of pixel ``i`` spans ``i - size // 2`` to ``i - size // 2 + size - 1`` along
    each axis (centred; one pixel more before the centre for an even size), as
    ``avg_pool2d(t, size, stride=1, padding=size // 2) * size**2``, but through
    cumulative sums: linear in the pixels, not in ``size**2`` times them.

    Args:
        t: ``(..., H, W)`` values.
        size: Box side in pixels.

    Returns:
        Box sums of ``t``'s shape, in float64.
    """
    before = size // 2
    for dim in (-2, -1):
        n = t.shape[dim]
        pad = [0, 0] * (-dim - 1) + [before + 1, size - before]
        c = F.pad(t.double() if t.dtype != torch.float64 else t, pad).cumsum(dim)
        t = c.narrow(dim, size, n) - c.narrow(dim, 0, n)
    return t


def local_standardize(x: Tensor, valid: Tensor, size: int) -> Tensor:
    """Standardise every pixel by the statistics of the box of ``size`` around it.

    The dense counterpart of per-patch standardisation
    (:func:`~geokd.transforms.normalization.standardize_patches`), over valid pixels.

    Args:
        x: ``(B, C, H, W)`` values.
        valid: ``(B, 1, H, W)`` boolean mask of the pixels to use.
        size: Box side in pixels (the patch size).

    Returns:
        Standardised values (float32), 0 where invalid.
    """
    x = torch.where(valid, x, 0.0).double()
    count = box_sum(valid.double(), size).clamp_min(1)
    mean = box_sum(x, size) / count
    std = (box_sum(x * x, size) / count - mean.square()).clamp_min(0).sqrt()
    out = ((x - mean) / std.clamp_min(PATCH_STD_FLOOR)).float()
    return torch.where(valid & (std > PATCH_STD_FLOOR), out, 0.0)


def dense_normalize(
    norm: SensorNormalization, x: Tensor, valid: Tensor, patch_size: int
) -> Tensor:
    """Preprocess a window as the model's patches are preprocessed.

    Pointwise methods apply as they are; per-patch standardisation becomes
    :func:`local_standardize` over boxes of the patch size.

    Args:
        norm: The model's preprocessing.
        x: Raw pixels ``(B, C, H, W)``.
        valid: ``(B, 1, H, W)`` valid pixels.
        patch_size: The patch size.

    Returns:
        Normalised pixels, 0 where invalid.
    """
    if norm.method != 'per_patch':
        return torch.where(valid, norm(torch.where(valid, x, 0.0)), 0.0)
    x = x.float()
    if norm.to_db:
        x = 10 * torch.log10(x.clamp_min(1e-10))
    x = local_standardize(x, valid, patch_size)
    shift = torch.tensor(norm.shift, device=x.device)
    scale = torch.tensor(norm.scale, device=x.device)
    return torch.where(valid, normalize(x, shift, scale), 0.0)
