"""Teacher/student distillation into a single-sensor student (KD, DKD, MLKD, +-LS)."""

import importlib
from abc import abstractmethod
from typing import Literal, Protocol, cast, runtime_checkable

import torch
from torch import Tensor
from torchgeo.datasets.utils import Sample

from .. import losses
from ..loader import load_checkpoint
from ..models import TrunkInit, Weights
from ..precision import TrainPrecision
from .base import PerClassifierTask, Split, require_paired
from .multimodal_teacher import MultiModalTeacherTask
from .one_network import SingleSensorTask
from .single_modal import SingleModalTask

Method = Literal['kd', 'dkd', 'mlkd']


@runtime_checkable
class Teacher(Protocol):
    """A task that can be distilled from: it gives the logits of a batch."""

    def logits(self, batch: Sample) -> Tensor:
        """Logits of a batch.

        Args:
            batch: A batch with ``image_<modality>``.

        Returns:
            Logits ``(B, num_classes)``.
        """
        ...


def load_teacher(path: str, class_path: str | None = None) -> PerClassifierTask:
    """Rebuild a trained teacher from its Lightning checkpoint, frozen and in eval mode.

    Args:
        path: Checkpoint written while training the teacher.
        class_path: Task class that wrote it, for checkpoints that do not record it
            (those of ``geokd fit`` do; others default to
            :class:`~geokd.tasks.MultiModalTeacherTask`); it must have a
            ``logits(batch)`` method.

    Returns:
        The teacher task.

    Raises:
        ValueError: If the class or the checkpoint cannot be used.
    """
    cls: type[PerClassifierTask] | None = None
    if class_path is not None:
        module, _, name = class_path.rpartition('.')
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as err:
            msg = f'teacher class {class_path!r} cannot be imported: {err}'
            raise ValueError(msg) from err
        if not (isinstance(cls, type) and issubclass(cls, PerClassifierTask)):
            msg = f'teacher class {class_path!r} is not a geokd task'
            raise ValueError(msg)
    teacher = load_checkpoint(
        path, cls, default_class=cls or MultiModalTeacherTask
    ).task
    if not isinstance(teacher, Teacher):
        msg = f'{path}: a {type(teacher).__name__} has no logits(batch) to distil from'
        raise ValueError(msg)
    teacher.requires_grad_(False)
    return teacher


class StudentTask(SingleSensorTask):
    """A single-sensor network distilled from a frozen teacher, whatever its outputs.

    Training loss: ``ce_weight * task_loss + kd_weight * distillation_loss``; the
    teacher sees the same (augmented) paired batch as the student, in its own
    sensors. Validation and test losses are the task loss alone.

    The teacher is read from the hyperparameter ``teacher_checkpoint`` (of class
    ``teacher_class``) on first use, before training starts so that a bad one fails
    early. It is kept out of the module tree: not trained, not saved, so a student's
    checkpoints are small and load without the teacher's file. Subclasses also need
    the hyperparameters ``num_classes``, ``ce_weight`` and ``kd_weight``, and set
    ``self._teacher = []`` in ``__init__``.
    """

    _teacher: list[PerClassifierTask]

    def check_teacher(self, teacher: PerClassifierTask, path: str) -> None:
        """Refuse a teacher this student cannot learn from.

        Args:
            teacher: The loaded teacher.
            path: Its checkpoint, for the message.

        Raises:
            ValueError: If it predicts another number of classes.
        """
        if teacher.hparams['num_classes'] != self.hparams['num_classes']:
            msg = (
                f'{path}: teacher has {teacher.hparams["num_classes"]} classes, '
                f'the student {self.hparams["num_classes"]}'
            )
            raise ValueError(msg)

    @property
    def teacher(self) -> PerClassifierTask:
        """The frozen teacher, loaded from ``teacher_checkpoint`` on first use.

        Raises:
            ValueError: If it cannot be loaded or :meth:`check_teacher` refuses it.
        """
        if not self._teacher:
            path = self.hparams['teacher_checkpoint']
            teacher = load_teacher(path, self.hparams['teacher_class'])
            self.check_teacher(teacher, path)
            self._teacher.append(teacher.eval())
        return self._teacher[0]

    def setup(self, stage: str) -> None:
        """Load the teacher before training starts, so a bad one fails early.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        super().setup(stage)
        if stage == 'fit':
            self.teacher  # noqa: B018

    def on_fit_start(self) -> None:
        """Put the teacher on the student's device."""
        self.teacher.to(self.device)

    def teacher_logits(self, batch: Sample) -> Tensor:
        """The teacher's logits of a batch, without gradient.

        Args:
            batch: A batch with every sensor the teacher reads.

        Returns:
            The teacher's logits.
        """
        with torch.no_grad():
            # load_teacher checked that the teacher is a Teacher.
            logits: Tensor = cast(Teacher, self.teacher).logits(batch)
        return logits

    @abstractmethod
    def distillation_loss(
        self, student: Tensor, teacher: Tensor, target: Tensor
    ) -> Tensor:
        """The distillation loss (without its weight).

        Args:
            student: Student logits.
            teacher: Teacher logits, detached.
            target: Labels or mask of the batch.

        Returns:
            Scalar loss.
        """

    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        if split != 'train':
            return super()._shared_step(batch, split)
        # The teacher must see the same samples as the student, in its own sensors.
        require_paired(batch, type(self).__name__)
        target = self.target(batch)
        student = self.logits(batch)
        teacher = self.teacher_logits(batch)
        ce = self.task_loss(student, target)
        kd = self.distillation_loss(student, teacher, target)
        loss: Tensor = self.hparams['ce_weight'] * ce + self.hparams['kd_weight'] * kd
        n = len(target)
        self.log('train_loss', loss, batch_size=n, prog_bar=True)
        self.log_dict({'train_loss_ce': ce, 'train_loss_kd': kd}, batch_size=n)
        self.log_metrics('train', self.modalities[0], student, target)
        return loss


class DistillationTask(StudentTask, SingleModalTask):
    """Distil a trained teacher into a single-sensor student (backbone + linear head).

    Loss: ``ce_weight * CE(student, y) + kd_weight * L_kd(student, teacher)`` with
    ``L_kd`` one of classical KD, DKD (times its warm-up) or MLKD, optionally on
    standardised logits. The teacher sees the same (augmented) batch as the student,
    with every modality it needs; it is frozen and stays in eval mode.

    Logged: the student's metrics under its modality (``val_f1_sar``, ...), and
    ``train_loss_ce`` and ``train_loss_kd``. Validation and test losses are the
    cross-entropy alone.

    The teacher is read from ``teacher_checkpoint`` when training starts; it is not
    part of the student's state, so the student's checkpoints are small and load
    (for testing or export) without the teacher's file.
    """

    ignore = 'weights'

    def __init__(
        self,
        modality: str,
        in_channels: int,
        num_classes: int,
        teacher_checkpoint: str,
        teacher_class: str | None = None,
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
        trunk_init: TrunkInit = 'torchvision',
        class_names: list[str] | None = None,
        lr: float = 1e-4,
        precision: TrainPrecision = '32',
    ) -> None:
        """Initialize a new DistillationTask instance.

        Args:
            modality: Sensor of the student (``image_<modality>`` in batches).
            in_channels: Number of channels of that sensor.
            num_classes: Number of task classes.
            teacher_checkpoint: Checkpoint of the trained teacher (a multi-modal
                teacher, or a single-modal task of another sensor for cross-modal
                distillation).
            teacher_class: Task class of the teacher, for checkpoints that do not
                record it; None takes the class the checkpoint names.
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
            trunk_init: Initialisation of trunks without pretrained weights:
                'torchvision' (the reference's) or 'timm', see
                :func:`~geokd.models.create_trunk`.
            class_names: Names of the classes, in label order.
            lr: Learning rate of Adam.
            precision: Training precision: '32' (default), 'bf16-mixed', or 'auto'
                (bfloat16 autocast on CPUs with native bfloat16, float32 elsewhere); an
                explicit ``trainer.precision`` other than 32 takes precedence.

        """
        super().__init__(
            modality,
            in_channels,
            num_classes,
            backbone,
            weights,
            trunk_init,
            class_names,
            lr,
            precision,
        )
        # A list keeps the teacher out of the module tree: not trained, not saved.
        self._teacher: list[PerClassifierTask] = []

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        name = str(self.hparams['method']).upper()
        return f'{name} + LS' if self.hparams['logit_standardization'] else name

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
