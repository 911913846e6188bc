"""Tasks training one network: a single-sensor baseline or a multi-sensor teacher.

Classification and segmentation share them: only the network, the targets and the
metrics differ (see :mod:`geokd.tasks.single_modal`,
:mod:`geokd.tasks.multimodal_teacher` and :mod:`geokd.tasks.segmentation_baselines`).
"""

from abc import abstractmethod

from torch import Tensor
from torchgeo.datasets.utils import Sample

from .base import PerClassifierTask, Split, images_of, require_paired


class OneNetworkTask(PerClassifierTask):
    """A task training one network, the one entry of :attr:`modalities`.

    Its :meth:`logits` is what a distilled student asks of it as a teacher
    (:class:`~geokd.tasks.distillation.Teacher`); prediction gives their softmax.
    """

    @abstractmethod
    def logits(self, batch: Sample) -> Tensor:
        """The network's logits of a batch.

        Args:
            batch: A batch with ``image_<m>`` of every sensor the network reads.

        Returns:
            Logits ``(B, num_classes)``, per pixel ``(B, num_classes, H, W)`` for a
            segmenter.

        Raises:
            KeyError: If the batch misses an image the network reads.
        """

    @abstractmethod
    def target(self, batch: Sample) -> Tensor:
        """The targets of the network in a batch.

        Args:
            batch: A training, validation or test batch.

        Returns:
            Labels ``(B,)``, or a mask ``(B, H, W)`` for a segmenter.

        Raises:
            KeyError: If the batch has no such target.
        """

    def _shared_step(self, batch: Sample, split: Split) -> Tensor:
        target = self.target(batch)
        logits = self.logits(batch)
        loss = self.task_loss(logits, target)
        self.log_loss(split, loss, len(logits))
        self.log_metrics(split, self.modalities[0], logits, target)
        return loss

    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        """Class probabilities of the network.

        Args:
            batch: A batch with ``image_<m>`` of every sensor the network reads.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.

        Returns:
            Softmax probabilities over the classes (dimension 1), keyed by the
            network's name.
        """
        return {self.modalities[0]: self.logits(batch).softmax(dim=1)}


class SingleSensorTask(OneNetworkTask):
    """A network of the sensor ``modality`` alone: the single-modal baseline.

    Needs the hyperparameter ``modality``; the network is named after the sensor.
    Distilled students are such networks too
    (:class:`~geokd.tasks.distillation.StudentTask`).
    """

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        return 'single-modal'

    @property
    def modalities(self) -> list[str]:
        """The one sensor this network needs."""
        return [self.hparams['modality']]

    def logits(self, batch: Sample) -> Tensor:
        """The network's logits of a batch (what a student asks its teacher).

        Args:
            batch: A batch with ``image_<modality>``.

        Returns:
            Logits ``(B, num_classes)``, per pixel ``(B, num_classes, H, W)`` for a
            segmenter.

        Raises:
            KeyError: If the batch has no ``image_<modality>``.
        """
        m = self.modalities[0]
        logits: Tensor = self.model(images_of(batch, [m])[m])
        return logits

    def target(self, batch: Sample) -> Tensor:
        """The targets of the sensor in a batch (shared, or its own if unpaired).

        Args:
            batch: ``image_<modality>`` and its labels or mask.

        Returns:
            Labels ``(B,)``, or a mask ``(B, H, W)`` for a segmenter.
        """
        _, targets = self.unpack(batch, self.modalities)
        return targets[self.modalities[0]]


class MultiSensorTask(OneNetworkTask):
    """The multi-modal teacher: one network reading every sensor of ``in_channels``.

    It is named after its sensors joined by ``+`` (``'ms+sar'``), and needs them
    all, so it is never deployed alone.
    """

    @property
    def method_name(self) -> str:
        """Name of the training method, recorded in exported models."""
        return 'multi-modal teacher'

    @property
    def sensors(self) -> list[str]:
        """The sensors the network reads, in the order of ``in_channels``."""
        return list(self.hparams['in_channels'])

    @property
    def modalities(self) -> list[str]:
        """The name of the one network, e.g. ``['ms+sar']``."""
        return ['+'.join(self.sensors)]

    def logits(self, batch: Sample) -> Tensor:
        """The network's logits of a batch (what a student asks its teacher).

        Args:
            batch: A batch with ``image_<m>`` of every sensor.

        Returns:
            Logits ``(B, num_classes)``, per pixel ``(B, num_classes, H, W)`` for a
            segmenter.

        Raises:
            KeyError: If a sensor is missing from the batch.
        """
        logits: Tensor = self.model(images_of(batch, self.sensors))
        return logits

    def target(self, batch: Sample) -> Tensor:
        """The targets of a paired batch, which every sensor shares.

        Args:
            batch: ``image_<m>`` of every sensor and one ``label`` or ``mask``.

        Returns:
            Labels ``(B,)``, or a mask ``(B, H, W)`` for a segmenter.

        Raises:
            ValueError: If the batch is not paired.
        """
        require_paired(batch, type(self).__name__)
        _, targets = self.unpack(batch, self.sensors)
        return next(iter(targets.values()))
