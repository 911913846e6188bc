"""Networks of geokd."""

from .backbone import Weights, create_trunk
from .discomkd import BranchOutput, DisCoMKD, ModalityBranch, ModalityOutput
from .grl import GradientReversal, dann_lambda, grad_reverse

__all__ = [
    'BranchOutput',
    'DisCoMKD',
    'GradientReversal',
    'ModalityBranch',
    'ModalityOutput',
    'Weights',
    'create_trunk',
    'dann_lambda',
    'grad_reverse',
]
