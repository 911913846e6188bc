"""Architecture descriptions of deployable single-sensor segmenters.

A :class:`SegmenterSpec` is the segmentation counterpart of
:class:`~geokd.models.ClassifierSpec`: plain data that travels in an exported model's
JSON and rebuilds the network before its weights are loaded. It can only build the
architectures listed in :data:`SEGMENTER_ARCHITECTURES`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from torch import nn

#: Architecture names a segmenter spec may hold.
SegmenterArchitecture = Literal['discomkd_segmentation_branch', 'unet']
SEGMENTER_ARCHITECTURES: tuple[str, ...] = get_args(SegmenterArchitecture)


@dataclass(frozen=True)
class SegmenterSpec:
    """What is needed to rebuild a single-sensor segmenter (without its weights).

    Attributes:
        architecture: ``'discomkd_segmentation_branch'`` (a DisCoM-KD segmentation
            branch: ``E_inv``, ``P``, ``E_spec`` and the U-Net decoder and head) or
            ``'unet'`` (smp's U-Net: the single-sensor baseline and pixel-KD
            students).
        in_channels: Number of input bands.
        num_classes: Number of pixel classes.
        backbone: smp encoder name (``'resnet18'``) or ``'tu-<timm name>'``.
        encoder_depth: Number of encoder stages; inputs must be multiples of
            ``2 ** encoder_depth`` pixels.
        decoder_channels: Channels of the U-Net decoder blocks, one per stage.
    """

    #: What the network outputs: per-pixel logits.
    kind: ClassVar[str] = 'segmenter'

    architecture: SegmenterArchitecture
    in_channels: int
    num_classes: int
    backbone: str
    encoder_depth: int
    decoder_channels: Sequence[int]
    embed_dim: None = None

    def build(self) -> nn.Module:
        """Build the network with random weights, in eval mode.

        Returns:
            A module mapping normalised images ``(B, in_channels, H, W)`` to
            per-pixel logits ``(B, num_classes, H, W)``.

        Raises:
            ValueError: If the architecture or the encoder is unknown.
        """
        # smp is imported here: exports of classifiers never need it.
        from .segmentation import SegmentationBranch
        from .segmenters import unet_segmenter

        args = (self.in_channels, self.num_classes, self.backbone, self.encoder_depth)
        try:
            if self.architecture == 'discomkd_segmentation_branch':
                return SegmentationBranch(
                    *args, None, list(self.decoder_channels)
                ).eval()
            if self.architecture == 'unet':
                unet: nn.Module = unet_segmenter(
                    *args, None, list(self.decoder_channels)
                )
                return unet.eval()
        except (KeyError, RuntimeError) as err:  # smp and timm: unknown encoder
            msg = f'cannot build encoder {self.backbone!r}: {err}'
            raise ValueError(' '.join(msg.split())) from err
        msg = (
            f'unknown segmenter architecture {self.architecture!r}; expected one of '
            f'{SEGMENTER_ARCHITECTURES}'
        )
        raise ValueError(msg)
