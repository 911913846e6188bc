"""What DisCoM-KD's classification and segmentation tasks share.

The training step around the five loss terms, the disentanglement diagnostics, the
schedule of the gradient reversal and prediction; how a batch is split and how the
terms are computed from the network's outputs differ between the two.
"""

from abc import abstractmethod
from typing import Any, Protocol

import torch
from torch import Tensor
from torchgeo.datasets.utils import Sample
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from .. import losses
from ..models import dann_lambda
from .base import PerClassifierTask, Split


class Output(Protocol):
    """What the tasks read from a modality's output, whatever the network."""

    logits: Tensor


class DisCoMKDBase[O: Output](PerClassifierTask):
    """Train every single-sensor network of a DisCoM-KD model at once.

    ``self.model`` is a :class:`~geokd.models.branches.ModalityBranches` whose
    ``forward`` gives an output ``O`` per modality. Subclasses compute the terms with
    :meth:`_loss_terms` and pick the maps of the diagnostics with
    :meth:`_diagnostic_maps`; they need the hyperparameters
    ``in_channels``, ``cl_weight``, ``aux_weight``, ``mod_weight``, ``adv_weight``,
    ``perp_weight``, ``grl_lambda`` and ``grl_schedule``.

    Each validation epoch logs the diagnostics ``val_adv_acc`` (accuracy of
    ``D_adv`` on ``z_inv``: chance, ``1/M``, when ``z_inv`` is modality-invariant),
    ``val_cos_inf_irr`` and ``val_cos_inf_inv``.
    """

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        return 'DisCoM-KD'

    @property
    def modalities(self) -> list[str]:
        """Modality names, in the order of their integer labels."""
        return list(self.hparams['in_channels'])

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
        """Initialize the per-modality metrics and the diagnostics."""
        super().configure_metrics()
        self.adv_acc = MulticlassAccuracy(len(self.modalities), average='micro')
        self.cos_inf_irr = MeanMetric()
        self.cos_inf_inv = MeanMetric()

    def _unpack(self, batch: Sample) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Split a batch into images and targets (labels or masks) per modality.

        Args:
            batch: ``image_<m>`` for each modality, and its targets, shared by all
                (paired) or per modality.

        Returns:
            Images and targets keyed by modality.

        Raises:
            KeyError: If a modality has no image or no target in the batch.
        """
        return self.unpack(batch, self.modalities)

    @abstractmethod
    def _loss_terms(
        self, outputs: dict[str, O], targets: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """Compute every loss term over the samples of all modalities.

        Args:
            outputs: Model outputs per modality.
            targets: Labels or masks per modality.

        Returns:
            The unweighted terms ``cl``, ``aux``, ``mod``, ``adv`` and ``perp``.
        """

    @abstractmethod
    def _diagnostic_maps(self, out: O) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The embeddings and ``D_adv`` logits the diagnostics read.

        Args:
            out: A modality's output.

        Returns:
            ``mod_adv``, ``z_inf``, ``z_irr`` and ``z_inv``.
        """

    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        images, targets = self._unpack(batch)
        outputs: dict[str, O] = self.model(images)
        terms = self._loss_terms(outputs, targets)
        loss = losses.discomkd_loss(terms, self.loss_weights)
        batch_size = sum(len(y) for y in targets.values())
        self.log_loss(split, loss, batch_size)
        self.log_dict(
            {f'{split}_loss_{k}': v for k, v in terms.items()},
            batch_size=batch_size,
            sync_dist=split != 'train',  # epoch-level: averaged over every process
        )
        for m, out in outputs.items():
            self.log_metrics(split, m, out.logits, targets[m])
        if split == 'val':
            self._update_diagnostics(outputs, batch_size)
        return loss

    def _update_diagnostics(self, outputs: dict[str, O], batch_size: int) -> None:
        for m, out in outputs.items():
            mod_adv, z_inf, z_irr, z_inv = self._diagnostic_maps(out)
            # The modality at every sample, or every location of a map.
            shape = (len(mod_adv), *mod_adv.shape[2:])
            index = self.model.modality_index(m)
            self.adv_acc.update(
                mod_adv, torch.full(shape, index, device=mod_adv.device)
            )
            # Weighted by samples (or locations), so the epoch value is the mean over
            # them, whatever the batches (and the processes' shares) were.
            n = z_inf[:, 0].numel()
            self.cos_inf_irr.update(losses.mean_cosine(z_inf, z_irr), n)
            self.cos_inf_inv.update(losses.mean_cosine(z_inf, z_inv), n)
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
        """Class probabilities of every single-sensor network present in the batch.

        Args:
            batch: ``image_<m>`` for one or more modalities.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.

        Returns:
            Softmax probabilities per modality, ``(B, K)`` or per pixel
            ``(B, K, H, W)``.
        """
        return {
            m: self.model.branches[m](batch[f'image_{m}']).softmax(dim=1)
            for m in self.modalities
            if f'image_{m}' in batch
        }
