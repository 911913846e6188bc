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

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from segmentation_models_pytorch.base.heads import SegmentationHead
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from segmentation_models_pytorch.encoders import get_encoder
from torch import Tensor, nn

from .grl import GradientReversal

#: Initial encoder weights, as smp takes them: None (random), a weight name such as
#: ``'imagenet'`` for smp encoders, or True for a ``tu-`` encoder's timm weights.
EncoderWeights = str | bool | None


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
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
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
        self.decoder = UnetDecoder(
            channels, list(decoder_channels), n_blocks=encoder_depth
        )
        self.head = SegmentationHead(decoder_channels[-1], num_classes, kernel_size=3)

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


def _heads(dims: Sequence[int], out: int) -> nn.ModuleList:
    return nn.ModuleList(nn.Conv2d(d, out, 1) for d in dims)


class DisCoMKDSegmenter(nn.Module):
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
        decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
        grl_lambda: float = 1.0,
    ) -> None:
        """Initialize a new DisCoMKDSegmenter instance."""
        super().__init__()
        if len(in_channels) < 2:
            msg = f'DisCoM-KD needs at least two modalities, got {list(in_channels)}'
            raise ValueError(msg)
        weights = weights or {}
        self.modalities = list(in_channels)
        self.branches = nn.ModuleDict(
            {
                m: SegmentationBranch(
                    c,
                    num_classes,
                    encoder,
                    encoder_depth,
                    weights.get(m),
                    decoder_channels,
                )
                for m, c in in_channels.items()
            }
        )
        dims = self.branch(self.modalities[0]).embed_dims
        num_modalities = len(self.modalities)
        self.aux_head = _heads(dims, num_classes)
        self.d_inf = _heads(dims, num_modalities)
        self.d_irr = _heads(dims, num_modalities)
        self.d_adv = _heads(dims, num_modalities)
        self.grl = GradientReversal(grl_lambda)

    def branch(self, modality: str) -> SegmentationBranch:
        """The branch of one modality.

        Args:
            modality: Modality name.

        Returns:
            Its :class:`SegmentationBranch`.
        """
        # Every value of the ModuleDict is a SegmentationBranch (built above).
        return cast(SegmentationBranch, self.branches[modality])

    def modality_index(self, modality: str) -> int:
        """Integer label of a modality for the modality classifiers.

        Args:
            modality: Modality name.

        Returns:
            Its position in ``in_channels``.
        """
        return self.modalities.index(modality)

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

            def apply(heads: nn.ModuleList, maps: list[Tensor]) -> list[Tensor]:
                return [h(z) for h, z in zip(heads, maps, strict=True)]

            outputs[modality] = SegmentationModalityOutput(
                **vars(out),
                aux_inv=apply(self.aux_head, out.z_inv),
                aux_inf=apply(self.aux_head, out.z_inf),
                mod_inf=apply(self.d_inf, out.z_inf),
                mod_irr=apply(self.d_irr, out.z_irr),
                mod_adv=apply(self.d_adv, [self.grl(z) for z in out.z_inv]),
            )
        return outputs

    def extract(self, modality: str) -> SegmentationBranch:
        """Take out the single-sensor segmenter of one modality.

        Args:
            modality: Modality name.

        Returns:
            An independent copy of that modality's branch, in eval mode, whose
            ``forward`` returns per-pixel logits.

        Raises:
            KeyError: If the model has no such modality.
        """
        if modality not in self.branches:
            msg = f'no modality {modality!r}; the model has {self.modalities}'
            raise KeyError(msg)
        return copy.deepcopy(self.branch(modality)).eval()
