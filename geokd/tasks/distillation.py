"""Teacher/student distillation into a single-sensor student (KD, DKD, MLKD, +-LS)."""

import contextvars
import importlib
import pickle
from typing import Literal, Self

import torch
import torch.nn.functional as F
from torch import Tensor
from torchgeo.datasets.utils import Sample

from .. import losses
from ..models import Weights
from .base import PerClassifierTask, Split, require_paired
from .single_modal import SingleModalTask, linear_classifier

Method = Literal['kd', 'dkd', 'mlkd']


def load_teacher(
    path: str, class_path: str = 'geokd.tasks.MultiModalTeacherTask'
) -> PerClassifierTask:
    """Rebuild a trained teacher from its Lightning checkpoint, frozen and in eval mode.

    The checkpoint is read with ``weights_only=True``: only tensors and plain
    hyperparameters, no pickled code.

    Args:
        path: Checkpoint written while training the teacher.
        class_path: Task class that wrote it, e.g. ``geokd.tasks.SingleModalTask``
            for a cross-modal teacher; it must have a ``logits(batch)`` method.

    Returns:
        The teacher task.

    Raises:
        ValueError: If the file is missing, unreadable, or not a checkpoint of
            ``class_path``.
    """
    module, _, name = class_path.rpartition('.')
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        msg = f'teacher class {class_path!r} cannot be imported: {err}'
        raise ValueError(msg) from err
    if not hasattr(cls, 'logits'):
        msg = f'teacher class {class_path!r} has no logits(batch) method'
        raise ValueError(msg)
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError as err:
        msg = f'{path}: teacher checkpoint not found'
        raise ValueError(msg) from err
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        msg = f'{path}: not a readable checkpoint ({err})'
        raise ValueError(msg) from err
    if not isinstance(ckpt, dict) or not {'hyper_parameters', 'state_dict'} <= set(
        ckpt
    ):
        msg = f'{path}: not a Lightning checkpoint (no hyper_parameters/state_dict)'
        raise ValueError(msg)
    hparams = {
        k: v for k, v in ckpt['hyper_parameters'].items() if not k.startswith('_')
    }
    try:
        # An empty context: LightningCLI instantiates the student inside a context
        # variable holding the student's hyperparameters, which save_hyperparameters
        # would otherwise give the teacher too.
        teacher = contextvars.Context().run(lambda: cls(**hparams))
        teacher.load_state_dict(ckpt['state_dict'])
    except (TypeError, RuntimeError) as err:
        msg = f'{path}: not a checkpoint of {class_path} ({err})'
        raise ValueError(msg) from err
    teacher.requires_grad_(False)
    return teacher.eval()


class DistillationTask(SingleModalTask):
    """Distil a trained teacher into a single-sensor student (backbone + linear head).

    Loss: ``ce_weight * CE(student, y) + kd_weight * L_kd(student, teacher)`` with
    ``L_kd`` one of classical KD, DKD (times its warm-up) or MLKD, optionally on
    standardised logits. The teacher sees the same (augmented) batch as the student,
    with every modality it needs; it is frozen and stays in eval mode.

    Logged: the student's metrics under its modality (``val_f1_sar``, ...), and
    ``train_loss_ce`` and ``train_loss_kd``. Validation and test losses are the
    cross-entropy alone.
    """

    ignore = 'weights'

    def __init__(
        self,
        modality: str,
        in_channels: int,
        num_classes: int,
        teacher_checkpoint: str,
        teacher_class: str = 'geokd.tasks.MultiModalTeacherTask',
        method: Method = 'kd',
        temperature: float = 4.0,
        alpha: float = 1.0,
        beta: float = 8.0,
        warmup_epochs: int = 20,
        temperatures: list[float] | None = None,
        logit_standardization: bool = False,
        ce_weight: float = 1.0,
        kd_weight: float = 1.0,
        backbone: str = 'resnet18',
        weights: Weights = None,
        class_names: list[str] | None = None,
        lr: float = 1e-4,
    ) -> None:
        """Initialize a new DistillationTask instance.

        Args:
            modality: Sensor of the student (``image_<modality>`` in batches).
            in_channels: Number of channels of that sensor.
            num_classes: Number of task classes.
            teacher_checkpoint: Checkpoint of the trained teacher.
            teacher_class: Task class of the teacher (the multi-modal teacher, or
                ``geokd.tasks.SingleModalTask`` for a cross-modal teacher).
            method: 'kd' (Hinton), 'dkd' (Zhao et al.) or 'mlkd' (Jin et al.).
            temperature: Temperature of KD and DKD (paper: 4).
            alpha: DKD's weight of the target-class term (paper: 1).
            beta: DKD's weight of the non-target-class term (paper: 8).
            warmup_epochs: DKD's warm-up, ``min(epoch / warmup_epochs, 1)`` (paper: 20).
            temperatures: MLKD's temperatures; None takes 2, 3, 4, 5, 6 as the paper.
            logit_standardization: Z-score student and teacher logits before the
                distillation loss (Sun et al., 2024).
            ce_weight: Weight of the cross-entropy with the labels.
            kd_weight: Weight of the distillation loss.
            backbone: timm model name of the student's trunk.
            weights: Initial student trunk weights (not saved in checkpoints).
            class_names: Names of the classes, in label order.
            lr: Learning rate of Adam.

        Raises:
            ValueError: If the teacher cannot be loaded or predicts another number
                of classes.
        """
        teacher = load_teacher(teacher_checkpoint, teacher_class)
        if teacher.hparams['num_classes'] != num_classes:
            msg = (
                f'{teacher_checkpoint}: teacher has {teacher.hparams["num_classes"]} '
                f'classes, the student {num_classes}'
            )
            raise ValueError(msg)
        super().__init__(
            modality, in_channels, num_classes, backbone, weights, class_names, lr
        )
        self.teacher = teacher

    def configure_models(self) -> None:
        """Initialize the student (the teacher was loaded before)."""
        self.model = linear_classifier(
            self.hparams['in_channels'],
            self.hparams['num_classes'],
            self.hparams['backbone'],
            self.weights,
        )

    def train(self, mode: bool = True) -> Self:
        """Set the student's mode; the frozen teacher stays in eval mode.

        Args:
            mode: Training mode of the student.

        Returns:
            This task.
        """
        super().train(mode)
        self.teacher.eval()
        return self

    def distillation_loss(
        self, student: Tensor, teacher: Tensor, labels: Tensor
    ) -> Tensor:
        """The configured distillation loss (without its weight).

        Args:
            student: Student logits ``(N, K)``.
            teacher: Teacher logits ``(N, K)``, detached.
            labels: Class indices ``(N,)`` (used by DKD).

        Returns:
            Scalar loss.
        """
        if self.hparams['logit_standardization']:
            student = losses.standardize_logits(student)
            teacher = losses.standardize_logits(teacher)
        match self.hparams['method']:
            case 'kd':
                return losses.kd_loss(student, teacher, self.hparams['temperature'])
            case 'dkd':
                warmup = losses.dkd_warmup(
                    self.current_epoch + 1, self.hparams['warmup_epochs']
                )
                return warmup * losses.dkd_loss(
                    student,
                    teacher,
                    labels,
                    self.hparams['alpha'],
                    self.hparams['beta'],
                    self.hparams['temperature'],
                )
            case 'mlkd':
                temperatures = self.hparams['temperatures'] or (2.0, 3.0, 4.0, 5.0, 6.0)
                return losses.mlkd_loss(student, teacher, temperatures)
            case other:
                msg = (
                    f"unknown distillation method {other!r}; use 'kd', 'dkd' or 'mlkd'"
                )
                raise ValueError(msg)

    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        if split != 'train':
            return super()._shared_step(batch, split)
        # The teacher must see the same samples as the student, in its own sensors.
        require_paired(batch, type(self).__name__)
        m = self.modalities[0]
        labels = batch.get(f'label_{m}', batch.get('label'))
        if labels is None:
            msg = f"batch has neither 'label_{m}' nor 'label'"
            raise KeyError(msg)
        student = self.logits(batch)
        with torch.no_grad():
            teacher = self.teacher.logits(batch)
        ce = F.cross_entropy(student, labels)
        kd = self.distillation_loss(student, teacher, labels)
        loss = self.hparams['ce_weight'] * ce + self.hparams['kd_weight'] * kd
        n = len(labels)
        self.log('train_loss', loss, batch_size=n, prog_bar=True)
        self.log_dict({'train_loss_ce': ce, 'train_loss_kd': kd}, batch_size=n)
        self.log_metrics('train', m, student, labels)
        return loss
