"""Hostile ``geokd export``: checkpoints from anyone, bad outputs, bad arguments.

A checkpoint is never unpickled beyond tensors and plain values, names in it never
become paths outside ``-o``, and nothing that would not load again is written.
"""

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from .conftest import Evil, Geokd, TinyRun
from .helpers import Sandbox, assert_clean_error

#: A case: arguments after ``geokd export`` and the text the error must contain.
Case = Callable[[Sandbox, TinyRun, Evil], tuple[list[str], str]]


class _RunsCode:
    """Unpickling this runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def _export(path: Path, box: Sandbox, *args: str) -> list[str]:
    return [str(path), '-o', str(box.out), *args]


def raw_file(content: bytes | None) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        path = box.inputs / 'x.ckpt'
        if content is not None:
            path.write_bytes(content)
        return _export(path, box), str(path)

    return case


def saved(make: Callable[[TinyRun, Evil], Any]) -> Case:
    """A file written with ``torch.save`` (a zip archive with a pickle inside)."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        path = box.inputs / 'x.ckpt'
        torch.save(make(run, evil), path)
        return _export(path, box), str(path)

    return case


def tampered(change: Callable[[dict[str, Any], Sandbox, Evil], None]) -> Case:
    """The tiny run's best depth checkpoint, changed."""

    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        checkpoint = torch.load(run.best, weights_only=True)
        change(checkpoint, box, evil)
        path = box.inputs / 'x.ckpt'
        torch.save(checkpoint, path)
        return _export(path, box), str(path)

    return case


def hparams(**values: Any) -> Case:
    def change(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
        checkpoint['hyper_parameters'].update(
            {k: v(box) if callable(v) else v for k, v in values.items()}
        )

    return tampered(change)


def state(**values: Any) -> Case:
    """Change the DataModule state saved in the checkpoint."""

    def change(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
        checkpoint['PairedFolderDataModule'].update(values)

    return tampered(change)


def _drop(key: str) -> Callable[[dict[str, Any], Sandbox, Evil], None]:
    return lambda checkpoint, box, evil: checkpoint.pop(key)


def _class_path(value: str) -> Callable[[dict[str, Any], Sandbox, Evil], None]:
    def change(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
        checkpoint['hyper_parameters']['_class_path'] = value.format(evil=evil.module)

    return change


def _bad_weight(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
    key = next(k for k in checkpoint['state_dict'] if k.endswith('head.weight'))
    checkpoint['state_dict'][key] = torch.zeros(7, 5)


def _weights(change: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Case:
    """Change the weights, and the hyperparameters to ``values``."""

    def tamper(checkpoint: dict[str, Any], box: Sandbox, evil: Evil) -> None:
        checkpoint['hyper_parameters'].update(values)
        checkpoint['state_dict'] = change(dict(checkpoint['state_dict']))

    return tampered(tamper)


def _none(weights: dict[str, Any]) -> dict[str, Any]:
    return {}


def _drop_one(weights: dict[str, Any]) -> dict[str, Any]:
    weights.pop(next(k for k in weights if k.endswith('head.weight')))
    return weights


def _add_one(weights: dict[str, Any]) -> dict[str, Any]:
    return {**weights, 'extra': torch.zeros(1)}


def arguments(*args: str, names: str) -> Case:
    def case(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
        return _export(run.best, box, *args), names

    return case


def output_is_a_file(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
    target = box.inputs / 'a_file'
    target.write_text('mine')
    return [str(run.best), '-o', str(target)], str(target)


def output_link_outside(
    box: Sandbox, run: TinyRun, evil: Evil
) -> tuple[list[str], str]:
    box.out.mkdir()
    (box.out / 'depth').symlink_to(box.inputs)
    return _export(run.best, box, '--modality', 'depth'), str(box.out / 'depth')


def _checkpoint_dir(box: Sandbox, run: TinyRun, evil: Evil) -> tuple[list[str], str]:
    return _export(box.inputs, box), str(box.inputs)


CASES: dict[str, Case] = {
    'missing': raw_file(None),
    'empty': raw_file(b''),
    'text': raw_file(b'hello'),
    'random bytes': raw_file(bytes(range(256)) * 8),
    'a zip of nothing': raw_file(b'PK\x05\x06' + b'\0' * 18),
    'a directory': _checkpoint_dir,
    'a pickle that runs code': lambda box, run, evil: (
        _write_pickle(box, _RunsCode(evil.command)),
        str(box.inputs / 'x.ckpt'),
    ),
    'a torch file that runs code': saved(lambda run, evil: _RunsCode(evil.command)),
    'a list': saved(lambda run, evil: [1, 2, 3]),
    'a tensor': saved(lambda run, evil: torch.zeros(3)),
    'no state_dict': tampered(_drop('state_dict')),
    'no hyper_parameters': tampered(_drop('hyper_parameters')),
    'no lightning version': tampered(_drop('pytorch-lightning_version')),
    'class of another library': tampered(_class_path('subprocess.Popen')),
    'class of a module that runs code': tampered(_class_path('{evil}.Task')),
    'class not a task': tampered(_class_path('geokd.datamodules.MultiModalDataModule')),
    'modality traversal': hparams(in_channels={'../../escaped': 1, 'thermal': 1}),
    'modality absolute path': hparams(
        in_channels=lambda box: {str(box.root / 'abs'): 1, 'thermal': 1}
    ),
    'modality empty': hparams(in_channels={'': 1, 'thermal': 1}),
    'class name with a slash': hparams(class_names=['a/b', 'c', 'd']),
    'class names repeated': hparams(class_names=['a', 'a', 'b']),
    'class names too many': hparams(class_names=['a', 'b', 'c', 'd']),
    'num_classes a string': hparams(num_classes='three'),
    'num_classes huge': hparams(num_classes=65535),
    'num_classes absurd': hparams(num_classes=10**12),
    'in_channels absurd': hparams(in_channels={'depth': 10**9, 'thermal': 1}),
    'in_channels not matching the weights': hparams(
        in_channels={'depth': 3, 'thermal': 1}
    ),
    'embed_dim absurd': hparams(embed_dim=2**40),
    'backbone unknown': hparams(backbone='no_such_net'),
    'lr a list': hparams(lr=[1, 2]),
    'weight of a wrong shape': tampered(_bad_weight),
    # 19.11: with no weights to compare, a huge network was built before any check.
    'no weights, huge backbone': _weights(
        _none, backbone='vit_gigantic_patch14_clip_224'
    ),
    'no weights': _weights(_none),
    'a weight missing': _weights(_drop_one),
    'a weight too many': _weights(_add_one),
    'normalisation missing': state(normalization={}),
    'normalisation malformed': state(normalization={'depth': {'shift': 'x'}}),
    'patch size negative': state(patch_size=-5),
    'class names of the data with a slash': state(class_names=['a/b', 'c', 'd']),
    'output is a file': output_is_a_file,
    'output links outside': output_link_outside,
    'patch size zero': arguments('--patch-size', '0', names='--patch-size'),
    'patch size negative argument': arguments(
        '--patch-size', '-5', names='--patch-size'
    ),
    'patch size not a number': arguments('--patch-size', 'big', names='--patch-size'),
    'modality argument traversal': arguments('--modality', '../x', names="'../x'"),
    'modality not in the checkpoint': arguments('--modality', 'sar', names="'sar'"),
    'unknown option': arguments('--force', names='--force'),
}


def _write_pickle(box: Sandbox, payload: object) -> list[str]:
    path = box.inputs / 'x.ckpt'
    path.write_bytes(pickle.dumps(payload))
    return _export(path, box)


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_export_hostile(
    case: Case, sandbox: Sandbox, tiny_run: TinyRun, evil: Evil, geokd: Geokd
) -> None:
    argv, names = case(sandbox, tiny_run, evil)
    assert_clean_error(geokd(['export', *argv]), 'export', names)
    # Nothing that looks like a finished export is left behind.
    assert not list(sandbox.out.rglob('model.json'))


def test_export_disk_full(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd, full_disk: Path
) -> None:
    outcome = geokd(['export', str(tiny_run.best), '-o', str(full_disk)])
    assert_clean_error(outcome, 'export', str(full_disk))
    assert 'space' in outcome.err
    assert not list(full_disk.rglob('model.*'))
    shutil.rmtree(full_disk / 'depth', ignore_errors=True)


def test_export_names_the_dataset_classes(tiny_run: TinyRun) -> None:
    # The tiny run gives no class_names: exports take the dataset's, in label order.
    from geokd.export import load_exported

    for modality in ('depth', 'thermal'):
        meta = load_exported(tiny_run.log_dir / 'export' / modality).metadata
        assert meta.class_names == ['sitting', 'standing', 'walking']
