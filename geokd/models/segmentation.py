"""DisCoM-KD for semantic segmentation: per-location embeddings and a U-Net decoder.

Each modality branch has two segmentation-models-pytorch encoders (``E_inv`` and
``E_spec``, any smp or ``tu-`` timm encoder) that return one feature map per scale.
At every scale ``l`` the invariant map passes through a 1x1 projection
``P_l`` (Conv 1x1 + BatchNorm + ReLU) to ``z_inv_l`` with half the channels, and the
specific map is split channel-wise into ``z_inf_l`` and ``z_irr_l``. The smp U-Net
decoder reads ``concat(z_inv_l, z_inf_l)`` at every scale, which has exactly the
encoder's channel count, so any smp encoder fits the decoder unchanged. The heads
shared across modalities are 1x1 convolutions, one set per scale (their input size
differs between scales); see ``docs/concepts.md`` for the choices behind this.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from segmentation_models_pytorch.base.heads import SegmentationHead
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from segmentation_models_pytorch.encoders import get_encoder
from torch import Tensor, nn

from .branches import ModalityBranches

#: Initial encoder weights, as smp takes them: None (random), a weight name such as
#: ``'imagenet'`` for smp encoders, or True for a ``tu-`` encoder's timm weights.
EncoderWeights = str | bool | None

#: smp's U-Net decoder channels, the default of every segmenter.
DECODER_CHANNELS = (256, 128, 64, 32, 16)


def unet_decoder_channels(
    decoder_channels: Sequence[int] | None, encoder_depth: int
) -> Sequence[int]:
    """The decoder channels of a U-Net, smp's for its depth unless given.

    Args:
        decoder_channels: Channels of the decoder blocks, or None.
        encoder_depth: Number of encoder stages.

    Returns:
        ``decoder_channels``, or the first ``encoder_depth`` of
        :data:`DECODER_CHANNELS`.
    """
    return decoder_channels or DECODER_CHANNELS[:encoder_depth]


def unet_decoding(
    encoder_channels: Sequence[int],
    decoder_channels: Sequence[int],
    encoder_depth: int,
    num_classes: int,
) -> tuple[UnetDecoder, SegmentationHead]:
    """The decoder and head of smp's U-Net, for encoder maps of the given channels.

    Args:
        encoder_channels: Channels of the encoder's outputs, the input image first.
        decoder_channels: Channels of the decoder blocks, one per encoder stage.
        encoder_depth: Number of encoder stages.
        num_classes: Number of task classes.

    Returns:
        The decoder (encoder maps in, a full-resolution map out) and the head
        (that map in, per-pixel logits out).
    """
    decoder = UnetDecoder(
        list(encoder_channels), list(decoder_channels), n_blocks=encoder_depth
    )
    head = SegmentationHead(decoder_channels[-1], num_classes, kernel_size=3)
    return decoder, head


@dataclass
class SegmentationBranchOutput:
    """What one modality branch computes for a batch, one map per encoder scale.

    Attributes:
        z_inv: ``P_l(E_inv(x)_l)`` per scale, ``(B, D_l, H_l, W_l)``.
        z_inf: First half of the channels of ``E_spec(x)_l`` per scale.
        z_irr: Second half of the channels of ``E_spec(x)_l`` per scale.
        logits: Per-pixel task logits, ``(B, K, H, W)``.
    """

    z_inv: list[Tensor]
    z_inf: list[Tensor]
    z_irr: list[Tensor]
    logits: Tensor


@dataclass
class SegmentationModalityOutput(SegmentationBranchOutput):
    """A branch's output plus the shared 1x1 heads applied per scale.

    Attributes:
        aux_inv: ``C_aux_l(z_inv_l)``, ``(B, K, H_l, W_l)`` per scale.
        aux_inf: ``C_aux_l(z_inf_l)`` per scale.
        mod_inf: ``D_inf_l(z_inf_l)``, modality logits ``(B, M, H_l, W_l)`` per scale.
        mod_irr: ``D_irr_l(z_irr_l)`` per scale.
        mod_adv: ``D_adv_l(GRL(z_inv_l))`` per scale.
    """

    aux_inv: list[Tensor]
    aux_inf: list[Tensor]
    mod_inf: list[Tensor]
    mod_irr: list[Tensor]
    mod_adv: list[Tensor]


def projection(channels: int, embed_dim: int) -> nn.Sequential:
    """The per-location projection ``P``: 1x1 convolution, BatchNorm, ReLU.

    Args:
        channels: Channels of the encoder map.
        embed_dim: Channels of the embedding map.

    Returns:
        The projection.
    """
    return nn.Sequential(
        nn.Conv2d(channels, embed_dim, 1, bias=False),
        nn.BatchNorm2d(embed_dim),
        nn.ReLU(inplace=True),
    )


class SegmentationBranch(nn.Module):
    """``E_inv``, ``P``, ``E_spec`` and the decoder of one modality: a segmenter.

    This is also the deployed single-sensor segmenter: it needs no other sensor.

    Args:
        in_chans: Number of input channels of the sensor.
        num_classes: Number of task classes ``K``.
        encoder: smp encoder name (``'resnet18'``) or ``'tu-<timm name>'``.
        encoder_depth: Number of encoder stages (3 to 5); inputs must be multiples
            of ``2 ** encoder_depth`` pixels.
        weights: Initial weights of both encoders, see :data:`EncoderWeights`.
        decoder_channels: Channels of the U-Net decoder blocks, one per stage.

    Raises:
        ValueError: If an encoder scale has an odd channel count (it cannot be
            split into ``z_inf`` and ``z_irr``).
    """

    def __init__(
        self,
        in_chans: int,
        num_classes: int,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: EncoderWeights = None,
        decoder_channels: Sequence[int] = DECODER_CHANNELS,
    ) -> None:
        """Initialize a new SegmentationBranch instance."""
        super().__init__()
        self.e_inv = get_encoder(encoder, in_chans, encoder_depth, weights)
        self.e_spec = get_encoder(encoder, in_chans, encoder_depth, weights)
        channels = list(self.e_spec.out_channels)
        if odd := [c for c in channels[1:] if c % 2]:
            msg = f'encoder {encoder!r} has scales of odd channel counts {odd}'
            raise ValueError(msg)
        self.in_chans = in_chans
        self.num_classes = num_classes
        #: Embedding size ``D_l`` of every scale.
        self.embed_dims = [c // 2 for c in channels[1:]]
        self.proj = nn.ModuleList(
            projection(c, d) for c, d in zip(channels[1:], self.embed_dims, strict=True)
        )
        self.decoder, self.head = unet_decoding(
            channels, decoder_channels, encoder_depth, num_classes
        )

    def embed(self, x: Tensor) -> SegmentationBranchOutput:
        """Compute the embedding maps of every scale and the per-pixel logits.

        Args:
            x: Normalised images, ``(B, in_chans, H, W)``.

        Returns:
            The embeddings and logits.
        """
        inv = self.e_inv(x)[1:]  # the first "feature" of smp encoders is x itself
        spec = self.e_spec(x)[1:]
        z_inv = [p(f) for p, f in zip(self.proj, inv, strict=True)]
        z_inf, z_irr = [], []
        for f, d in zip(spec, self.embed_dims, strict=True):
            inf, irr = f.split(d, dim=1)
            z_inf.append(inf)
            z_irr.append(irr)
        features = [x] + [torch.cat(z, dim=1) for z in zip(z_inv, z_inf, strict=True)]
        logits = self.head(self.decoder(features))
        return SegmentationBranchOutput(z_inv, z_inf, z_irr, logits)

    def forward(self, x: Tensor) -> Tensor:
        """Segment a batch with this sensor alone.

        Args:
            x: Normalised images, ``(B, in_chans, H, W)``.

        Returns:
            Per-pixel logits, ``(B, num_classes, H, W)``.
        """
        return self.embed(x).logits


class ScaleHeads(nn.ModuleList):
    """One 1x1 convolution per scale: a head shared across modalities, per location.

    Args:
        dims: Embedding size ``D_l`` of every scale.
        out: Number of outputs (classes or modalities).
    """

    def __init__(self, dims: Sequence[int], out: int) -> None:
        """Initialize a new ScaleHeads instance."""
        super().__init__(nn.Conv2d(d, out, 1) for d in dims)

    def forward(self, maps: Sequence[Tensor]) -> list[Tensor]:
        """Apply each scale's head to its map.

        Args:
            maps: ``(B, D_l, H_l, W_l)`` per scale.

        Returns:
            ``(B, out, H_l, W_l)`` per scale.
        """
        return [h(z) for h, z in zip(self, maps, strict=True)]


class DisCoMKDSegmenter(ModalityBranches[SegmentationBranch]):
    """All single-sensor segmenters of DisCoM-KD, trained together.

    Args:
        in_channels: Channel count of each modality, in a fixed order that defines the
            integer modality labels, e.g. ``{'ms': 3, 'sar': 1}``.
        num_classes: Number of task classes ``K``.
        encoder: smp encoder name of every branch.
        encoder_depth: Number of encoder stages.
        weights: Initial encoder weights per modality (missing ones start random).
        decoder_channels: Channels of the U-Net decoder blocks.
        grl_lambda: Initial scale of the gradient reversal in front of ``D_adv``.

    Raises:
        ValueError: If fewer than two modalities are given.
    """

    def __init__(
        self,
        in_channels: Mapping[str, int],
        num_classes: int,
        encoder: str = 'resnet18',
        encoder_depth: int = 5,
        weights: Mapping[str, EncoderWeights] | None = None,
        decoder_channels: Sequence[int] = DECODER_CHANNELS,
        grl_lambda: float = 1.0,
    ) -> None:
        """Initialize a new DisCoMKDSegmenter instance."""
        weights = weights or {}
        super().__init__(
            in_channels,
            num_classes,
            lambda m, c: SegmentationBranch(
                c, num_classes, encoder, encoder_depth, weights.get(m), decoder_channels
            ),
            lambda first, out: ScaleHeads(first.embed_dims, out),
            grl_lambda,
        )

    def forward(
        self, images: Mapping[str, Tensor]
    ) -> dict[str, SegmentationModalityOutput]:
        """Run the branches of the given modalities and the shared heads.

        Args:
            images: Normalised images per modality; any non-empty subset of the
                modalities (batches may differ in size between modalities).

        Returns:
            Outputs per modality, in the order of ``images``.
        """
        outputs = {}
        for modality, x in images.items():
            out = self.branch(modality).embed(x)
            outputs[modality] = SegmentationModalityOutput(
                **vars(out),
                aux_inv=self.aux_head(out.z_inv),
                aux_inf=self.aux_head(out.z_inf),
                mod_inf=self.d_inf(out.z_inf),
                mod_irr=self.d_irr(out.z_irr),
                mod_adv=self.d_adv([self.grl(z) for z in out.z_inv]),
            )
        return outputs
