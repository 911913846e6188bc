"""Tests of the class softmax used by dense and segmenter evaluation."""

import pytest
import torch

from geokd.predict.engine.softmax import class_softmax


@pytest.mark.parametrize('dim', [0, 1, 2])
def test_class_softmax_is_the_softmax_over_the_class_dimension(dim: int) -> None:
    logits = torch.randn(3, 5, 7, dtype=torch.float64) * 10
    out = class_softmax(logits, dim)
    assert out.dtype == torch.float32
    assert out.shape == logits.shape
    torch.testing.assert_close(out, logits.softmax(dim).float())
    torch.testing.assert_close(out.sum(dim), torch.ones(out.sum(dim).shape))


def test_class_softmax_gives_the_same_bytes_at_any_thread_count() -> None:
    # (classes, rows, cols) as dense evaluation has them: softmax(0) of these gave
    # bytes 5e-20 apart at one and two threads.
    logits = torch.randn(10, 67, 67, generator=torch.Generator().manual_seed(0)) * 30
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = class_softmax(logits, 0)
        torch.set_num_threads(max(threads, 2))
        many = class_softmax(logits, 0)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)
