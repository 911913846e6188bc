"""The competitors' segmenters: a single-sensor U-Net and the multi-modal teacher.

Both use the same smp encoders and U-Net decoder as
:class:`~geokd.models.segmentation.DisCoMKDSegmenter`, so that a comparison changes
the training method only.
"""

from collections.abc import Mapping, Sequence

import segmentation_models_pytorch as smp
import torch
from segmentation_models_pytorch.encoders import get_encoder
from torch import Tensor, nn

from .segmentation import DECODER_CHANNELS, EncoderWeights, unet_decoding


def unet_segmenter(
    in_chans: int,
    num_classes: int,
    encoder: str = 'resnet18',
    encoder_depth: int = 5,
    weights: EncoderWeights = None,
    decoder_channels: Sequence[int] = DECODER_CHANNELS,
) -> smp.Unet:
    """A single-sensor smp U-Net, as torchgeo's SemanticSegmentationTask builds it.

    Args:
        in_chans: Number of input channels of the sensor.
        num_classes: Number of task classes.
        encoder: smp encoder name or ``'tu-<timm name>'``.
        encoder_depth: Number of encoder stages.
        weights: Initial encoder weights (None: random).
        decoder_channels: Channels of the decoder blocks.

    Returns:
        A module mapping ``(B, in_chans, H, W)`` to logits ``(B, num_classes, H, W)``.
    """
    return smp.Unet(
        encoder_name=encoder,
        encoder_depth=encoder_depth,
        encoder_weights=weights,
        decoder_channels=list(decoder_channels),
        in_channels=in_chans,
        classes=num_classes,
    )


class SumFusionSegmenter(nn.Module):
    """Segment co-registered images of several sensors from their summed feature maps.

    The segmentation form of the paper's multi-modal teacher: one encoder per
    sensor, their feature maps summed at every scale, one U-Net decoder.

    Args:
        in_channels: Channel count per modality.
        num_classes: Number of task classes.
        encoder: smp encoder name of every sensor.
        encoder_depth: Number of encoder stages.
        weights: Initial encoder weights per modality (missing ones start random).
        decoder_channels: Channels of the decoder blocks.
    """

    def __init__(
        self,
        in_channels: Mapping[str, int],
        num_classes: int,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: Mapping[str, EncoderWeights] | None = None,
        decoder_channels: Sequence[int] = DECODER_CHANNELS,
    ) -> None:
        """Initialize a new SumFusionSegmenter instance."""
        super().__init__()
        weights = weights or {}
        encoders = {
            m: get_encoder(encoder, c, encoder_depth, weights.get(m))
            for m, c in in_channels.items()
        }
        channels = list(next(iter(encoders.values())).out_channels)
        self.encoders = nn.ModuleDict(encoders)
        self.decoder, self.head = unet_decoding(
            channels, decoder_channels, encoder_depth, num_classes
        )

    def forward(self, images: Mapping[str, Tensor]) -> Tensor:
        """Sum every sensor's feature maps per scale and decode them.

        Args:
            images: Normalised images of every modality, same batch and size.

        Returns:
            Per-pixel logits ``(B, num_classes, H, W)``.
        """
        per_sensor = [enc(images[m])[1:] for m, enc in self.encoders.items()]
        summed = [
            torch.stack(maps).sum(dim=0) for maps in zip(*per_sensor, strict=True)
        ]
        # The decoder reads only the size of its first input, the full-resolution image.
        first = images[next(iter(self.encoders))]
        logits: Tensor = self.head(self.decoder([first, *summed]))
        return logits
