"""Lightning callbacks of geokd: what happens around training, configured in YAML.

``geokd fit`` uses all three by default (``trainer.callbacks``); configs may list
them, change their arguments, or replace them.
"""

from .checkpoint import ClassifierCheckpoints
from .evaluation import EvaluateClassifiers, best_checkpoints
from .export import ExportClassifiers

__all__ = [
    'ClassifierCheckpoints',
    'EvaluateClassifiers',
    'ExportClassifiers',
    'best_checkpoints',
]
