"""Per-sensor input preprocessing, shared by training and prediction.

A :class:`SensorNormalization` is plain data (it round-trips through a dict / JSON), so
the exact preprocessing a model was trained with travels in its checkpoint and its
exported metadata, and prediction applies it unchanged.

``'per_patch'`` standardises every patch and band by its own mean and standard deviation
first. The result does not change when a patch's values go through any increasing affine
map ``a * x + b``, which is how 8-bit products are usually made from physical values: a
model trained on OMBRIA's Sentinel-1 PNGs (decibels stretched to 0..255 per image) sees the
same input for a Sentinel-1 scene in decibels. The price is the absolute level: a patch
that is uniformly dark and one that is uniformly bright look alike.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from kornia.enhance import normalize
from torch import Tensor

Method = Literal['standard', 'percentile', 'per_patch']

#: Standard deviation below which a patch counts as constant (it then maps to 0).
PATCH_STD_FLOOR = 1e-6
#: Largest magnitude of a shift and of a scale, smallest scale: statistics of real
#: data (32-bit integers included) lie well inside; beyond, every pixel of a scene
#: normalises to one value, and the model gives one class everywhere.
LIMIT = 1e10
SMALLEST_SCALE = 1e-10


def _numbers(name: str, values: object) -> None:
    """Refuse statistics that are not a list of finite numbers within bounds."""
    if not isinstance(values, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        msg = f'{name} must be a list of numbers, one per band, got {values!r}'[:200]
        raise ValueError(msg)
    if not all(math.isfinite(v) and abs(v) <= LIMIT for v in values):
        msg = f'every {name} must be a finite number of magnitude <= {LIMIT:g}, got {values}'
        raise ValueError(msg[:200])


@dataclass
class SensorNormalization:
    """Preprocessing of one sensor: optional linear-to-dB, then per-band rescaling.

    ``'standard'`` computes ``(x - mean) / std``; ``'percentile'`` (the DisCoM-KD
    reference for EuroSAT) clips each band to its low..high percentiles of the training
    data and rescales that range to [0, 1]; ``'per_patch'`` standardises each patch and
    band by its own mean and standard deviation (NaN and inf pixels ignored), then
    applies ``(x - shift) / scale`` (0 and 1 when estimated), so any per-image gain and
    offset of the source, such as an 8-bit stretch, cancels out.

    Attributes:
        method: 'standard', 'percentile' or 'per_patch'.
        shift: Per band: the mean, or the low percentile (0 for 'per_patch').
        scale: Per band: the standard deviation, or high minus low percentile (1 for
            'per_patch').
        to_db: Convert linear power to decibels (``10 log10``) first, as for SAR
            intensities delivered in linear scale.
    """

    method: Method = 'standard'
    shift: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    to_db: bool = False

    def __post_init__(self) -> None:
        """Validate the statistics.

        Raises:
            ValueError: On an unknown method, statistics that are not finite numbers
                within bounds, mismatched lengths or a zero scale.
        """
        if self.method not in ('standard', 'percentile', 'per_patch'):
            msg = (
                "method must be 'standard', 'percentile' or 'per_patch', got "
                f'{self.method!r}'
            )
            raise ValueError(msg)
        _numbers('shift', self.shift)
        _numbers('scale', self.scale)
        if len(self.shift) != len(self.scale):
            msg = f'{len(self.shift)} shifts but {len(self.scale)} scales'
            raise ValueError(msg)
        if any(s < SMALLEST_SCALE for s in self.scale):
            msg = f'every scale must be positive (at least {SMALLEST_SCALE:g}), got {self.scale}'
            raise ValueError(msg[:200])
        # Per-device copies of the statistics, so batches do not rebuild them.
        self._tensors: dict[torch.device, tuple[Tensor, Tensor]] = {}

    @property
    def num_bands(self) -> int:
        """Number of bands the statistics describe."""
        return len(self.shift)

    def __call__(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """Preprocess a batch.

        Args:
            x: Raw values, ``(B, C, H, W)`` with ``C == num_bands``, on any device.
            valid: Optional boolean mask broadcastable to ``x`` (e.g. ``(B, 1, H, W)``)
                of the pixels to use: with 'per_patch', the others (a scene's nodata)
                stay out of each patch's statistics and come out as NaN.

        Returns:
            Float tensor of the same shape.

        Raises:
            ValueError: If ``x`` does not have ``num_bands`` channels.
        """
        if x.shape[-3] != self.num_bands:
            msg = f'{x.shape[-3]} bands, but the normalisation is for {self.num_bands}'
            raise ValueError(msg)
        x = x.float()
        if self.to_db:
            x = 10 * torch.log10(x.clamp_min(1e-10))
        if self.method == 'per_patch':
            if valid is not None:
                x = x.masked_fill(~valid, float('nan'))
            x = standardize_patches(x)
        if x.device not in self._tensors:
            self._tensors[x.device] = (
                torch.tensor(self.shift, device=x.device),
                torch.tensor(self.scale, device=x.device),
            )
        x = normalize(x, *self._tensors[x.device])
        if self.method == 'percentile':
            x = x.clamp(0, 1)
        return x

    def to_dict(self) -> dict[str, Any]:
        """Serialise to plain Python types.

        Returns:
            A JSON-compatible dict.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'SensorNormalization':
        """Rebuild from :meth:`to_dict`'s output.

        Args:
            data: The dict.

        Returns:
            The normalisation.
        """
        return cls(**data)

    @classmethod
    def estimate(
        cls,
        images: Tensor,
        method: Method = 'standard',
        to_db: bool = False,
        percentiles: Sequence[float] = (2.0, 98.0),
        max_values: int = 1_000_000,
    ) -> 'SensorNormalization':
        """Estimate the statistics from training images.

        Args:
            images: Raw training images, ``(N, C, H, W)``; non-finite values are ignored.
            method: 'standard', 'percentile' or 'per_patch' (which needs no statistics:
                shift 0 and scale 1 per band).
            to_db: Whether the data are converted to dB first (statistics are in dB).
            percentiles: Low and high percentiles for the 'percentile' method.
            max_values: Per band, at most this many values (evenly subsampled) are used.

        Returns:
            The estimated normalisation.

        Raises:
            ValueError: If a band has no finite value.
        """
        if method == 'per_patch':
            channels = images.shape[1]
            return cls(method, [0.0] * channels, [1.0] * channels, to_db)
        x = images.float()
        if to_db:
            x = 10 * torch.log10(x.clamp_min(1e-10))
        bands = x.transpose(0, 1).reshape(x.shape[1], -1)
        step = max(1, bands.shape[1] // max_values)
        shift, scale = [], []
        for i, band in enumerate(bands[:, ::step]):
            band = band[torch.isfinite(band)]
            if band.numel() == 0:
                msg = f'band {i} has no finite value to estimate statistics from'
                raise ValueError(msg)
            if method == 'percentile':
                q = torch.tensor([percentiles[0] / 100, percentiles[1] / 100]).double()
                low, high = torch.quantile(band.double(), q).tolist()
                shift.append(low)
                scale.append(max(high - low, 1e-6))
            else:
                shift.append(band.mean().item())
                scale.append(max(band.std().item(), 1e-6))
        return cls(method=method, shift=shift, scale=scale, to_db=to_db)


def standardize_patches(x: Tensor, floor: float = PATCH_STD_FLOOR) -> Tensor:
    """Standardise every patch and band by its own mean and standard deviation.

    Invariant to ``a * x + b`` with ``a > 0`` per patch and band. NaN and inf pixels
    are left out of the statistics and stay non-finite in the output; a constant
    patch (standard deviation below ``floor``) becomes 0.

    Args:
        x: ``(..., H, W)`` values.
        floor: Smallest standard deviation divided by.

    Returns:
        Float tensor of the same shape.
    """
    x = x.float()
    valid = torch.isfinite(x)
    zeros = torch.zeros_like(x)
    if bool(valid.all()):  # training batches: the plain statistics, 3x faster
        mean = x.mean((-2, -1), keepdim=True)
        std = x.std((-2, -1), keepdim=True, correction=0)
        return torch.where(std > floor, (x - mean) / std.clamp_min(floor), zeros)
    count = valid.sum((-2, -1), keepdim=True).clamp_min(1)
    mean = torch.where(valid, x, zeros).sum((-2, -1), keepdim=True) / count
    centred = x - mean
    var = torch.where(valid, centred, zeros).square().sum((-2, -1), keepdim=True)
    std = (var / count).sqrt()
    out = torch.where(std > floor, centred / std.clamp_min(floor), zeros)
    return torch.where(valid, out, x)
