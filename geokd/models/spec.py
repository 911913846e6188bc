"""Architecture descriptions of deployable single-sensor classifiers.

A :class:`ClassifierSpec` is plain data: it travels in an exported model's JSON and
rebuilds the network before its weights are loaded, so loading never unpickles code
and can only build the architectures listed in :data:`ARCHITECTURES`.
"""

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from torch import nn

from .discomkd import ModalityBranch
from .linear import linear_classifier

#: Architecture names a spec may hold.
Architecture = Literal['discomkd_branch', 'linear']
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)


@dataclass(frozen=True)
class ClassifierSpec:
    """What is needed to rebuild a single-sensor classifier (without its weights).

    Attributes:
        architecture: ``'discomkd_branch'`` (a DisCoM-KD modality branch:
            ``E_inv``, ``P``, ``E_spec``, ``C``) or ``'linear'`` (trunk + linear head,
            the single-modal baseline and distilled students).
        in_channels: Number of input bands.
        num_classes: Number of classes.
        backbone: timm name of the trunk(s).
        embed_dim: Embedding size of a DisCoM-KD branch (None for ``'linear'``).
    """

    #: What the network outputs: logits per image.
    kind: ClassVar[str] = 'classifier'

    architecture: Architecture
    in_channels: int
    num_classes: int
    backbone: str
    embed_dim: int | None = None

    def build(self) -> nn.Module:
        """Build the network with random weights, in eval mode.

        Returns:
            A module mapping normalised images ``(B, in_channels, H, W)`` to logits.

        Raises:
            ValueError: If the architecture is unknown.
        """
        if self.architecture == 'discomkd_branch':
            return ModalityBranch(
                self.in_channels, self.num_classes, self.backbone, None, self.embed_dim
            ).eval()
        if self.architecture == 'linear':
            return linear_classifier(
                self.in_channels, self.num_classes, self.backbone
            ).eval()
        msg = f'unknown architecture {self.architecture!r}; expected one of {ARCHITECTURES}'
        raise ValueError(msg)
