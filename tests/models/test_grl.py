import math

import pytest
import torch

from geokd.models import GradientReversal, dann_lambda, grad_reverse


@pytest.mark.parametrize('lambda_', [0.0, 0.5, 1.0, 3.0])
def test_forward_is_identity_and_backward_scales_by_minus_lambda(
    lambda_: float,
) -> None:
    x = torch.randn(5, 7, requires_grad=True)
    upstream = torch.randn(5, 7)
    y = grad_reverse(x, lambda_)
    assert torch.equal(y, x)
    y.backward(upstream)
    assert x.grad is not None
    torch.testing.assert_close(x.grad, -lambda_ * upstream)


def test_module_reverses_gradient_of_a_function() -> None:
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    grl = GradientReversal(0.25)
    (grl(x) ** 2).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, -0.25 * 2 * x.detach())


def test_dann_schedule() -> None:
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(1.0) == pytest.approx(0.99991, abs=1e-5)
    assert dann_lambda(2.0) == dann_lambda(1.0)
