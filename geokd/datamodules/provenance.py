"""What a DataModule trains on, recorded in checkpoints and exported models.

Datasets declare it with two attributes (class attributes, or instance attributes
where it depends on the arguments, as :class:`~geokd.datasets.PairedFolder`'s):

* ``gsd``: ground sample distance of the samples' pixels in metres, one number for
  every modality or a ``{modality: metres}`` dict; None (or absent) when unknown.
* ``synthetic``: True for simulated data (models trained on it must not be mistaken
  for models of real land cover), False for real data; absent when unknown.

The DataModule is read through :class:`TrainingData`, so that this module does not
import :mod:`.multimodal` (which imports it).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class TrainingData(Protocol):
    """What provenance reads of a DataModule (:class:`~geokd.datamodules.MultiModalDataModule` has it).

    Its set-up splits (``train_dataset``, ``val_dataset``, ``test_dataset``) are read
    where present.
    """

    @property
    def dataset_class(self) -> type:
        """The dataset class, whose ``__init__`` takes ``split``."""

    @property
    def kwargs(self) -> dict[str, Any]:
        """The dataset's other constructor arguments."""

    @property
    def modalities(self) -> Sequence[str]:
        """The modalities of a sample."""


def class_path(cls: type) -> str:
    """The importable name of a class.

    Args:
        cls: A class.

    Returns:
        ``module.QualifiedName``.
    """
    return f'{cls.__module__}.{cls.__qualname__}'


def _described_dataset(datamodule: TrainingData) -> object:
    """A dataset instance or class that carries ``gsd`` and ``synthetic``.

    A set-up split is used when it is still the dataset class's own (packed splits
    under ``cache_dir`` lose the attributes); otherwise the class when it declares a
    fixed ``gsd``, else a training split built as for the statistics.
    """
    dataset_class = datamodule.dataset_class
    for name in ('train_dataset', 'val_dataset', 'test_dataset'):
        dataset = getattr(datamodule, name, None)
        if isinstance(dataset, dataset_class):
            return dataset
    if getattr(dataset_class, 'gsd', None) is not None or not datamodule.kwargs:
        return dataset_class
    try:
        return dataset_class(split='train', **datamodule.kwargs)
    except (OSError, ValueError, TypeError):
        return dataset_class


def training_provenance(datamodule: TrainingData) -> dict[str, Any]:
    """Describe the training data of a DataModule.

    Args:
        datamodule: The DataModule.

    Returns:
        ``datamodule`` and ``dataset`` (class paths), ``synthetic`` (bool or None when
        the dataset does not say) and ``gsd`` (metres per pixel of the training
        patches, per modality, None where unknown).
    """
    described = _described_dataset(datamodule)
    gsd = getattr(described, 'gsd', None)
    synthetic = getattr(described, 'synthetic', None)
    if isinstance(gsd, Mapping):
        per_modality = {m: gsd.get(m) for m in datamodule.modalities}
    else:
        per_modality = dict.fromkeys(datamodule.modalities, gsd)
    return {
        'datamodule': class_path(type(datamodule)),
        'dataset': class_path(datamodule.dataset_class),
        'synthetic': synthetic if isinstance(synthetic, bool) else None,
        'gsd': {
            m: float(v) if isinstance(v, int | float) else None
            for m, v in per_modality.items()
        },
    }
