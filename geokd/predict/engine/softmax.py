"""Class probabilities from logits, the same bytes at any CPU thread count."""

from torch import Tensor


def class_softmax(logits: Tensor, dim: int) -> Tensor:
    """Softmax over the class dimension, computed over the last, contiguous one.

    Over another dimension, CPU kernels split the cells between threads into
    vectorised runs and scalar remainders whose ``exp`` differs in the last bit, so a
    serial run (two threads) and ``--workers`` (one thread each) gave other
    probabilities. Over the last dimension every class vector is one run.

    Args:
        logits: Logits with the classes along ``dim``.
        dim: The class dimension.

    Returns:
        float32 probabilities, the shape of ``logits``.
    """
    return logits.float().movedim(dim, -1).softmax(-1).movedim(-1, dim)
