"""The DisCoM-KD network: one branch per modality plus the heads they share.

Follows Ienco & Fraga Dantas (BMVC 2024) and the sizes of the authors' reference
code (see ``method.md``), generalised from two to ``M >= 2`` modalities.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .backbone import TrunkInit, Weights, create_trunk, feature_dim
from .branches import ModalityBranches


@dataclass
class BranchOutput:
    """What one modality branch computes for a batch.

    Attributes:
        z_inv: Modality-invariant embedding ``P(E_inv(x))``, ``(B, D)``.
        z_inf: Modality-informative half of ``E_spec(x)``, ``(B, D)``.
        z_irr: Modality-irrelevant half of ``E_spec(x)``, ``(B, D)``.
        logits: Task logits ``C(concat(z_inv, z_inf))``, ``(B, K)``.
    """

    z_inv: Tensor
    z_inf: Tensor
    z_irr: Tensor
    logits: Tensor


@dataclass
class ModalityOutput(BranchOutput):
    """A branch's output plus the shared heads applied to its embeddings.

    Attributes:
        aux_inv: ``C_aux(z_inv)``, ``(B, K)``.
        aux_inf: ``C_aux(z_inf)``, ``(B, K)``.
        mod_inf: ``D_inf(z_inf)``, modality logits, ``(B, M)``.
        mod_irr: ``D_irr(z_irr)``, modality logits, ``(B, M)``.
        mod_adv: ``D_adv(GRL(z_inv))``, modality logits, ``(B, M)``.
    """

    aux_inv: Tensor
    aux_inf: Tensor
    mod_inf: Tensor
    mod_irr: Tensor
    mod_adv: Tensor


class ModalityBranch(nn.Module):
    """``E_inv``, ``P``, ``E_spec`` and ``C`` of one modality.

    This is also the deployed single-sensor classifier: it needs no other sensor.

    Args:
        in_chans: Number of input channels of the sensor.
        num_classes: Number of task classes ``K``.
        backbone: timm model name of both trunks.
        weights: Initial weights of both trunks, see :data:`~geokd.models.backbone.Weights`.
        embed_dim: Size ``D`` of every embedding; None takes half the trunk's feature
            size (256 for ResNet-18, as in the reference).
        trunk_init: Initialisation of trunks without pretrained weights:
            ``'torchvision'`` (the reference's) or ``'timm'``, see
            :func:`~geokd.models.backbone.create_trunk`.

    Raises:
        ValueError: If the trunk's feature size cannot be halved into ``embed_dim``.
    """

    def __init__(
        self,
        in_chans: int,
        num_classes: int,
        backbone: str = 'resnet18',
        weights: Weights = None,
        embed_dim: int | None = None,
        trunk_init: TrunkInit = 'torchvision',
    ) -> None:
        """Initialize a new ModalityBranch instance."""
        super().__init__()
        self.e_inv = create_trunk(backbone, in_chans, weights, trunk_init)
        self.e_spec = create_trunk(backbone, in_chans, weights, trunk_init)
        num_features = feature_dim(self.e_spec)
        embed_dim = embed_dim or num_features // 2
        if 2 * embed_dim != num_features:
            msg = (
                f'backbone {backbone!r} gives {num_features} features, which cannot be '
                f'split into two halves of embed_dim={embed_dim}'
            )
            raise ValueError(msg)
        self.embed_dim = embed_dim
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.proj = nn.Sequential(
            nn.Linear(num_features, embed_dim), nn.BatchNorm1d(embed_dim), nn.ReLU()
        )
        self.head = nn.Linear(2 * embed_dim, num_classes)

    def embed(self, x: Tensor) -> BranchOutput:
        """Compute the three embeddings and the task logits.

        Args:
            x: Normalised images, ``(B, in_chans, H, W)``.

        Returns:
            The embeddings and logits.
        """
        z_inv = self.proj(self.e_inv(x))
        z_inf, z_irr = self.e_spec(x).split(self.embed_dim, dim=1)
        logits = self.head(torch.cat([z_inv, z_inf], dim=1))
        return BranchOutput(z_inv=z_inv, z_inf=z_inf, z_irr=z_irr, logits=logits)

    def forward(self, x: Tensor) -> Tensor:
        """Classify a batch with this sensor alone.

        Args:
            x: Normalised images, ``(B, in_chans, H, W)``.

        Returns:
            Task logits, ``(B, num_classes)``.
        """
        return self.embed(x).logits


class DisCoMKD(ModalityBranches[ModalityBranch]):
    """All single-sensor classifiers of DisCoM-KD, trained together.

    Args:
        in_channels: Channel count of each modality, in a fixed order that defines the
            integer modality labels, e.g. ``{'ms': 13, 'sar': 2}``.
        num_classes: Number of task classes ``K``.
        backbone: timm model name of every trunk.
        weights: Initial trunk weights per modality (missing modalities start random).
        embed_dim: Embedding size ``D``; None takes half the trunk's feature size.
        grl_lambda: Initial scale of the gradient reversal in front of ``D_adv``.
        trunk_init: Initialisation of trunks without pretrained weights:
            ``'torchvision'`` (the reference's) or ``'timm'``, see
            :func:`~geokd.models.backbone.create_trunk`.

    Raises:
        ValueError: If fewer than two modalities are given.
    """

    def __init__(
        self,
        in_channels: Mapping[str, int],
        num_classes: int,
        backbone: str = 'resnet18',
        weights: Mapping[str, Weights] | None = None,
        embed_dim: int | None = None,
        grl_lambda: float = 1.0,
        trunk_init: TrunkInit = 'torchvision',
    ) -> None:
        """Initialize a new DisCoMKD instance."""
        weights = weights or {}
        super().__init__(
            in_channels,
            num_classes,
            lambda m, c: ModalityBranch(
                c, num_classes, backbone, weights.get(m), embed_dim, trunk_init
            ),
            lambda first, out: nn.Linear(first.embed_dim, out),
            grl_lambda,
        )

    def forward(self, images: Mapping[str, Tensor]) -> dict[str, ModalityOutput]:
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
            outputs[modality] = ModalityOutput(
                **vars(out),
                aux_inv=self.aux_head(out.z_inv),
                aux_inf=self.aux_head(out.z_inf),
                mod_inf=self.d_inf(out.z_inf),
                mod_irr=self.d_irr(out.z_irr),
                mod_adv=self.d_adv(self.grl(out.z_inv)),
            )
        return outputs
