"""Networks of geokd."""

from .backbone import TrunkInit, Weights, create_trunk, torchvision_init
from .discomkd import BranchOutput, DisCoMKD, ModalityBranch, ModalityOutput
from .fusion import SumFusionClassifier
from .grl import GradientReversal, dann_lambda, grad_reverse
from .linear import linear_classifier
from .segmenter_spec import SEGMENTER_ARCHITECTURES, SegmenterSpec
from .spec import ARCHITECTURES, ClassifierSpec

__all__ = [
    'ARCHITECTURES',
    'SEGMENTER_ARCHITECTURES',
    'BranchOutput',
    'ClassifierSpec',
    'DisCoMKD',
    'GradientReversal',
    'ModalityBranch',
    'ModalityOutput',
    'SegmenterSpec',
    'SumFusionClassifier',
    'TrunkInit',
    'Weights',
    'create_trunk',
    'dann_lambda',
    'grad_reverse',
    'linear_classifier',
    'torchvision_init',
]
