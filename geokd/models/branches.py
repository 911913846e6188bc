"""What the DisCoM-KD networks of classification and segmentation share.

One branch per modality (the deployable single-sensor network) and the heads shared
across modalities (``C_aux``, ``D_inf``, ``D_irr``, ``D_adv`` behind the gradient
reversal); the branches and heads themselves differ between the two tasks.
"""

import copy
from collections.abc import Callable, Mapping
from typing import cast

from torch import nn

from .grl import GradientReversal


class ModalityBranches[B: nn.Module](nn.Module):
    """Branches of ``M >= 2`` modalities and the heads they share.

    Args:
        in_channels: Channel count of each modality, in a fixed order that defines the
            integer modality labels.
        num_classes: Number of task classes ``K``.
        make_branch: Builds the branch of a modality from its name and channel count.
        make_head: Builds a shared head from the first branch (every branch has its
            embedding sizes) and the head's number of outputs (``K`` or ``M``).
        grl_lambda: Initial scale of the gradient reversal in front of ``D_adv``.

    Raises:
        ValueError: If fewer than two modalities are given.
    """

    def __init__(
        self,
        in_channels: Mapping[str, int],
        num_classes: int,
        make_branch: Callable[[str, int], B],
        make_head: Callable[[B, int], nn.Module],
        grl_lambda: float,
    ) -> None:
        """Initialize a new ModalityBranches instance."""
        super().__init__()
        if len(in_channels) < 2:
            msg = f'DisCoM-KD needs at least two modalities, got {list(in_channels)}'
            raise ValueError(msg)
        self.modalities = list(in_channels)
        self.branches = nn.ModuleDict(
            {m: make_branch(m, c) for m, c in in_channels.items()}
        )
        first = self.branch(self.modalities[0])
        num_modalities = len(self.modalities)
        self.aux_head = make_head(first, num_classes)
        self.d_inf = make_head(first, num_modalities)
        self.d_irr = make_head(first, num_modalities)
        self.d_adv = make_head(first, num_modalities)
        self.grl = GradientReversal(grl_lambda)

    def branch(self, modality: str) -> B:
        """The branch of one modality.

        Args:
            modality: Modality name.

        Returns:
            Its branch.
        """
        # Every value of the ModuleDict was built by ``make_branch`` (see __init__).
        return cast(B, self.branches[modality])

    def modality_index(self, modality: str) -> int:
        """Integer label of a modality for the modality classifiers.

        Args:
            modality: Modality name.

        Returns:
            Its position in ``in_channels``.
        """
        return self.modalities.index(modality)

    def extract(self, modality: str) -> B:
        """Take out the single-sensor network of one modality.

        Args:
            modality: Modality name.

        Returns:
            An independent copy of that modality's branch, in eval mode, whose
            ``forward`` returns logits.

        Raises:
            KeyError: If the model has no such modality.
        """
        if modality not in self.branches:
            msg = f'no modality {modality!r}; the model has {self.modalities}'
            raise KeyError(msg)
        return copy.deepcopy(self.branch(modality)).eval()
