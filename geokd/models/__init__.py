"""Networks of geokd."""

from .backbone import TrunkInit, Weights, create_trunk, torchvision_init
from .discomkd import BranchOutput, DisCoMKD, ModalityBranch, ModalityOutput
from .grl import GradientReversal, dann_lambda, grad_reverse

__all__ = [
    'BranchOutput',
    'DisCoMKD',
    'GradientReversal',
    'ModalityBranch',
    'ModalityOutput',
    'TrunkInit',
    'Weights',
    'create_trunk',
    'dann_lambda',
    'grad_reverse',
    'torchvision_init',
]
