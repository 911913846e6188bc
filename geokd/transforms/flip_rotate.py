"""The DisCoM-KD reference's flips and quarter turns, as a kornia augmentation.

The reference draws, per sample: with probability 1/2 nothing; otherwise a horizontal
flip (p 1/2), a vertical flip (p 1/2) and, with probability 1/2, a rotation by an angle
chosen uniformly from {0, 90, 180, 270} degrees. A sample comes back unchanged when
nothing is drawn, or when the draws compose to the identity (no flip and no turn, or
both flips and a half turn, since a horizontal and a vertical flip make a half turn)::

    P(unchanged) = 1/2 + 1/2 * (1/4 * 5/8 + 1/4 * 1/8) = 19/32

Chaining kornia's ``RandomHorizontalFlip``, ``RandomVerticalFlip`` and
``RandomRotation90(times=(1, 3))`` each with p = 0.5 is another distribution: 3/16 of the
samples unchanged, and ``RandomRotation90`` rounds a uniform draw from [1, 3], so it
turns by 180 degrees twice as often as by 90 or 270.
"""

from typing import Any

import torch
from kornia.augmentation import GeometricAugmentationBase2D
from torch import Tensor


class RandomFlipRotate90(GeometricAugmentationBase2D):
    """Random flips and quarter turns with the DisCoM-KD reference's probabilities.

    Each sample is left alone with probability ``1 - p``. Otherwise it is flipped
    horizontally with probability ``p_flip``, then vertically with probability
    ``p_flip``, then, with probability ``p_rotate``, turned counter-clockwise by ``k``
    quarter turns, ``k`` uniform in {0, 1, 2, 3}. The defaults are the reference's.

    The flips and turns are exact (no resampling). Inside
    :class:`kornia.augmentation.AugmentationSequential`, every image of a sample gets
    the same draw, so co-registered sensors stay co-registered.

    Args:
        p: Probability that a sample is augmented at all.
        p_flip: Probability of each flip of an augmented sample.
        p_rotate: Probability that an augmented sample is turned.
        same_on_batch: Draw once for the whole batch.
        keepdim: Keep the input's shape (True) or return the batch form.
    """

    # The flips and turns read no matrix: build it only when a container asks.
    _compute_matrix_lazily = True

    def __init__(
        self,
        p: float = 0.5,
        p_flip: float = 0.5,
        p_rotate: float = 0.5,
        same_on_batch: bool = False,
        keepdim: bool = False,
    ) -> None:
        """Initialize a new RandomFlipRotate90 instance."""
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        for name, value in (('p_flip', p_flip), ('p_rotate', p_rotate)):
            if not 0 <= value <= 1:
                msg = f'{name} must be in [0, 1], got {value}'
                raise ValueError(msg)
        self.p_flip = p_flip
        self.p_rotate = p_rotate

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        """Draw the flips and the number of quarter turns of each sample.

        Args:
            batch_shape: ``(B, C, H, W)``.

        Returns:
            ``hflip`` and ``vflip`` (bool, ``(B,)``) and ``turns`` (int64, ``(B,)``).
        """
        n = 1 if self.same_on_batch else batch_shape[0]
        hflip = torch.rand(n) < self.p_flip
        vflip = torch.rand(n) < self.p_flip
        turns = torch.randint(0, 4, (n,)) * (torch.rand(n) < self.p_rotate)
        size = (batch_shape[0],)
        return {
            'hflip': hflip.expand(size).clone(),
            'vflip': vflip.expand(size).clone(),
            'turns': turns.expand(size).clone(),
        }

    def compute_transformation(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any]
    ) -> Tensor:
        """Matrices mapping input pixel coordinates to output pixel coordinates.

        Args:
            input: ``(B, C, H, W)`` images.
            params: Output of :meth:`generate_parameters`.
            flags: Unused.

        Returns:
            ``(B, 3, 3)`` matrices.
        """
        b, size = input.shape[0], input.shape[-1]
        eye = torch.eye(3, device=input.device, dtype=input.dtype)
        hflip = eye.clone()
        hflip[0, 0], hflip[0, 2] = -1, size - 1
        vflip = eye.clone()
        vflip[1, 1], vflip[1, 2] = -1, size - 1
        # A counter-clockwise quarter turn of a square: (x, y) -> (y, size - 1 - x).
        turn = torch.tensor(
            [[0, 1, 0], [-1, 0, size - 1], [0, 0, 1]],
            device=input.device,
            dtype=input.dtype,
        )
        turns = torch.stack([torch.linalg.matrix_power(turn, k) for k in range(4)])
        h = params['hflip'].to(input.device).view(-1, 1, 1)
        v = params['vflip'].to(input.device).view(-1, 1, 1)
        matrix = torch.where(h, hflip, eye).expand(b, 3, 3)
        matrix = torch.where(v, vflip, eye) @ matrix
        return turns[params['turns'].to(input.device)] @ matrix

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Flip and turn each image as drawn.

        Args:
            input: ``(B, C, H, W)`` images, square.
            params: Output of :meth:`generate_parameters`.
            flags: Unused.
            transform: Unused.

        Returns:
            The augmented images.

        Raises:
            ValueError: If the images are not square (a quarter turn would change
                their shape).
        """
        height, width = input.shape[-2:]
        if height != width:
            msg = (
                f'RandomFlipRotate90 turns images by quarter turns and needs square '
                f'images, got {height}x{width}'
            )
            raise ValueError(msg)

        def per_sample(key: str) -> Tensor:
            return params[key].to(input.device).view(-1, 1, 1, 1)

        x = torch.where(per_sample('hflip'), input.flip(-1), input)
        x = torch.where(per_sample('vflip'), x.flip(-2), x)
        turns = per_sample('turns')
        out = x
        for k in (1, 2, 3):
            out = torch.where(turns == k, x.rot90(k, dims=(-2, -1)), out)
        return out
