"""Self-contained single-sensor models: safetensors weights plus JSON metadata.

An exported model is a directory holding ``model.safetensors`` (the
:class:`~geokd.models.ModalityBranch` weights) and ``model.json`` (everything
prediction needs: modality, band names and order, normalisation, patch size, classes,
backbone). Loading one never unpickles anything.
"""

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

import geokd

from ..models import ModalityBranch, create_trunk
from ..transforms import SensorNormalization

#: Identifies geokd's metadata files and their schema version.
FORMAT = 'geokd-single-sensor-classifier'
FORMAT_VERSION = 1
WEIGHTS_FILE = 'model.safetensors'
METADATA_FILE = 'model.json'


class ModelLoadError(ValueError):
    """A model file is missing, unreadable or inconsistent."""


@dataclass
class ModelMetadata:
    """What prediction needs to know about an exported single-sensor classifier.

    Attributes:
        modality: Sensor name in the training data (e.g. ``'sar'``).
        in_channels: Number of input bands.
        num_classes: Number of classes.
        class_names: Class names in label order.
        band_names: Band names in the order the model reads them (may be empty).
        normalization: :meth:`SensorNormalization.to_dict` of the training data,
            including the dB conversion.
        patch_size: Height and width of the training patches in pixels.
        backbone: timm name of the trunks.
        embed_dim: Embedding size of the branch.
        method: Training method.
        geokd_version: geokd version that exported the model.
        source: Checkpoint the weights came from, if any.
    """

    modality: str
    in_channels: int
    num_classes: int
    class_names: list[str]
    band_names: list[str]
    normalization: dict[str, Any]
    patch_size: int
    backbone: str
    embed_dim: int
    method: str = 'DisCoM-KD'
    geokd_version: str = geokd.__version__
    source: str | None = None
    format: str = field(default=FORMAT)
    format_version: int = FORMAT_VERSION

    @property
    def preprocessing(self) -> SensorNormalization:
        """The input normalisation, as used in training."""
        return SensorNormalization.from_dict(dict(self.normalization))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> 'ModelMetadata':
        """Read and validate metadata.

        Args:
            data: Parsed JSON.
            path: File it came from (for error messages).

        Returns:
            The metadata.

        Raises:
            ModelLoadError: If it is not geokd metadata or a field is missing.
        """
        if data.get('format') != FORMAT:
            msg = f'{path}: not a geokd model metadata file (no format {FORMAT!r})'
            raise ModelLoadError(msg)
        if data.get('format_version', 0) > FORMAT_VERSION:
            msg = f'{path}: written by a newer geokd (format {data["format_version"]})'
            raise ModelLoadError(msg)
        try:
            meta = cls(**data)
            meta.preprocessing  # noqa: B018 (validates the statistics)
        except (TypeError, ValueError) as err:
            msg = f'{path}: invalid model metadata: {err}'
            raise ModelLoadError(msg) from err
        if meta.preprocessing.num_bands != meta.in_channels:
            msg = (
                f'{path}: normalisation has {meta.preprocessing.num_bands} bands '
                f'but the model reads {meta.in_channels}'
            )
            raise ModelLoadError(msg)
        return meta


@dataclass
class SingleSensorClassifier:
    """A deployed classifier: the network, its preprocessing and its metadata.

    Attributes:
        model: The classifier (normalised images in, logits out), in eval mode.
        metadata: Its metadata.
    """

    model: ModalityBranch
    metadata: ModelMetadata


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename the result to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def export_model(
    model: ModalityBranch, metadata: ModelMetadata, directory: str | Path
) -> Path:
    """Write an exported model.

    Args:
        model: The single-sensor classifier (``DisCoMKD.extract(modality)``).
        metadata: Its metadata.
        directory: Output directory, created if needed.

    Returns:
        The directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_FILE, lambda p: save_file(tensors, p))
    text = json.dumps(asdict(metadata), indent=2)
    _atomic_write(directory / METADATA_FILE, lambda p: Path(p).write_text(text))
    return directory


def load_exported(path: str | Path) -> SingleSensorClassifier:
    """Load an exported model without unpickling anything.

    Args:
        path: The export directory, or its ``model.json`` or ``model.safetensors``.

    Returns:
        The classifier in eval mode, on the CPU.

    Raises:
        ModelLoadError: If files are missing or do not match each other.
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    meta_path, weights_path = directory / METADATA_FILE, directory / WEIGHTS_FILE
    for p in (meta_path, weights_path):
        if not p.is_file():
            msg = f'{directory}: not an exported geokd model ({p.name} missing)'
            raise ModelLoadError(msg)
    try:
        data = json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:
        msg = f'{meta_path}: unreadable model metadata: {err}'
        raise ModelLoadError(msg) from err
    meta = ModelMetadata.from_dict(data, meta_path)
    model = ModalityBranch(
        meta.in_channels, meta.num_classes, meta.backbone, None, meta.embed_dim
    )
    try:
        model.load_state_dict(load_file(weights_path))
    except Exception as err:
        msg = f'{weights_path}: weights do not match the metadata: {err}'.splitlines()
        raise ModelLoadError(msg[0]) from err
    return SingleSensorClassifier(model.eval(), meta)


def _datamodule_state(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The DataModule state Lightning stored under the DataModule's class name."""
    for value in checkpoint.values():
        if isinstance(value, dict) and 'normalization' in value:
            return value
    return {}


def metadata_from_training(
    hparams: Mapping[str, Any],
    datamodule_state: Mapping[str, Any],
    modality: str,
    source: str | None = None,
) -> ModelMetadata:
    """Assemble metadata from a task's hyperparameters and a DataModule's state.

    Args:
        hparams: :class:`~geokd.tasks.DisCoMKDTask` hyperparameters.
        datamodule_state: The DataModule's ``state_dict()`` (``normalization``,
            and ``band_names`` and ``patch_size`` when recorded).
        modality: The exported modality.
        source: Where the weights came from.

    Returns:
        The metadata.

    Raises:
        ModelLoadError: If the modality, its normalisation or the patch size is missing.
    """
    in_channels = dict(hparams['in_channels'])
    if modality not in in_channels:
        msg = f'no modality {modality!r}; the model has {list(in_channels)}'
        raise ModelLoadError(msg)
    normalization = datamodule_state.get('normalization', {}).get(modality)
    if normalization is None:
        msg = f'{source or "training state"}: no normalisation stored for {modality!r}'
        raise ModelLoadError(msg)
    patch_size = datamodule_state.get('patch_size')
    if not patch_size:
        msg = f'{source or "training state"}: no patch size stored; pass --patch-size'
        raise ModelLoadError(msg)
    num_classes = int(hparams['num_classes'])
    class_names = hparams.get('class_names') or [str(i) for i in range(num_classes)]
    band_names = (datamodule_state.get('band_names') or {}).get(modality) or []
    backbone = hparams.get('backbone', 'resnet18')
    embed_dim = hparams.get('embed_dim')
    if embed_dim is None:
        # None means half the trunk's features; build the trunk alone to know them.
        embed_dim = create_trunk(backbone, 1).num_features // 2
    return ModelMetadata(
        modality=modality,
        in_channels=int(in_channels[modality]),
        num_classes=num_classes,
        class_names=list(class_names),
        band_names=list(band_names),
        normalization=dict(normalization),
        patch_size=int(patch_size),
        backbone=backbone,
        embed_dim=int(embed_dim),
        source=source,
    )


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a DisCoMKDTask checkpoint with ``weights_only`` (no arbitrary code)."""
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:
        msg = f'{path}: unreadable checkpoint: {str(err).splitlines()[0]}'
        raise ModelLoadError(msg) from err
    hparams = ckpt.get('hyper_parameters') if isinstance(ckpt, dict) else None
    # Baseline tasks' checkpoints also carry in_channels, but as one int (single
    # sensor) or without DisCoM-KD branches (teacher): only DisCoM-KD can be exported.
    if (
        not hparams
        or not isinstance(hparams.get('in_channels'), Mapping)
        or not isinstance(ckpt.get('state_dict'), Mapping)
        or not any(k.startswith('model.branches.') for k in ckpt['state_dict'])
    ):
        msg = f'{path}: not a geokd DisCoMKDTask checkpoint'
        raise ModelLoadError(msg)
    return ckpt


def _branch(ckpt: Mapping[str, Any], meta: ModelMetadata) -> ModalityBranch:
    """Rebuild one modality's branch from a checkpoint's state dict."""
    prefix = f'model.branches.{meta.modality}.'
    weights = {
        k.removeprefix(prefix): v
        for k, v in ckpt['state_dict'].items()
        if k.startswith(prefix)
    }
    model = ModalityBranch(
        meta.in_channels, meta.num_classes, meta.backbone, None, meta.embed_dim
    )
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        msg = (
            f'{meta.source}: weights do not match the model: {str(err).splitlines()[0]}'
        )
        raise ModelLoadError(msg) from err
    return model.eval()


def load_checkpoint(
    path: str | Path,
    modality: str,
    patch_size: int | None = None,
    datamodule_state: Mapping[str, Any] | None = None,
) -> SingleSensorClassifier:
    """Take one modality's classifier out of a DisCoMKDTask Lightning checkpoint.

    Args:
        path: The ``.ckpt`` file.
        modality: Which single-sensor classifier to take.
        patch_size: Patch size, for checkpoints that do not record it.
        datamodule_state: DataModule state to use instead of the checkpoint's.

    Returns:
        The classifier in eval mode, on the CPU.

    Raises:
        ModelLoadError: If the file is unreadable or not a DisCoMKDTask checkpoint.
    """
    path = Path(path)
    ckpt = _read_checkpoint(path)
    state = dict(datamodule_state or _datamodule_state(ckpt))
    if patch_size and not state.get('patch_size'):
        state['patch_size'] = patch_size
    meta = metadata_from_training(
        ckpt['hyper_parameters'], state, modality, source=str(path)
    )
    return SingleSensorClassifier(_branch(ckpt, meta), meta)


def load_classifier(
    path: str | Path, modality: str | None = None, patch_size: int | None = None
) -> SingleSensorClassifier:
    """Load an exported model, or one modality of a training checkpoint.

    Args:
        path: Export directory (or its files), or a ``.ckpt`` file.
        modality: Required for a checkpoint; checked against an exported model.
        patch_size: Overrides a checkpoint's missing patch size.

    Returns:
        The classifier.

    Raises:
        ModelLoadError: If the model cannot be loaded or has another modality.
    """
    path = Path(path)
    if not path.exists():
        msg = f'{path}: no such model file or directory'
        raise ModelLoadError(msg)
    if path.is_file() and path.suffix == '.ckpt':
        if modality is None:
            msg = f'{path}: a training checkpoint needs --modality'
            raise ModelLoadError(msg)
        return load_checkpoint(path, modality, patch_size)
    classifier = load_exported(path)
    if modality is not None and modality != classifier.metadata.modality:
        msg = (
            f'{path}: the exported model is for {classifier.metadata.modality!r}, '
            f'not {modality!r}'
        )
        raise ModelLoadError(msg)
    return classifier


def export_checkpoint(
    path: str | Path,
    directory: str | Path,
    modalities: list[str] | None = None,
    patch_size: int | None = None,
) -> dict[str, Path]:
    """Export single-sensor classifiers from a training checkpoint.

    Args:
        path: The ``.ckpt`` file.
        directory: Output directory; each modality goes to ``directory/<modality>``.
        modalities: Modalities to export; None exports all.
        patch_size: Patch size, for checkpoints that do not record it.

    Returns:
        The export directory of each modality.

    Raises:
        ModelLoadError: If the checkpoint cannot be read.
    """
    if modalities is None:
        modalities = list(
            _read_checkpoint(Path(path))['hyper_parameters']['in_channels']
        )
    out = {}
    for m in modalities:
        classifier = load_checkpoint(path, m, patch_size)
        out[m] = export_model(
            classifier.model, classifier.metadata, Path(directory) / m
        )
    return out


def export_after_fit(
    task: Any, datamodule: Any, best_checkpoints: Mapping[str, str], directory: Path
) -> dict[str, Path]:
    """Export each modality from its best checkpoint at the end of ``fit``.

    Args:
        task: The trained :class:`~geokd.tasks.DisCoMKDTask`.
        datamodule: Its DataModule (gives normalisation, band names, patch size).
        best_checkpoints: Best checkpoint per modality; a modality without one is
            exported from the task's current weights.
        directory: Output directory; each modality goes to ``directory/<modality>``.

    Returns:
        The export directory of each modality.
    """
    state = datamodule.state_dict()
    out = {}
    for m in task.modalities:
        ckpt = best_checkpoints.get(m)
        if ckpt:
            classifier = load_checkpoint(ckpt, m, datamodule_state=state)
        else:
            meta = metadata_from_training(task.hparams, state, m)
            classifier = SingleSensorClassifier(task.model.extract(m).cpu(), meta)
        out[m] = export_model(classifier.model, classifier.metadata, directory / m)
    return out
