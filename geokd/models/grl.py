"""Gradient reversal layer (Ganin & Lempitsky, 2015) and its lambda schedules."""

import math
from typing import Any

from torch import Tensor, nn
from torch.autograd import Function


class _GradientReversal(Function):
    """Identity forward; multiplies the incoming gradient by ``-lambda_`` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, lambda_: float) -> Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        return -ctx.lambda_ * grad_output, None


def grad_reverse(x: Tensor, lambda_: float = 1.0) -> Tensor:
    """Reverse (and scale) the gradient flowing back through ``x``.

    Args:
        x: Input tensor.
        lambda_: Scale of the reversed gradient.

    Returns:
        ``x`` unchanged; its gradient is multiplied by ``-lambda_`` on the way back.
    """
    out: Tensor = _GradientReversal.apply(x, lambda_)
    return out


def dann_lambda(progress: float) -> float:
    """The DANN schedule ``2 / (1 + exp(-10 p)) - 1``, from 0 at the start to ~1 at the end.

    Args:
        progress: Training progress ``p`` in [0, 1].

    Returns:
        The gradient reversal scale for that progress.
    """
    p = min(max(progress, 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse` whose ``lambda_`` a training loop may update.

    Args:
        lambda_: Initial scale of the reversed gradient (the reference uses 1, constant).
    """

    def __init__(self, lambda_: float = 1.0) -> None:
        """Initialize a new GradientReversal instance."""
        super().__init__()
        self.lambda_ = lambda_

    def forward(self, x: Tensor) -> Tensor:
        """Apply gradient reversal.

        Args:
            x: Input tensor.

        Returns:
            ``x`` unchanged in the forward pass.
        """
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        """Show the current lambda in ``print(model)``."""
        return f'lambda_={self.lambda_}'


__all__ = ['GradientReversal', 'dann_lambda', 'grad_reverse']
