"""Lightning task training every single-sensor classifier at once with DisCoM-KD."""

from typing import Any, Literal

import torch
from torch import Tensor
from torchgeo.datasets.utils import Sample
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from .. import losses
from ..models import (
    ClassifierSpec,
    DisCoMKD,
    ModalityOutput,
    TrunkInit,
    Weights,
    dann_lambda,
)
from ..precision import TrainPrecision
from .base import (
    DeployableClassifier,
    PerClassifierTask,
    Split,
    check_classes,
    unpack_batch,
)


class DisCoMKDTask(PerClassifierTask):
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

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        return 'DisCoM-KD'

    @property
    def modalities(self) -> list[str]:
        """Modality names, in the order of their integer labels."""
        return list(self.hparams['in_channels'])

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

    def configure_losses(self) -> None:
        """Initialize the loss weights."""
        self.loss_weights = losses.LossWeights(
            cl=self.hparams['cl_weight'],
            aux=self.hparams['aux_weight'],
            mod=self.hparams['mod_weight'],
            adv=self.hparams['adv_weight'],
            perp=self.hparams['perp_weight'],
        )

    def configure_metrics(self) -> None:
        """Initialize per-modality classification metrics and the diagnostics."""
        super().configure_metrics()
        self.adv_acc = MulticlassAccuracy(len(self.modalities), average='micro')
        self.cos_inf_irr = MeanMetric()
        self.cos_inf_inv = MeanMetric()

    def _unpack(self, batch: Sample) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Split a batch into images and labels per modality.

        Args:
            batch: ``image_<m>`` and ``label`` or ``label_<m>`` for each modality.

        Returns:
            Images and labels keyed by modality.

        Raises:
            KeyError: If a modality has no image or no label in the batch.
        """
        return unpack_batch(batch, self.modalities)

    def _loss_terms(
        self, outputs: dict[str, ModalityOutput], labels: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """Compute every loss term over the samples of all modalities.

        Args:
            outputs: Model outputs per modality.
            labels: Class labels per modality.

        Returns:
            The unweighted terms ``cl``, ``aux``, ``mod``, ``adv`` and ``perp``.
        """

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

    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        images, labels = self._unpack(batch)
        outputs = self.model(images)
        terms = self._loss_terms(outputs, labels)
        loss = losses.discomkd_loss(terms, self.loss_weights)
        batch_size = sum(len(y) for y in labels.values())
        # Epoch-level losses (validation, test) are averaged over every process.
        sync = split != 'train'
        self.log(
            f'{split}_loss',
            loss,
            batch_size=batch_size,
            prog_bar=split != 'test',
            sync_dist=sync,
        )
        self.log_dict(
            {f'{split}_loss_{k}': v for k, v in terms.items()},
            batch_size=batch_size,
            sync_dist=sync,
        )
        for m, out in outputs.items():
            self.log_metrics(split, m, out.logits, labels[m])
        if split == 'val':
            self._update_diagnostics(outputs, batch_size)
        return loss

    def _update_diagnostics(
        self, outputs: dict[str, ModalityOutput], batch_size: int
    ) -> None:
        for m, out in outputs.items():
            target = torch.full(
                (len(out.mod_adv),), self.model.modality_index(m), device=self.device
            )
            self.adv_acc.update(out.mod_adv, target)
            # Weighted by samples, so the epoch value is the mean over samples,
            # whatever the batches (and the processes' shares) were.
            n = len(out.z_inf)
            self.cos_inf_irr.update(losses.mean_cosine(out.z_inf, out.z_irr), n)
            self.cos_inf_inv.update(losses.mean_cosine(out.z_inf, out.z_inv), n)
        self.log('val_adv_acc', self.adv_acc, batch_size=batch_size)
        self.log('val_cos_inf_irr', self.cos_inf_irr, batch_size=batch_size)
        self.log('val_cos_inf_inv', self.cos_inf_inv, batch_size=batch_size)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Follow the DANN schedule of the gradient reversal scale, if chosen.

        Args:
            batch: The batch about to be trained on.
            batch_idx: Its index.
        """
        if self.hparams['grl_schedule'] == 'dann':
            progress = self.global_step / max(
                self.trainer.estimated_stepping_batches, 1
            )
            self.model.grl.lambda_ = self.hparams['grl_lambda'] * dann_lambda(progress)

    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        """Class probabilities of every single-sensor classifier present in the batch.

        Args:
            batch: ``image_<m>`` for one or more modalities.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.

        Returns:
            Softmax probabilities per modality.
        """
        return {
            m: self.model.branches[m](batch[f'image_{m}']).softmax(dim=1)
            for m in self.modalities
            if f'image_{m}' in batch
        }
