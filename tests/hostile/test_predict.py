"""Hostile probes of ``geokd predict``: every case ends in one clear line, writes only
under its output directory, replaces no input or foreign file, and never gives a
silently wrong result; interrupted and failed runs resume to identical outputs."""

import errno
import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import torch

from geokd.export import ModelMetadata, export_model
from geokd.models import ClassifierSpec
from geokd.predict import OutputPaths
from geokd.predict.output.working import WorkingRasters
from geokd.predict.synthetic_scene import write_synthetic_scene
from tests.predict.conftest import sar_pixels, tiny_classifier
from tests.predict.test_pipeline import _interrupt_after_first_window

from .predict_helpers import (
    Hook,
    Result,
    Run,
    assert_changes_only_under,
    assert_error,
    assert_same_outputs,
    disk_full_run,
    predict,
    snapshot,
    start_child,
    write_raster,
)
from .round2 import out_of

pytestmark = pytest.mark.usefixtures('one_thread')

OUTPUTS = (
    'classes', 'confidence', 'probabilities', 'style', 'categories', 'polygons',
    'summary',
)  # fmt: skip
ALL = ('--probabilities', '--polygons')


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """A 64 x 48 SAR scene, ``tmp_path/in/scene.tif``."""
    (tmp_path / 'in').mkdir()
    return write_raster(tmp_path / 'in' / 'scene.tif', sar_pixels(64, 48))


# Arguments out of range: exit 2, before anything is read or written ---------------


@pytest.mark.parametrize(
    ('option', 'value'),
    [
        ('--batch-size', '0'),
        ('--batch-size', '-1'),
        ('--batch-size', 'abc'),
        ('--stride', '0'),
        ('--stride', '-16'),
        ('--stride', '8.0'),
        ('--patch-size', '0'),
        ('--patch-size', '-5'),
        ('--patch-size', '100000'),
        ('--window', '0'),
        ('--window', '-1'),
        ('--window', '1000000'),
        ('--window', '1.5'),
        ('--min-valid', '-0.1'),
        ('--min-valid', '1.5'),
        ('--min-valid', 'nan'),
        ('--min-valid', 'inf'),
        ('--synthetic-size', '0'),
        ('--synthetic-size', '-5'),
        ('--synthetic-size', '100000'),
        ('--device', 'bogus'),
        ('--device', 'meta'),
        ('--device', 'cuda:-1'),
        ('--device', ''),
        ('--device', 'cpu:0'),
        ('--workers', '0'),
        ('--workers', '-2'),
        ('--workers', '100000'),
        ('--workers', 'two'),
        ('--devices', 'gpu0'),
        ('--devices', '0,0'),
        ('--devices', '0,-1'),
        ('--precision', '8'),
        ('--precision', 'fp16'),
    ],
)
def test_argument_out_of_range(
    tmp_path: Path, scene: Path, run: Run, option: str, value: str
) -> None:
    before = snapshot(tmp_path)
    result = run(scene, '-o', out_of(tmp_path), f'{option}={value}')
    assert_error(result, 2, option)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize('device', ['cuda', 'cuda:7', 'mps'])
def test_missing_device(tmp_path: Path, scene: Path, run: Run, device: str) -> None:
    if device.startswith('cuda') and torch.cuda.device_count() > 7:
        pytest.skip('this machine has the device')
    if device == 'cuda' and torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    if device == 'mps' and torch.backends.mps.is_available():
        pytest.skip('this machine has MPS')
    before = snapshot(tmp_path)
    assert_error(run(scene, '-o', out_of(tmp_path), '--device', device), 1, device)
    assert snapshot(tmp_path) == before


def test_no_scene_and_missing_scene(tmp_path: Path, run: Run) -> None:
    assert_error(run('-o', out_of(tmp_path)), 2, 'no scene given')
    missing = tmp_path / 'nothing*.tif'
    assert_error(run(missing, '-o', out_of(tmp_path)), 1, 'nothing*.tif: no such file')


# Inputs are never replaced ---------------------------------------------------------


@pytest.mark.parametrize(
    'suffix',
    [
        '_classes.tif',
        '_confidence.tif',
        '_probabilities.tif',
        '_classes.qml',
        '_classes.gpkg',
        '_summary.json',
    ],
)
def test_output_prefix_would_replace_the_input(
    tmp_path: Path, run: Run, suffix: str
) -> None:
    scene = write_raster(tmp_path / f'scene{suffix}', sar_pixels(32, 32))
    before = snapshot(tmp_path)
    result = run(scene, '-o', tmp_path / 'scene', *ALL)
    assert_error(result, 1, f'scene{suffix}: is an input', 'another --output')
    assert snapshot(tmp_path) == before


def test_one_scene_would_replace_another(tmp_path: Path, run: Run) -> None:
    write_raster(tmp_path / 'a.tif', sar_pixels(32, 32))
    write_raster(tmp_path / 'a_classes.tif', sar_pixels(32, 32, seed=1))
    before = snapshot(tmp_path)
    result = run(tmp_path / 'a.tif', tmp_path / 'a_classes.tif', '-o', f'{tmp_path}/')
    assert_error(result, 1, 'a_classes.tif: is an input')
    assert snapshot(tmp_path) == before  # refused before any scene was classified


@pytest.mark.parametrize('link', ['hard', 'symbolic'])
def test_output_name_linked_to_the_input(
    tmp_path: Path, scene: Path, run: Run, link: str
) -> None:
    (tmp_path / 'out').mkdir()
    target = tmp_path / 'out' / 'scene_classes.tif'
    if link == 'hard':
        os.link(scene, target)
    else:
        target.symlink_to(scene)
    before = snapshot(tmp_path)
    result = run(scene, '-o', out_of(tmp_path), '--overwrite')
    assert_error(result, 1, 'scene.tif: is an input')
    assert snapshot(tmp_path) == before


# Files geokd did not write, at the names it wants ----------------------------------


@pytest.mark.parametrize(
    ('name', 'flags'),
    [*((name, ALL) for name in OUTPUTS), ('probabilities', ())],
    ids=[*OUTPUTS, 'not-written-by-this-run'],
)
def test_foreign_file_at_an_output_name_is_kept(
    tmp_path: Path, scene: Path, run: Run, name: str, flags: tuple[str, ...]
) -> None:
    foreign = getattr(OutputPaths(tmp_path / 'out' / 'scene'), name)
    foreign.parent.mkdir()
    foreign.write_text('my own notes')
    before = snapshot(tmp_path)
    result = run(scene, '-o', out_of(tmp_path), *flags)
    assert_error(result, 1, f'{foreign}: already exists', '--overwrite')
    assert snapshot(tmp_path) == before


def test_class_map_without_summary_is_not_replaced(
    tmp_path: Path, scene: Path, run: Run
) -> None:
    assert run(scene, '-o', out_of(tmp_path)).code == 0
    paths = OutputPaths(tmp_path / 'out' / 'scene')
    paths.summary.unlink()
    before = snapshot(tmp_path)
    assert_error(run(scene, '-o', out_of(tmp_path)), 1, 'scene_classes.tif')
    assert snapshot(tmp_path) == before


def test_overwrite_replaces_a_foreign_file_only_when_asked(
    tmp_path: Path, scene: Path, run: Run
) -> None:
    paths = OutputPaths(tmp_path / 'out' / 'scene')
    paths.prefix.parent.mkdir()
    paths.style.write_text('old style')
    assert run(scene, '-o', out_of(tmp_path), '--overwrite').code == 0
    assert 'paletteEntry' in paths.style.read_text()


# Symbolic links are replaced, never written through --------------------------------


@pytest.mark.parametrize('overwrite', [False, True], ids=['plain', 'overwrite'])
@pytest.mark.parametrize('name', OUTPUTS)
def test_symlink_at_an_output_name(
    tmp_path: Path, scene: Path, run: Run, name: str, overwrite: bool
) -> None:
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    link = getattr(OutputPaths(tmp_path / 'out' / 'scene'), name)
    link.parent.mkdir()
    link.symlink_to(victim)
    before = snapshot(tmp_path)
    flags = ['--overwrite'] if overwrite else []
    result = run(scene, '-o', out_of(tmp_path), *ALL, *flags)
    assert victim.read_text() == 'precious'
    if overwrite:
        assert result.code == 0, result.err
        assert not link.is_symlink()
        assert link.is_file()
        assert_changes_only_under(before, snapshot(tmp_path), 'out')
    else:
        assert_error(result, 1, f'{link}: already exists')
        assert snapshot(tmp_path) == before


def test_symlinked_lock_file(tmp_path: Path, scene: Path, run: Run) -> None:
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    lock = OutputPaths(tmp_path / 'out' / 'scene').lock
    lock.parent.mkdir()
    lock.symlink_to(victim)
    before = snapshot(tmp_path)
    assert_error(
        run(scene, '-o', out_of(tmp_path)), 1, '.geokd-predict.lock: is a symbolic link'
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize('flags', [[], ['--resume'], ['--overwrite']])
def test_symlinked_partial_directory(
    tmp_path: Path, scene: Path, run: Run, flags: list[str]
) -> None:
    victim = tmp_path / 'victim'
    victim.mkdir()
    (victim / 'progress.json').write_text('{}')
    (victim / 'data.txt').write_text('precious')
    partial = OutputPaths(tmp_path / 'out' / 'scene').partial
    partial.parent.mkdir()
    partial.symlink_to(victim)
    before = snapshot(tmp_path)
    result = run(scene, '-o', out_of(tmp_path), *flags)
    assert_error(result, 1, 'scene.partial: exists but is not a geokd working')
    assert snapshot(tmp_path) == before


def test_partial_directory_that_is_not_geokds(
    tmp_path: Path, scene: Path, run: Run
) -> None:
    partial = OutputPaths(tmp_path / 'out' / 'scene').partial
    partial.mkdir(parents=True)
    (partial / 'thesis.tex').write_text('precious')
    before = snapshot(tmp_path)
    assert_error(run(scene, '-o', out_of(tmp_path)), 1, 'not a geokd working directory')
    assert snapshot(tmp_path) == before


# Several scenes in one call ---------------------------------------------------------


@pytest.mark.parametrize('flags', [[], ['--overwrite']])
def test_same_named_scenes_get_distinct_prefixes(
    tmp_path: Path, run: Run, flags: list[str]
) -> None:
    for folder, seed in [('a', 0), ('b', 1)]:
        (tmp_path / folder).mkdir()
        write_raster(tmp_path / folder / 'scene.tif', sar_pixels(32, 48, seed))
    scenes = [tmp_path / 'a' / 'scene.tif', tmp_path / 'b' / 'scene.tif']
    for _ in range(1 + bool(flags)):
        before = snapshot(tmp_path)
        assert run(*scenes, '-o', out_of(tmp_path), *flags).code == 0
        assert_changes_only_under(before, snapshot(tmp_path), 'out')
    inputs = {
        json.loads((tmp_path / 'out' / f / 'scene_summary.json').read_text())['input']
        for f in 'ab'
    }
    assert inputs == {str(s) for s in scenes}


def test_scenes_differing_by_case_or_extension(tmp_path: Path, run: Run) -> None:
    (tmp_path / 'x').mkdir()
    (tmp_path / 'y').mkdir()
    write_raster(tmp_path / 'x' / 'Scene.tif', sar_pixels(32, 32))
    write_raster(tmp_path / 'y' / 'scene.tif', sar_pixels(32, 32, 1))
    rasterio.shutil.copy(
        tmp_path / 'y' / 'scene.tif', tmp_path / 'y' / 'scene.vrt', driver='VRT'
    )
    scenes = [tmp_path / 'x' / 'Scene.tif', *sorted((tmp_path / 'y').iterdir())]
    assert run(*scenes, '-o', out_of(tmp_path)).code == 0
    summaries = sorted(
        p.relative_to(tmp_path) for p in tmp_path.rglob('*_summary.json')
    )
    assert summaries == [
        Path('out/x/Scene.tif_summary.json'),
        Path('out/y/scene.tif_summary.json'),
        Path('out/y/scene.vrt_summary.json'),
    ]


def test_one_file_given_twice_is_classified_once(
    tmp_path: Path, scene: Path, run: Run
) -> None:
    result = run(scene, tmp_path / 'in' / '*.tif', scene, '-o', out_of(tmp_path))
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / 'out').iterdir())[-1] == (
        'scene_summary.json'
    )


# The synthetic scene ----------------------------------------------------------------


@pytest.mark.parametrize('kind', ['raster', 'text', 'directory', 'symlink', 'truth'])
def test_synthetic_scene_never_replaces_a_file_it_did_not_write(
    tmp_path: Path, run: Run, kind: str
) -> None:
    path = tmp_path / 'syn.tif'
    if kind == 'raster':
        write_raster(path, sar_pixels(32, 32))
    elif kind == 'text':
        path.write_text('my notes')
    elif kind == 'directory':
        path.mkdir()
    elif kind == 'symlink':
        write_synthetic_scene(tmp_path / 'real.tif', 'sar', 32, 32, block=16)
        path.symlink_to(tmp_path / 'real.tif')
    else:
        write_raster(tmp_path / 'syn_truth.tif', sar_pixels(32, 32))
    before = snapshot(tmp_path)
    result = run('--synthetic-scene', path, '--synthetic-size', '32', '-o',
                 out_of(tmp_path))  # fmt: skip
    name = 'syn_truth.tif' if kind == 'truth' else 'syn.tif'
    assert_error(result, 1, f'{name}: exists and is not a synthetic scene')
    assert_changes_only_under(before, snapshot(tmp_path), 'out')
    assert not (tmp_path / 'out' / 'syn_summary.json').exists()


def test_readme_command_runs_twice(tmp_path: Path, run: Run) -> None:
    args = ['--synthetic-scene', tmp_path / 'scene' / 'synthetic_sar.tif',
            '--synthetic-size', '64', '--output', f'{tmp_path}/predictions/',
            '--overwrite']  # fmt: skip
    assert run(*args).code == 0
    first = json.loads(
        (tmp_path / 'predictions' / 'synthetic_sar_summary.json').read_text()
    )
    result = run(*args)
    assert result.code == 0, result.err
    second = json.loads(
        (tmp_path / 'predictions' / 'synthetic_sar_summary.json').read_text()
    )
    assert first['classes'] == second['classes']
    assert first['fingerprint'] == second['fingerprint']  # the same scene again


def test_synthetic_scene_with_a_patch_size_tiles_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    classifier = tiny_classifier('sar', patch_size=24)
    model = export_model(classifier.model, classifier.metadata, tmp_path / 'm24')
    result = predict(['--model', model, '--synthetic-scene', tmp_path / 's.tif',
                      '--synthetic-size', '48', '-o', out_of(tmp_path), '--quiet'],
                     capsys)  # fmt: skip
    assert_error(result, 1, 'block must be a multiple of 16')


# Locks: a second run on the same prefix refuses at once ----------------------------


@pytest.fixture(scope='module')
def big_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 272 x 160 SAR scene: two windows of 256 pixels."""
    return write_raster(
        tmp_path_factory.mktemp('scene') / 'big.tif', sar_pixels(272, 160, seed=2)
    )


BIG = ('--window', '256', *ALL)


@pytest.fixture(scope='module')
def reference(
    tmp_path_factory: pytest.TempPathFactory, big_scene: Path, model: Path
) -> Path:
    """The uninterrupted outputs of the big scene (prefix)."""
    from geokd.main import main

    prefix = tmp_path_factory.mktemp('reference') / 'big'
    main(['predict', str(big_scene), '--model', str(model), '-o', str(prefix),
          '--quiet', *BIG])  # fmt: skip
    return prefix


@pytest.mark.parametrize('flags', [[], ['--resume'], ['--overwrite']])
def test_second_run_on_a_locked_prefix(
    tmp_path: Path,
    big_scene: Path,
    model: Path,
    reference: Path,
    run: Run,
    flags: list[str],
) -> None:
    prefix = tmp_path / 'out' / 'big'
    argv = [big_scene, '--model', model, '-o', prefix, '--quiet', *BIG]
    hook = Hook('geokd.predict.output.working:WorkingRasters.write_window', 2)
    first = start_child(argv, tmp_path / 'first.log', hook)
    first.wait_ready()
    partial = snapshot(OutputPaths(prefix).partial)
    result = run(big_scene, '-o', prefix, *BIG, *flags)
    line = assert_error(result, 1, str(prefix), 'another geokd predict (pid')
    assert str(first.process.pid) in line
    assert snapshot(OutputPaths(prefix).partial) == partial  # untouched
    assert first.finish().code == 0
    assert_same_outputs(reference, prefix)


def test_stale_lock_file_does_not_block(tmp_path: Path, scene: Path, run: Run) -> None:
    lock = OutputPaths(tmp_path / 'out' / 'scene').lock
    lock.parent.mkdir()
    lock.write_text('999999999\n')  # a run killed long ago
    assert run(scene, '-o', out_of(tmp_path)).code == 0
    assert not lock.exists()


# Interrupted at any moment: --resume gives identical outputs -----------------------

MOMENTS = {
    'fingerprint': Hook('geokd.predict.pipeline:run_fingerprint'),
    'second window': Hook(
        'geokd.predict.output.working:WorkingRasters.write_window', 2
    ),
    'progress of second window': Hook(
        'geokd.predict.output.run_state:RunState.save', 3
    ),
    'COG conversion': Hook('geokd.predict.output.writers:to_cog', 2),
    'polygons': Hook('geokd.predict.output.writers:write_polygons'),
    'staging recorded': Hook('geokd.predict.output.run_state:RunState.save', 4),
    'moving in': Hook('os:replace', 1, r'_confidence\.tif$'),
    'partial removal': Hook('shutil:rmtree', 2, r'\.partial$'),
}
KILLS = [(m, signal.SIGKILL) for m in MOMENTS] + [
    (m, signal.SIGINT)
    for m in ('second window', 'COG conversion', 'moving in', 'partial removal')
]


@pytest.mark.parametrize(('moment', 'sig'), KILLS, ids=lambda x: getattr(x, 'name', x))
def test_killed_then_resumed(
    tmp_path: Path,
    big_scene: Path,
    model: Path,
    reference: Path,
    run: Run,
    moment: str,
    sig: signal.Signals,
) -> None:
    prefix = tmp_path / 'out' / 'big'
    argv = [big_scene, '--model', model, '-o', prefix, '--quiet', *BIG]
    child = start_child(argv, tmp_path / 'child.log', MOMENTS[moment])
    child.wait_ready()
    killed = child.kill(sig)
    if sig == signal.SIGINT:
        assert_error(killed, 130, 'interrupted', '--resume')
    else:
        assert killed.code == -signal.SIGKILL
    paths = OutputPaths(prefix)
    finished = moment == 'partial removal'
    assert paths.summary.exists() == finished  # nothing unfinished looks finished
    if moment != 'moving in' and not finished:
        assert not any(p.exists() for p in paths.finals.values())
    result = run(big_scene, '-o', prefix, *BIG, '--resume')
    assert result.code == 0, result.err
    assert_same_outputs(reference, prefix)
    assert not paths.partial.exists()
    assert not paths.lock.exists()


@pytest.mark.parametrize('moment', ['staging recorded', 'moving in'])
def test_overwrite_killed_before_or_while_moving_in(
    tmp_path: Path,
    big_scene: Path,
    model: Path,
    reference: Path,
    run: Run,
    moment: str,
) -> None:
    prefix = tmp_path / 'out' / 'big'
    assert run(big_scene, '-o', prefix, '--stride', '8', '--window', '256').code == 0
    old = {p: p.read_bytes() for p in OutputPaths(prefix).finals.values() if p.exists()}
    argv = [big_scene, '--model', model, '-o', prefix, '--quiet', *BIG, '--overwrite']
    child = start_child(argv, tmp_path / 'child.log', MOMENTS[moment])
    child.wait_ready()
    paths = OutputPaths(prefix)
    if moment == 'staging recorded':  # every new output is complete by now
        assert {p: p.read_bytes() for p in old} == old  # and the old are intact
    else:
        assert not paths.summary.exists()  # removed first: a mixture never looks done
    child.kill(signal.SIGKILL)
    # The same command again, with --resume.
    assert run(big_scene, '-o', prefix, *BIG, '--overwrite', '--resume').code == 0
    assert_same_outputs(reference, prefix)


def test_overwrite_that_fails_keeps_the_old_outputs(
    tmp_path: Path, scene: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(scene, '-o', out_of(tmp_path)).code == 0
    before = snapshot(tmp_path)
    # A scene that is all nodata now: the new run cannot classify anything.
    write_raster(scene, np.full((2, 64, 48), np.nan, 'float32'))
    result = run(scene, '-o', out_of(tmp_path), '--overwrite')
    assert_error(result, 1, 'no patch has 50% valid pixels')
    assert_changes_only_under(before, snapshot(tmp_path), 'in')

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    write_raster(scene, sar_pixels(64, 48, seed=3))
    before = snapshot(tmp_path)
    monkeypatch.setattr(WorkingRasters, 'write_window', interrupted)
    assert_error(run(scene, '-o', out_of(tmp_path), '--overwrite'), 130, 'interrupted')
    assert_changes_only_under(before, snapshot(tmp_path), 'out/.scene.partial')


def test_overwrite_removes_old_outputs_it_does_not_write(
    tmp_path: Path, scene: Path, run: Run
) -> None:
    assert run(scene, '-o', out_of(tmp_path), *ALL).code == 0
    assert run(scene, '-o', out_of(tmp_path), '--overwrite').code == 0
    names = sorted(p.name for p in (tmp_path / 'out').iterdir())
    assert names == [
        'scene_classes.qml',
        'scene_classes.tif',
        'scene_classes.tif.aux.xml',
        'scene_confidence.tif',
        'scene_summary.json',
    ]


# A full disk -------------------------------------------------------------------------

#: Free KiB left on a 1 MiB disk, and the file whose write fails then.
DISK_LEVELS = {
    0: 'progress.json',
    4: 'classes.tif',
    8: 'confidence.tif',
    12: 'probabilities.tif',
    20: 'progress.json',
    # The COGs carry internal overviews: they fill a nearly full disk sooner.
    24: 'classes.cog.tif',
    28: 'classes.cog.tif',
    44: 'probabilities.cog.tif',
}


@pytest.mark.parametrize('free_kib', DISK_LEVELS)
def test_full_disk_then_resume(
    tmp_path: Path, big_scene: Path, model: Path, reference: Path, free_kib: int
) -> None:
    (tmp_path / 'model').symlink_to(model)
    report, copied = disk_full_run(big_scene, tmp_path, 2**20 - free_kib * 1024)
    if 'unsupported' in report:
        pytest.skip(f'no tmpfs in a user namespace here: {report["unsupported"]}')
    first = report['first']
    assert_error(Result(first['code'], '', first['err']), 1, 'No space left on device',
                 'free some space', '--resume')  # fmt: skip
    assert f'.big.partial/{DISK_LEVELS[free_kib]}: cannot write' in first['err']
    assert report['after_failure'] == ['.big.partial']  # nothing that looks finished
    assert report['resumed'] == {'code': 0, 'err': ''}
    assert_same_outputs(reference, copied / 'big')


@pytest.mark.parametrize('limit', [300, 3000, 9000])
def test_failing_writes_then_resume(
    tmp_path: Path, big_scene: Path, model: Path, reference: Path, run: Run, limit: int
) -> None:
    """Files may not grow beyond ``limit`` bytes (RLIMIT_FSIZE): real failed writes
    through GDAL, on any POSIX system."""
    prefix = tmp_path / 'out' / 'big'
    argv = [big_scene, '--model', model, '-o', prefix, '--quiet', *BIG]
    failed = start_child(argv, tmp_path / 'child.log', file_size_limit=limit).finish()
    assert_error(failed, 1, 'cannot write (', '--resume')
    assert not any(p.exists() for p in OutputPaths(prefix).finals.values())
    assert run(big_scene, '-o', prefix, *BIG, '--resume').code == 0
    assert_same_outputs(reference, prefix)


def test_no_space_while_saving_progress(
    tmp_path: Path, scene: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geokd.predict.output import writers

    write_text = writers.write_text
    calls = []

    def full(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_text(path, text)

    monkeypatch.setattr(writers, 'write_text', full)
    result = run(scene, '-o', out_of(tmp_path))
    assert_error(
        result,
        1,
        'progress.json: cannot write (No space left on device)',
        'free some space',
    )
    monkeypatch.setattr(writers, 'write_text', write_text)
    assert run(scene, '-o', out_of(tmp_path), '--resume').code == 0


# Damaged or hostile leftovers of an interrupted run ---------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


def _garbage(path: Path) -> None:
    path.write_bytes(b'II*\0garbage')


def _link_elsewhere(path: Path) -> None:
    elsewhere = path.parent.parent / 'elsewhere.tif'
    os.replace(path, elsewhere)
    path.symlink_to(elsewhere)


def _hostile_progress(path: Path) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {'remove': ['/etc/passwd'], 'staged': ['x']}))


def _bad_progress(path: Path) -> None:
    path.write_text('{"fingerprint": 1, "completed": "many"')


DAMAGE = {
    'truncated probabilities': ('probabilities.tif', _truncate),
    'garbage classes': ('classes.tif', _garbage),
    'confidence is a link': ('confidence.tif', _link_elsewhere),
    'hostile progress': ('progress.json', _hostile_progress),
    'unreadable progress': ('progress.json', _bad_progress),
}


@pytest.mark.parametrize('damage', DAMAGE)
def test_damaged_partial_run_starts_over(
    tmp_path: Path,
    big_scene: Path,
    reference: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    prefix = tmp_path / 'out' / 'big'
    write_window = _interrupt_after_first_window(monkeypatch)
    assert run(big_scene, '-o', prefix, *BIG).code == 130
    monkeypatch.setattr(WorkingRasters, 'write_window', write_window)
    name, spoil = DAMAGE[damage]
    spoil(OutputPaths(prefix).partial / name)
    outside = snapshot(tmp_path)
    result = run(big_scene, '-o', prefix, *BIG, '--resume')
    assert result.code == 0, result.err
    assert 'Traceback' not in result.out + result.err
    assert_same_outputs(reference, prefix)
    assert_changes_only_under(outside, snapshot(tmp_path), 'out')


@pytest.mark.parametrize('how', ['replaced', 'in place'])
def test_scene_changed_with_the_same_size_and_time(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    (tmp_path / 'in').mkdir()
    scene = write_raster(tmp_path / 'in' / 'big.tif', sar_pixels(272, 160, seed=2))
    prefix = tmp_path / 'out' / 'big'
    write_window = _interrupt_after_first_window(monkeypatch)
    assert run(scene, '-o', prefix, *BIG).code == 130
    monkeypatch.setattr(WorkingRasters, 'write_window', write_window)
    stat = scene.stat()
    if how == 'replaced':
        new = write_raster(tmp_path / 'new.tif', sar_pixels(272, 160, seed=5))
        os.replace(new, scene)
    else:
        data = bytearray(scene.read_bytes())
        data[-4000:-2000] = bytes(2000)  # zeroes inside the last tiles
        with open(scene, 'r+b') as f:
            f.write(data)
    assert scene.stat().st_size == stat.st_size
    os.utime(scene, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run(scene, '-o', prefix, *BIG, '--resume')
    assert result.code == 0, result.err
    assert 'starting over' not in result.err
    fresh = tmp_path / 'fresh' / 'big'
    assert run(scene, '-o', fresh, *BIG).code == 0
    assert_same_outputs(fresh, prefix)  # nothing of the old scene mixed in


# Class maps hold every class ---------------------------------------------------------


def _constant_model(directory: Path, num_classes: int, winner: int, like: Path) -> Path:
    """An exported linear model that gives class ``winner`` to every patch (with the
    normalisation of the export ``like``)."""
    spec = ClassifierSpec('linear', 2, num_classes, 'test_resnet')
    net = spec.build()
    with torch.no_grad():
        net[-1].weight.zero_()
        net[-1].bias.zero_()
        net[-1].bias[winner] = 10.0
    meta = ModelMetadata(
        modality='sar',
        in_channels=2,
        num_classes=num_classes,
        class_names=[f'c{i}' for i in range(num_classes)],
        band_names=['VV', 'VH'],
        normalization=json.loads((like / 'model.json').read_text())['normalization'],
        patch_size=16,
        backbone='test_resnet',
        embed_dim=None,
        architecture='linear',
    )
    return export_model(net, meta, directory)


@pytest.mark.parametrize(
    ('num_classes', 'winner', 'dtype'),
    [
        (255, 254, 'uint8'),
        (256, 255, 'uint16'),
        (300, 280, 'uint16'),
    ],
)
def test_class_map_holds_every_class(
    tmp_path: Path,
    scene: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    num_classes: int,
    winner: int,
    dtype: str,
) -> None:
    model = _constant_model(tmp_path / 'm', num_classes, winner, model)
    result = predict([scene, '--model', model, '-o', out_of(tmp_path), '--quiet',
                      '--polygons'], capsys)  # fmt: skip
    assert result.code == 0, result.err
    paths = OutputPaths(tmp_path / 'out' / 'scene')
    with rasterio.open(paths.classes) as src:
        assert src.dtypes[0] == dtype
        assert src.nodata == (255 if dtype == 'uint8' else 65535)
        assert (src.read(1) == winner).all()
    summary = json.loads(paths.summary.read_text())
    assert summary['classes'][f'c{winner}']['cells'] == 12
    assert summary['nodata_cells'] == 0
    assert f'value="{winner}"' in paths.style.read_text()


@pytest.mark.parametrize('change', ['fewer names', 'more names', 'more classes'])
def test_class_names_must_match_the_head(
    tmp_path: Path,
    scene: Path,
    model: Path,
    capsys: pytest.CaptureFixture[str],
    change: str,
) -> None:
    model = _constant_model(tmp_path / 'm', 12, 11, model)
    meta = json.loads((model / 'model.json').read_text())
    if change == 'fewer names':
        meta['class_names'] = meta['class_names'][:10]
    elif change == 'more names':
        meta['class_names'] += ['extra']
    else:
        meta['num_classes'] = 13
        meta['class_names'] += ['extra']
    (model / 'model.json').write_text(json.dumps(meta))
    before = snapshot(tmp_path)
    result = predict([scene, '--model', model, '-o', out_of(tmp_path), '--quiet'],
                     capsys)  # fmt: skip
    assert_error(result, 1, 'model.json' if 'names' in change else 'model.safetensors')
    assert snapshot(tmp_path) == before


# Odd scenes and outputs ---------------------------------------------------------------


def test_odd_scene_files(tmp_path: Path, run: Run) -> None:
    (tmp_path / 'folder.tif').mkdir()
    (tmp_path / 'empty.tif').write_bytes(b'')
    for name in ('folder.tif', 'empty.tif'):
        assert_error(run(tmp_path / name, '-o', out_of(tmp_path)), 1, name)


def test_truncated_scene_names_the_file(tmp_path: Path, run: Run) -> None:
    scene = write_raster(tmp_path / 'cut.tif', sar_pixels(256, 256))
    data = scene.read_bytes()
    scene.write_bytes(data[: len(data) // 2])
    result = run(scene, '-o', out_of(tmp_path), '--window', '64')
    assert_error(result, 1, 'cut.tif: cannot read')
    assert not (tmp_path / 'out' / 'cut_summary.json').exists()


def test_header_claiming_a_huge_scene(tmp_path: Path, run: Run) -> None:
    write_raster(tmp_path / 'small.tif', sar_pixels(32, 32))
    vrt = tmp_path / 'huge.vrt'
    bands = ''.join(
        f'<VRTRasterBand dataType="Float32" band="{b}"><Description>{name}</Description>'
        f'<SimpleSource><SourceFilename relativeToVRT="1">small.tif</SourceFilename>'
        f'<SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>'
        for b, name in ((1, 'VV'), (2, 'VH'))
    )
    vrt.write_text(
        f'<VRTDataset rasterXSize="2000000000" rasterYSize="2000000000">'
        f'{bands}</VRTDataset>'
    )
    before = snapshot(tmp_path)
    assert_error(run(vrt, '-o', out_of(tmp_path)), 1, 'huge.vrt', 'windows, more than')
    assert_changes_only_under(before, snapshot(tmp_path), 'out')


@pytest.mark.parametrize(
    ('output', 'fragment'),
    [
        ('', "--output ''"),
        ('{tmp}/in/scene.tif/x', 'scene.tif: output directory cannot be created'),
        ('{tmp}/' + 'n' * 250, 'n' * 250),
        ('{tmp}/missing/..', 'not a file prefix'),
    ],
)
def test_unusable_output(
    tmp_path: Path, scene: Path, run: Run, output: str, fragment: str
) -> None:
    before = snapshot(tmp_path)
    assert_error(run(scene, '-o', output.format(tmp=tmp_path)), 1, fragment)
    assert snapshot(tmp_path) == before


def test_scene_name_of_dots_stays_in_the_output_directory(
    tmp_path: Path, run: Run
) -> None:
    scene = write_raster(tmp_path / '...tif', sar_pixels(32, 32))
    other = write_raster(tmp_path / 'other.tif', sar_pixels(32, 32))
    before = snapshot(tmp_path)
    assert run(scene, other, '-o', out_of(tmp_path)).code == 0
    assert_changes_only_under(before, snapshot(tmp_path), 'out')


def test_exports_under_a_linked_directory_are_found_and_loops_end(
    tmp_path: Path,
    model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Experiment folders linked from a larger disk; one link loops back.
    disk = tmp_path / 'big_disk' / 'experiment'
    shutil.copytree(model, disk / 'lightning_logs' / 'version_0' / 'export' / 'sar')
    runs = tmp_path / 'work' / 'runs'
    runs.mkdir(parents=True)
    (runs / 'experiment').symlink_to(disk, target_is_directory=True)
    (disk / 'loop').symlink_to(runs, target_is_directory=True)
    write_raster(tmp_path / 'work' / 'scene.tif', sar_pixels(64, 48))
    monkeypatch.chdir(tmp_path / 'work')
    result = predict(['--modality', 'sar', 'scene.tif', '-o', 'out/'], capsys)
    assert result.code == 0, result.err
    assert 'Using the newest exported sar model: runs/experiment/' in result.err
    assert (tmp_path / 'work' / 'out' / 'scene_classes.tif').is_file()
