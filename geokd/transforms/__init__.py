"""Input transforms of geokd: per-sensor normalisation and augmentation."""

from .augment_sensors import Augmentation, AugmentSensors, build_augmentation
from .flip_rotate import RandomFlipRotate90
from .normalization import SensorNormalization
from .normalize_sensors import NormalizeSensors

__all__ = [
    'AugmentSensors',
    'Augmentation',
    'NormalizeSensors',
    'RandomFlipRotate90',
    'SensorNormalization',
    'build_augmentation',
]
