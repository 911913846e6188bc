"""Hostile ``geokd fit`` / ``validate`` / ``test``: configs, data and checkpoints.

Every case fails before or at the first batch with one line naming the culprit.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from .conftest import Geokd, TinyRun, write_config
from .helpers import Sandbox, assert_clean_error

#: A case: given the sandbox and the tiny run, the arguments and the text the
#: error must contain.
Case = Callable[[Sandbox, TinyRun], tuple[list[str], str]]


def _fit(
    box: Sandbox, run: TinyRun, *extra: str, data: Path | None = None
) -> list[str]:
    config = write_config(box.inputs / 'fit.yaml', data or run.data)
    return [
        'fit', '--config', str(config), '--trainer.default_root_dir', str(box.out),
        *extra,
    ]  # fmt: skip


def _data_copy(box: Sandbox, run: TinyRun) -> Path:
    data = box.inputs / 'tristar'
    shutil.copytree(run.data, data)
    return data


def _text(box: Sandbox, name: str, content: str | bytes) -> Path:
    path = box.inputs / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def config_file(content: str | bytes | None) -> Case:
    def case(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
        path = box.inputs / 'c.yaml'
        if content is not None:
            _text(box, 'c.yaml', content)
        return ['fit', '--config', str(path)], str(path)

    return case


def override(*extra: str, names: str) -> Case:
    def case(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
        return _fit(box, run, *extra), names

    return case


def broken_file(name: str, damage: Callable[[Path], None], *extra: str) -> Case:
    def case(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
        data = _data_copy(box, run)
        damage(data / name)
        return _fit(box, run, *extra, data=data), str(data / name)

    return case


def odd_size(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
    from PIL import Image

    data = _data_copy(box, run)
    Image.new('I;16', (24, 20)).save(data / 'depth' / 'sitting_01.png')
    return _fit(box, run, '--data.init_args.size', 'null', data=data), str(data)


def other_channel_count(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
    # One image of a sensor saved with other channels (an RGB image saved grey).
    from PIL import Image

    data = _data_copy(box, run)
    path = data / 'depth' / 'walking_05.png'
    Image.new('RGB', (24, 20), (1, 2, 3)).save(path)
    return _fit(box, run, data=data), f'{path}: 3 channels, but '


def other_channel_count_in_a_worker(
    box: Sandbox, run: TinyRun
) -> tuple[list[str], str]:
    argv, names = other_channel_count(box, run)
    return [*argv, '--data.init_args.num_workers', '1'], names


def listed_class_without_samples(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
    extra = ['--data.init_args.classes', '[sitting, standing, walking, running]',
             '--model.init_args.num_classes', '4']  # fmt: skip
    names = "class 'running' has no samples (train 0, val 0, test 0)"
    return _fit(box, run, *extra), names


def bad_manifest(content: str) -> Case:
    def case(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
        data = _data_copy(box, run)
        (data / 'manifest.csv').write_text(content)
        return _fit(box, run, data=data), str(data / 'manifest.csv')

    return case


def missing_folder(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
    data = _data_copy(box, run)
    shutil.rmtree(data / 'thermal')
    return _fit(box, run, data=data), str(data / 'thermal')


def ckpt(kind: str, command: str = 'fit') -> Case:
    def case(box: Sandbox, run: TinyRun) -> tuple[list[str], str]:
        path = box.inputs / 'x.ckpt'
        if kind == 'missing':
            pass
        elif kind == 'text':
            path.write_text('not a checkpoint')
        elif kind == 'empty':
            path.write_bytes(b'')
        elif kind == 'truncated':
            path.write_bytes(run.last.read_bytes()[:2000])
        elif kind == 'weights_only':
            shutil.copy(run.best, path)
        else:
            checkpoint = torch.load(run.last, weights_only=True)
            hparams = checkpoint['hyper_parameters']
            if kind == 'traversal':
                hparams['in_channels'] = {'../../x': 1, 'thermal': 1}
            elif kind == 'class_path':
                hparams['_class_path'] = 'subprocess.Popen'
            elif kind == 'num_classes':
                hparams['num_classes'] = 'three'
            torch.save(checkpoint, path)
        args = _fit(box, run, '--ckpt_path', str(path))
        args[0] = command
        return args, str(path)

    return case


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:60])


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


CASES: dict[str, Case] = {
    'config missing': config_file(None),
    'config empty': config_file(''),
    'config not yaml': config_file('model: [\n'),
    'config a list': config_file('- model\n- data\n'),
    'config binary': config_file(b'\xff\xfe\x00garbage'),
    'config tabs': config_file('model:\n\tclass_path: x\n'),
    'data root missing': override('--data.init_args.root', 'nowhere', names='nowhere'),
    'modality folder missing': missing_folder,
    'image truncated': broken_file('depth/sitting_00.png', _truncate),
    'image garbage': broken_file('thermal/walking_03.png', _garbage),
    'image garbage in a worker': broken_file(
        'thermal/walking_03.png', _garbage, '--data.init_args.num_workers', '1'
    ),
    'image empty': broken_file('depth/standing_02.png', lambda p: p.write_bytes(b'')),
    'images of different sizes': odd_size,
    'image with other channels': other_channel_count,
    'image with other channels in a worker': other_channel_count_in_a_worker,
    'listed class without samples': listed_class_without_samples,
    'manifest missing': bad_manifest('file,label\n'),
    'manifest bad split': bad_manifest(
        'file,label,split\nsitting_00,sitting,holdout\n'
    ),
    'labels out of range': override(
        '--model.init_args.num_classes', '2', names='num_classes'
    ),
    'num_classes not a number': override(
        '--model.init_args.num_classes', 'ten', names='num_classes'
    ),
    'num_classes zero': override(
        '--model.init_args.num_classes', '0', names='num_classes'
    ),
    'in_channels wrong': override(
        '--model.init_args.in_channels', '{depth: 3, thermal: 1}', names='in_channels'
    ),
    'in_channels a string': override(
        '--model.init_args.in_channels', '{depth: two, thermal: 1}', names='in_channels'
    ),
    'modality not in the data': override(
        '--model.init_args.in_channels', '{rgb: 3, thermal: 1}', names="'rgb'"
    ),
    'data modality renamed': override(
        '--data.init_args.folders', '{depth: depth, sar: thermal}', names="'thermal'"
    ),
    'batch_size zero': override('--data.init_args.batch_size', '0', names='batch_size'),
    'batch_size negative': override(
        '--data.init_args.batch_size', '-3', names='batch_size'
    ),
    'num_workers negative': override(
        '--data.init_args.num_workers', '-1', names='num_workers'
    ),
    'size zero': override('--data.init_args.size', '0', names='size'),
    'size negative': override('--data.init_args.size', '-16', names='size'),
    'class_names permuted': override(
        '--model.init_args.class_names',
        '[walking, standing, sitting]',
        names='class_names',
    ),
    'class_names others': override(
        '--model.init_args.class_names', '[a, b, c]', names='class_names'
    ),
    'class_names too few': override(
        '--model.init_args.class_names', '[sitting, standing]', names='class_names'
    ),
    'max_epochs not a number': override(
        '--trainer.max_epochs', 'x', names='max_epochs'
    ),
    'unknown option': override('--bogus', '1', names='--bogus'),
    'model class not a task': override(
        '--model.class_path', 'subprocess.getoutput', names='subprocess.getoutput'
    ),
    'ckpt_path missing': ckpt('missing'),
    'ckpt_path text': ckpt('text'),
    'ckpt_path empty': ckpt('empty'),
    'ckpt_path truncated': ckpt('truncated'),
    'ckpt_path weights only': ckpt('weights_only'),
    'ckpt_path modality traversal': ckpt('traversal'),
    'ckpt_path foreign class': ckpt('class_path'),
    'ckpt_path num_classes a string': ckpt('num_classes'),
    'validate ckpt_path text': ckpt('text', 'validate'),
    'test ckpt_path truncated': ckpt('truncated', 'test'),
}


@pytest.mark.parametrize('case', CASES.values(), ids=CASES.keys())
def test_fit_hostile(
    case: Case, sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    argv, names = case(sandbox, tiny_run)
    assert_clean_error(geokd(argv), argv[0], names)


def test_cuda_without_cuda(sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd) -> None:
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    argv = _fit(sandbox, tiny_run, '--trainer.accelerator', 'cuda')
    assert_clean_error(geokd(argv), 'fit', 'CUDA')


def test_test_with_missing_data(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    argv = _fit(sandbox, tiny_run, '--ckpt_path', str(tiny_run.best))
    argv[0] = 'test'
    argv += ['--data.init_args.root', 'gone']
    assert_clean_error(geokd(argv), 'test', 'gone')


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in root.rglob('*') if p.is_file()
    }


def test_fit_never_replaces_earlier_exports(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    # Without a logger every run shares <root>/export: refused before training.
    export = sandbox.out / 'export'
    shutil.copytree(tiny_run.log_dir / 'export', export)
    before = _tree(export)
    argv = _fit(sandbox, tiny_run, '--trainer.logger', 'false')
    assert_clean_error(geokd(argv), 'fit', str(export / 'depth'))
    assert _tree(export) == before
    assert not list(sandbox.out.rglob('*.ckpt'))


def test_each_fit_exports_to_its_own_version(
    sandbox: Sandbox, tiny_run: TinyRun, geokd: Geokd
) -> None:
    first = sandbox.out / 'lightning_logs' / 'version_0'
    shutil.copytree(tiny_run.log_dir, first)
    before = _tree(first)
    outcome = geokd(_fit(sandbox, tiny_run))
    assert outcome.code == 0, outcome.err
    assert _tree(first) == before
    second = sandbox.out / 'lightning_logs' / 'version_1' / 'export'
    assert {p.parent.name for p in second.rglob('model.json')} == {'depth', 'thermal'}
