"""geokd: cross-modal knowledge distillation (DisCoM-KD) for multi-sensor Earth observation."""

__version__ = '0.1.0'
