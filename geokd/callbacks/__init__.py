"""Lightning callbacks of geokd: what happens around training, configured in YAML.

``geokd fit`` uses ClassifierCheckpoints, EvaluateClassifiers and ExportClassifiers
by default (``trainer.callbacks``); configs may list them, change their arguments, or
replace them. :class:`ChannelsLast` and :class:`EMAWeights` are opt-in.
"""

from .channels_last import ChannelsLast
from .checkpoint import ClassifierCheckpoints
from .ema import EMAWeights
from .evaluation import EvaluateClassifiers, best_checkpoints
from .export import ExportClassifiers

__all__ = [
    'ChannelsLast',
    'ClassifierCheckpoints',
    'EMAWeights',
    'EvaluateClassifiers',
    'ExportClassifiers',
    'best_checkpoints',
]
