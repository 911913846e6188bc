"""Input transforms of geokd."""

from .normalization import SensorNormalization

__all__ = ['SensorNormalization']
