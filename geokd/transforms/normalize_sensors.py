"""Normalise every sensor of a batch with its own statistics."""

from collections.abc import Mapping

from torch import nn
from torchgeo.datasets.utils import Sample

from ..errors import DataError
from .normalization import SensorNormalization


class NormalizeSensors(nn.Module):
    """Apply each modality's :class:`SensorNormalization` to its ``image_<modality>``.

    Works on paired batches (``image_<m>`` + ``label``) and on unpaired ones
    (``image_<m>`` + ``label_<m>``) alike; keys other than images pass through.

    Args:
        normalization: Statistics per modality; more can be set later through the
            ``normalization`` attribute.
    """

    def __init__(
        self, normalization: Mapping[str, SensorNormalization] | None = None
    ) -> None:
        """Initialize a new NormalizeSensors instance."""
        super().__init__()
        #: Statistics per modality.
        self.normalization: dict[str, SensorNormalization] = dict(normalization or {})

    def forward(self, batch: Sample) -> Sample:
        """Normalise every image of a batch.

        Args:
            batch: ``image_<modality>`` tensors ``(B, C, H, W)`` and other keys, on
                any device.

        Returns:
            A new dict with normalised float images.

        Raises:
            ValueError: If an image has no statistics, or a band count that differs
                from its statistics'.
        """
        out = dict(batch)
        for key, value in batch.items():
            if not key.startswith('image_'):
                continue
            norm = self.normalization.get(key.removeprefix('image_'))
            if norm is None:
                msg = (
                    f'{key}: no normalisation statistics (known: '
                    f'{sorted(self.normalization)})'
                )
                raise DataError(msg)
            try:
                out[key] = norm(value)
            except ValueError as err:
                raise DataError(f'{key}: {err}') from err
        return out
