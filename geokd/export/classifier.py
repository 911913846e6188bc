"""Self-contained single-sensor models: safetensors weights plus JSON metadata.

An exported model is a directory holding ``model.safetensors`` (the classifier's
weights) and ``model.json`` (everything prediction needs: modality, band names and
order, normalisation, patch size, classes, and the architecture as a
:class:`~geokd.models.ClassifierSpec`, or a :class:`~geokd.models.SegmenterSpec`
for a segmenter, whose ``kind`` says so). Every geokd task's single-sensor
classifiers and segmenters can be exported
(:meth:`~geokd.tasks.PerClassifierTask.deployable_classifiers`): DisCoM-KD
branches, single-modal baselines and distilled students. Loading an export never
unpickles anything.
"""

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import GeokdError, LoadError, one_line, output_error
from ..loader import LoadedCheckpoint, load_checkpoint
from ..models import SegmenterSpec
from ..schema import SafeName
from .metadata import ModelLoadError, ModelMetadata, TrainingData

if TYPE_CHECKING:
    from ..tasks import PerClassifierTask

WEIGHTS_FILE = 'model.safetensors'
METADATA_FILE = 'model.json'


@dataclass
class SingleSensorClassifier:
    """A deployed classifier: the network, its preprocessing and its metadata.

    Attributes:
        model: The classifier (normalised images in, logits out), in eval mode.
        metadata: Its metadata.
    """

    model: torch.nn.Module
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
    model: torch.nn.Module, metadata: ModelMetadata, directory: str | Path
) -> Path:
    """Write an exported model.

    Args:
        model: The single-sensor classifier (its weights are copied).
        metadata: Its metadata.
        directory: Output directory, created if needed.

    Returns:
        The directory.

    Raises:
        ModelLoadError: If the metadata would not pass its own validation.
        GeokdError: If the files cannot be written.
    """
    directory = Path(directory)
    # What predict will read back is validated before anything is written; a
    # fault comes from the checkpoint, if there is one.
    source = Path(metadata.source) if metadata.source else directory / METADATA_FILE
    ModelMetadata.from_dict(metadata.to_dict(), source)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    check_finite(tensors, source, 'not exported')
    text = json.dumps(metadata.to_dict(), indent=2)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / WEIGHTS_FILE, lambda p: save_file(tensors, p))
        _atomic_write(directory / METADATA_FILE, lambda p: Path(p).write_text(text))
    except OSError as err:
        raise output_error(directory, err) from err
    except SafetensorError as err:  # safetensors reports I/O errors as its own
        msg = f'{directory}: cannot write the weights ({one_line(str(err))})'
        raise GeokdError(msg) from err
    return directory


def export_directory(root: str | Path, modality: str) -> Path:
    """The export directory of a classifier: ``root/<modality>``, inside ``root``.

    Modality names come from checkpoints, which may come from anyone: a name that
    is not a :data:`~geokd.schema.SafeName`, or a directory that resolves outside
    ``root`` (through a symbolic link), is refused.

    Args:
        root: The output directory.
        modality: The classifier's name.

    Returns:
        The directory.

    Raises:
        ModelLoadError: If it would lie outside ``root``.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        msg = f'{root}: is a file, not a directory (give an output directory)'
        raise ModelLoadError(msg)
    try:
        SafeName(modality)
    except ValueError as err:
        msg = (
            f'{root}: refusing to export a classifier named {modality!r}: not a safe '
            'directory name (letters, digits, _ + -)'
        )
        raise ModelLoadError(msg) from err
    target = root / modality
    if not target.resolve().is_relative_to(root.resolve()):
        msg = f'{target}: resolves outside {root} (remove the link)'
        raise ModelLoadError(msg)
    return target


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
    except (OSError, ValueError, RecursionError) as err:
        detail = 'nested too deep' if isinstance(err, RecursionError) else err
        msg = f'{meta_path}: unreadable model metadata: {detail}'
        raise ModelLoadError(msg) from err
    meta = ModelMetadata.from_dict(data, meta_path)
    try:
        with torch.device('meta'):  # no memory: the shapes only
            expected = {
                k: tuple(v.shape) for k, v in meta.spec.build().state_dict().items()
            }
    except ValueError as err:
        msg = f'{meta_path}: {one_line(str(err))}'
        raise ModelLoadError(msg) from err
    check_weight_shapes(weights_path, expected)
    model = meta.spec.build()
    try:
        model.load_state_dict(load_file(weights_path))
    except Exception as err:
        reason = f'{weights_path}: weights do not match the metadata: {err}'
        raise ModelLoadError(reason.splitlines()[0]) from err
    check_finite(model.state_dict(), weights_path, 'a damaged or diverged model')
    return SingleSensorClassifier(model.eval(), meta)


def check_finite(tensors: Mapping[str, torch.Tensor], where: Path, what: str) -> None:
    """Refuse weights holding NaN or infinite values (a diverged training, damage).

    Such a model gives one class everywhere, or no class, with no other sign.

    Args:
        tensors: The weights by name.
        where: The file named in the message.
        what: What the message says of it.

    Raises:
        ModelLoadError: Naming the first weight that is not finite.
    """
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            msg = f'{where}: weight {name} holds NaN or infinite values ({what})'
            raise ModelLoadError(msg)


def check_weight_shapes(path: Path, expected: Mapping[str, tuple[int, ...]]) -> None:
    """Check a weights file's names and shapes, from its header, before any build.

    The network the metadata describes is built only once its weights are known to
    fit exactly: a ``model.json`` naming a huge backbone, whatever its weights
    file holds (none, some, others), is refused without allocating it.

    Args:
        path: The ``model.safetensors`` file.
        expected: Name -> shape of every weight the network has.

    Raises:
        ModelLoadError: If the file is unreadable, or a weight is missing, extra or
            of another shape.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), 'pt') as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        msg = f'{path}: unreadable weights ({one_line(str(err))})'
        raise ModelLoadError(msg) from err
    problem = None
    if missing := sorted(expected.keys() - found.keys()):
        problem = f'{len(missing)} weight(s) missing, e.g. {missing[0]}'
    elif extra := sorted(found.keys() - expected.keys()):
        problem = f'{len(extra)} unexpected weight(s), e.g. {extra[0]}'
    else:
        wrong = sorted(k for k in expected if expected[k] != found[k])
        if wrong:
            k = wrong[0]
            problem = f'{k} is {list(found[k])} in the file but {list(expected[k])}'
    if problem:
        msg = f'{path}: weights do not match the metadata ({problem})'
        raise ModelLoadError(msg)


def metadata_from_task(
    task: 'PerClassifierTask',
    name: str,
    datamodule_state: Mapping[str, Any],
    source: str | None = None,
) -> ModelMetadata:
    """Assemble the metadata of one of a task's single-sensor classifiers.

    Args:
        task: The trained task.
        name: The classifier (a modality name).
        datamodule_state: The DataModule's ``state_dict()``: ``normalization`` per
            modality, and ``band_names``, ``patch_size`` and ``provenance`` when
            recorded (checkpoints written before they were are still read).
        source: Where the weights came from.

    Returns:
        The metadata.

    Raises:
        ModelLoadError: If the task has no such single-sensor classifier, or the
            normalisation or patch size is missing.
    """
    where = source or 'training state'
    deployable = task.deployable_classifiers()
    if name not in deployable:
        msg = (
            f'{where}: no single-sensor classifier {name!r} in this '
            f'{type(task).__name__}; it has {sorted(deployable) or "none"}'
        )
        raise ModelLoadError(msg)
    spec = deployable[name].spec
    normalization = (datamodule_state.get('normalization') or {}).get(name)
    if normalization is None:
        msg = f'{where}: no normalisation stored for {name!r}'
        raise ModelLoadError(msg)
    patch_size = datamodule_state.get('patch_size')
    if not patch_size:
        msg = f'{where}: no patch size stored; pass --patch-size'
        raise ModelLoadError(msg)
    hparams = task.hparams
    # The DataModule records the dataset's classes, whose order the labels follow.
    class_names = (
        hparams.get('class_names')
        or datamodule_state.get('class_names')
        or [str(i) for i in range(spec.num_classes)]
    )
    provenance = datamodule_state.get('provenance') or {}
    return ModelMetadata(
        modality=name,
        in_channels=spec.in_channels,
        num_classes=spec.num_classes,
        class_names=list(class_names),
        band_names=list((datamodule_state.get('band_names') or {}).get(name) or []),
        normalization=dict(normalization),
        patch_size=int(patch_size),
        backbone=spec.backbone,
        embed_dim=spec.embed_dim,
        architecture=spec.architecture,
        kind=spec.kind,  # type: ignore[arg-type]  # 'classifier' or 'segmenter'
        encoder_depth=getattr(spec, 'encoder_depth', None),
        decoder_channels=(
            list(spec.decoder_channels) if isinstance(spec, SegmenterSpec) else None
        ),
        method=task.method_name,
        source=source,
        training_data=TrainingData(
            provenance.get('datamodule'),
            provenance.get('dataset'),
            provenance.get('synthetic'),
        )
        if provenance
        else None,
        gsd=(provenance.get('gsd') or {}).get(name),
        exported_at=datetime.now(UTC)
        .isoformat(timespec='seconds')
        .replace('+00:00', 'Z'),
        torch_version=torch.__version__,
    )


def classifier_from_task(
    task: 'PerClassifierTask',
    name: str,
    datamodule_state: Mapping[str, Any],
    source: str | None = None,
) -> SingleSensorClassifier:
    """Take one single-sensor classifier out of a task, as an independent copy.

    Args:
        task: The trained task.
        name: The classifier (a modality name).
        datamodule_state: The DataModule's ``state_dict()``.
        source: Where the weights came from.

    Returns:
        The classifier on the CPU, in eval mode, and its metadata.
    """
    meta = metadata_from_task(task, name, datamodule_state, source)
    model = meta.spec.build()
    weights = task.deployable_classifiers()[name].module.state_dict()
    model.load_state_dict({k: v.detach().cpu() for k, v in weights.items()})
    return SingleSensorClassifier(model.eval(), meta)


def _load_task(
    path: str | Path, task_class: type['PerClassifierTask'] | None = None
) -> LoadedCheckpoint:
    """Rebuild a checkpoint's task, any of geokd's tasks when no class is given.

    :func:`~geokd.loader.load_checkpoint` considers only the classes already
    imported; in a fresh process (``geokd export``, ``geokd predict --model CKPT``)
    nothing has imported geokd's tasks yet.
    """
    if task_class is None:
        import geokd.tasks  # noqa: F401

    return load_checkpoint(path, task_class)


def classifier_from_checkpoint(
    path: str | Path,
    modality: str,
    patch_size: int | None = None,
    task_class: type['PerClassifierTask'] | None = None,
) -> SingleSensorClassifier:
    """Take one single-sensor classifier out of a training checkpoint.

    Args:
        path: The ``.ckpt`` file of any geokd task.
        modality: Which classifier to take.
        patch_size: Patch size, for checkpoints that do not record it.
        task_class: The task's class, for checkpoints that do not record it.

    Returns:
        The classifier in eval mode, on the CPU.

    Raises:
        ModelLoadError: If the file is unreadable or has no such classifier.
    """
    try:
        loaded = _load_task(path, task_class)
    except LoadError as err:
        raise ModelLoadError(str(err)) from err
    state = dict(loaded.datamodule_state)
    if patch_size and not state.get('patch_size'):
        state['patch_size'] = patch_size
    return classifier_from_task(loaded.task, modality, state, source=str(path))


def load_classifier(
    path: str | Path, modality: str | None = None, patch_size: int | None = None
) -> SingleSensorClassifier:
    """Load an exported model, or one classifier of a training checkpoint.

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
        return classifier_from_checkpoint(path, modality, patch_size)
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
        path: The ``.ckpt`` file of any geokd task.
        directory: Output directory; each classifier goes to ``directory/<modality>``.
        modalities: Classifiers to export; None exports all of them.
        patch_size: Patch size, for checkpoints that do not record it.

    Returns:
        The export directory of each classifier.

    Raises:
        ModelLoadError: If the checkpoint cannot be read or has no single-sensor
            classifier.
    """
    try:
        loaded = _load_task(path)
    except LoadError as err:
        raise ModelLoadError(str(err)) from err
    names = modalities or list(loaded.task.deployable_classifiers())
    for m in names:
        export_directory(directory, m)
    if not names:
        msg = (
            f'{path}: a {type(loaded.task).__name__} has no single-sensor classifier '
            'or segmenter to export (it needs every sensor at once)'
        )
        raise ModelLoadError(msg)
    state = dict(loaded.datamodule_state)
    if patch_size and not state.get('patch_size'):
        state['patch_size'] = patch_size
    out = {}
    for m in names:
        classifier = classifier_from_task(loaded.task, m, state, source=str(path))
        out[m] = export_model(
            classifier.model, classifier.metadata, export_directory(directory, m)
        )
    return out
