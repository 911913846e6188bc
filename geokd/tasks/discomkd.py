"""Lightning task training every single-sensor classifier at once with DisCoM-KD."""

from typing import Literal

import torch
from torch import Tensor

from .. import losses
from ..models import ClassifierSpec, DisCoMKD, ModalityOutput, TrunkInit, Weights
from ..precision import TrainPrecision
from .base import DeployableClassifier, check_classes
from .discomkd_base import DisCoMKDBase


class DisCoMKDTask(DisCoMKDBase[ModalityOutput]):
    """Cross-modal distillation by disentanglement and adversarial learning.

    Batches are dicts with ``image_<modality>`` for every modality and either one
    ``label`` (paired: the same samples in every modality) or ``label_<modality>``
    (unpaired: each modality its own samples, as the reference code trains).

    Logged metrics, per modality ``m`` and split ``s``: ``s_f1_m`` (weighted F1, the
    paper's metric), ``s_f1_macro_m``, ``s_acc_m`` (overall accuracy). Each
    validation epoch also logs the disentanglement diagnostics ``val_adv_acc``
    (accuracy of ``D_adv`` on ``z_inv``: chance, ``1/M``, when ``z_inv`` is
    modality-invariant), ``val_cos_inf_irr`` and ``val_cos_inf_inv``.

    One checkpoint per modality keeps that modality's best validation weighted F1, so
    each deployed classifier comes from its own best epoch, as in the paper.
    """

    ignore = 'weights'

    def __init__(
        self,
        in_channels: dict[str, int],
        num_classes: int,
        backbone: str = 'resnet18',
        weights: dict[str, Weights] | None = None,
        embed_dim: int | None = None,
        class_names: list[str] | None = None,
        cl_weight: float = 1.0,
        aux_weight: float = 1.0,
        mod_weight: float = 1.0,
        adv_weight: float = 1.0,
        perp_weight: float = 1.0,
        grl_lambda: float = 1.0,
        grl_schedule: Literal['constant', 'dann'] = 'constant',
        lr: float = 1e-4,
        trunk_init: TrunkInit = 'torchvision',
        precision: TrainPrecision = '32',
    ) -> None:
        """Initialize a new DisCoMKDTask instance.

        Args:
            in_channels: Channel count per modality, e.g. ``{'ms': 13, 'sar': 2}``;
                the order defines the integer modality labels.
            num_classes: Number of task classes.
            backbone: timm model name of every trunk (``resnet18`` in the reference).
            weights: Initial trunk weights per modality: a TorchGeo weight enum or its
                name, a state-dict path, or True for timm's weights; not saved in
                checkpoints (the trained weights are).
            embed_dim: Embedding size; None takes half the trunk's feature size.
            class_names: Names of the classes, in label order.
            cl_weight: Weight of ``L_cl``.
            aux_weight: Weight of ``L_aux`` (0 = the paper's ablation without it).
            mod_weight: Weight of ``L_mod`` (0 = without it).
            adv_weight: Weight of ``L_adv`` (0 = without it).
            perp_weight: Weight of ``L_perp`` (0 = without it).
            grl_lambda: Scale of the gradient reversal (reference: 1).
            grl_schedule: 'constant' keeps ``grl_lambda``; 'dann' scales it by
                ``2 / (1 + exp(-10 p)) - 1`` over training progress ``p``.
            lr: Learning rate of Adam (reference: 1e-4, no scheduler).
            trunk_init: Initialisation of trunks without pretrained weights:
                'torchvision' (the reference's: torchvision's ResNet rule, no
                zero-initialised last BatchNorm in residual blocks) or 'timm' (timm's
                own for the architecture).
            precision: Training precision: '32' (default), 'bf16-mixed', or 'auto'
                (bfloat16 autocast on CPUs with native bfloat16, float32 elsewhere); an
                explicit ``trainer.precision`` other than 32 takes precedence.

        Raises:
            UsageError: If there are fewer than two classes, or ``class_names`` are
                not ``num_classes`` distinct names.
        """
        check_classes(num_classes, class_names)
        self.weights = weights
        super().__init__()

    def deployable_classifiers(self) -> dict[str, DeployableClassifier]:
        """Every modality's branch, each a classifier of its sensor alone.

        Returns:
            Per modality, its branch (``E_inv``, ``P``, ``E_spec``, ``C``).
        """
        return {
            m: DeployableClassifier(
                branch,
                ClassifierSpec(
                    'discomkd_branch',
                    branch.in_chans,
                    branch.num_classes,
                    self.hparams['backbone'],
                    branch.embed_dim,
                ),
            )
            for m, branch in self.model.branches.items()
        }

    def configure_models(self) -> None:
        """Initialize the DisCoM-KD network."""
        self.model = DisCoMKD(
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            backbone=self.hparams['backbone'],
            weights=self.weights,
            embed_dim=self.hparams['embed_dim'],
            grl_lambda=self.hparams['grl_lambda'],
            trunk_init=self.hparams['trunk_init'],
        )

    def _loss_terms(
        self, outputs: dict[str, ModalityOutput], labels: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """The classification terms (see :mod:`geokd.losses.discomkd`)."""

        def cat(field: str) -> Tensor:
            return torch.cat([getattr(outputs[m], field) for m in outputs])

        y = torch.cat([labels[m] for m in outputs])
        modality = torch.cat(
            [torch.full_like(labels[m], self.model.modality_index(m)) for m in outputs]
        )
        return {
            'cl': losses.classification_loss(cat('logits'), y),
            'aux': losses.auxiliary_loss(cat('aux_inf'), cat('aux_inv'), y),
            'mod': losses.modality_loss(cat('mod_inf'), cat('mod_irr'), modality),
            'adv': losses.adversarial_loss(cat('mod_adv'), modality),
            'perp': losses.orthogonality_loss(cat('z_inf'), cat('z_irr'), cat('z_inv')),
        }

    def _diagnostic_maps(
        self, out: ModalityOutput
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The embeddings and ``D_adv`` logits of every sample."""
        return out.mod_adv, out.z_inf, out.z_irr, out.z_inv
