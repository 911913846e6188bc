"""``geokd predict --workers/--devices``: scenes spread over processes give the bytes
of a serial run, failures are listed without stopping the others, and resumed scenes
and memory per worker behave as in a serial run."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
import torch

from geokd.errors import OptionError
from geokd.export import export_model
from geokd.predict import OutputPaths, PredictOptions
from geokd.predict.output.locks import PrefixLock
from geokd.predict.workers import classify_scenes, stop_flag, worker_devices
from tests.hostile.predict_helpers import assert_error, predict, write_raster
from tests.predict.conftest import sar_pixels, tiny_classifier
from tests.predict.test_pipeline import _interrupt_after_first_window

RASTERS = ('classes', 'confidence', 'probabilities')


@pytest.fixture(scope='module')
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny exported SAR model (patch 16)."""
    classifier = tiny_classifier('sar')
    directory = tmp_path_factory.mktemp('model') / 'sar'
    return export_model(classifier.model, classifier.metadata, directory)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four SAR scenes of different sizes (the second has two 256-pixel windows)."""
    root = tmp_path_factory.mktemp('scenes')
    sizes = [(64, 48), (272, 160), (48, 80), (96, 32)]
    return [
        write_raster(root / f's{i}.tif', sar_pixels(h, w, seed=i))
        for i, (h, w) in enumerate(sizes)
    ]


def _run(model: Path, capsys: pytest.CaptureFixture[str], *args: object):  # noqa: ANN202
    return predict(
        [*args, '--model', model, '--probabilities', '--window', '256'], capsys
    )


def _bytes(prefix: Path) -> dict[str, bytes]:
    paths = OutputPaths(prefix)
    return {name: getattr(paths, name).read_bytes() for name in RASTERS}


@pytest.mark.parametrize(
    ('workers', 'devices', 'device', 'expected'),
    [
        (None, None, 'auto', (1, ['auto'])),
        (3, None, 'cpu', (3, ['cpu'] * 3)),
        (None, '0,1', 'auto', (2, ['cuda:0', 'cuda:1'])),
        (3, '1,0', 'cuda', (3, ['cuda:1', 'cuda:0', 'cuda:1'])),
    ],
)
def test_worker_devices(
    workers: int | None, devices: str | None, device: str, expected: object
) -> None:
    assert worker_devices(workers, devices, device) == expected


@pytest.mark.parametrize(
    ('workers', 'devices', 'device', 'fragment'),
    [
        (0, None, 'cpu', '--workers 0'),
        (-2, None, 'cpu', '--workers -2'),
        (None, '0,0', 'auto', '--devices 0,0'),
        (None, 'gpu1', 'auto', '--devices gpu1'),
        (None, '0,1', 'cpu', 'give one of them'),
    ],
)
def test_worker_devices_refused(
    workers: int | None, devices: str | None, device: str, fragment: str
) -> None:
    with pytest.raises(OptionError, match=fragment):
        worker_devices(workers, devices, device)


def test_devices_without_cuda_is_one_line(
    tmp_path: Path,
    model: Path,
    scenes: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    result = _run(model, capsys, scenes[0], '-o', tmp_path, '--devices', '0')
    assert_error(result, 1, 'CUDA is not available')
    assert not list(tmp_path.iterdir())


def test_workers_write_the_bytes_of_a_serial_run(
    tmp_path: Path,
    model: Path,
    scenes: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    serial = _run(model, capsys, *scenes, '-o', tmp_path / 'serial')
    parallel = _run(model, capsys, *scenes, '-o', tmp_path / 'par', '--workers', '2')
    assert serial.code == parallel.code == 0, parallel.err
    assert 'Traceback' not in parallel.err
    assert '4 of 4 scenes classified' in parallel.err
    for scene in scenes:
        name = scene.stem
        assert _bytes(tmp_path / 'par' / name) == _bytes(tmp_path / 'serial' / name)
        assert f'{scene}: ' in parallel.out  # each scene reported


def test_a_failing_scene_does_not_stop_the_others(
    tmp_path: Path,
    model: Path,
    scenes: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / 'broken.tif'
    bad.write_bytes(b'II*\x00 not a TIFF at all')
    out = tmp_path / 'out'
    result = _run(model, capsys, scenes[0], bad, scenes[2], '-o', out, '--workers', '2')
    assert result.code == 1
    assert 'Traceback' not in result.err
    assert f'2 of 3 scenes classified; 1 failed: {bad}\n' in result.err
    assert OutputPaths(out / scenes[0].stem).summary.exists()
    assert OutputPaths(out / scenes[2].stem).summary.exists()
    assert not OutputPaths(out / 'broken').classes.exists()


def test_workers_resume_an_interrupted_scene(
    tmp_path: Path,
    model: Path,
    scenes: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = scenes[1]
    reference = _run(model, capsys, big, '-o', tmp_path / 'ref' / 'big')
    assert reference.code == 0
    write_window = _interrupt_after_first_window(monkeypatch)
    out = tmp_path / 'out'
    cut = _run(model, capsys, big, '-o', f'{out}/')
    assert cut.code == 130, cut.err
    monkeypatch.setattr(
        'geokd.predict.output.working.WorkingRasters.write_window', write_window
    )
    again = _run(
        model, capsys, big, scenes[0], '-o', f'{out}/', '--workers', '2', '--resume'
    )
    assert again.code == 0, again.err
    assert _bytes(out / big.stem) == _bytes(tmp_path / 'ref' / 'big')
    summary = (out / f'{big.stem}_summary.json').read_text()
    assert '"resumed": true' in summary, again.out + again.err


def test_memory_per_worker_is_that_of_one_scene(
    tmp_path: Path, model: Path, scenes: list[Path]
) -> None:
    options = PredictOptions(device='cpu', window=256)
    one = [(scenes[1], tmp_path / 'one' / 's')]
    jobs = [(s, tmp_path / 'many' / f'{s.stem}_{i}') for i in range(3) for s in scenes]
    peaks: dict[int | None, int] = defaultdict(int)
    with ExitStack() as locks:  # held by the command, adopted by its workers
        for _, prefix in [*one, *jobs]:
            prefix.parent.mkdir(exist_ok=True)
            locks.enter_context(PrefixLock(prefix))
        [(_, single)] = list(classify_scenes(model, 'sar', None, one, options, ['cpu']))
        for _, result in classify_scenes(
            model, 'sar', None, jobs, options, ['cpu', 'cpu']
        ):
            assert result.summary is not None, result.error
            peaks[result.worker] = max(peaks[result.worker], result.peak_rss_kib)
    assert single.summary is not None
    assert peaks  # one worker may take every scene while the other starts
    for peak in peaks.values():
        assert peak <= 1.2 * single.peak_rss_kib, (peak, single.peak_rss_kib)


def big_scenes_argv(
    tmp_path: Path, model: Path, count: int, size: int, workers: str
) -> tuple[list[Path], Path, list[str]]:
    """Write ``count`` SAR scenes of ``size``²; the predict command on them.

    Returns:
        The scenes, the output folder and the command's argv.
    """
    scenes = [
        write_raster(tmp_path / f'big{i}.tif', sar_pixels(size, size, seed=i))
        for i in range(count)
    ]
    out = tmp_path / 'out'
    argv = [sys.executable, '-m', 'geokd', 'predict', *map(str, scenes), '--model',
            str(model), '-o', f'{out}/', '--quiet', '--workers', workers]  # fmt: skip
    return scenes, out, argv


def after_first_scene(
    argv: list[str], out: Path, act: Callable[['subprocess.Popen[str]'], None]
) -> tuple[int, str]:
    """Run ``argv`` in its own process group; ``act`` on it once a scene is done.

    Returns:
        The command's exit status and stderr.
    """
    process = subprocess.Popen(
        argv, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        # The event: a scene's summary, written when the scene is complete. The
        # command may not end before it (it has scenes left); a wait that ends
        # early fails with its stderr instead of acting on nothing.
        while not list(out.glob('*_summary.json')):
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f'ended before a scene was done: {process.communicate()[1]}')
        act(process)
        _, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:  # it hung: leave nothing behind
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, err


def signal_after_first_scene(
    argv: list[str], out: Path, signum: signal.Signals
) -> tuple[int, str]:
    """Run ``argv`` in its own process group; signal the group once a scene is done.

    Returns:
        The command's exit status and stderr.
    """
    return after_first_scene(argv, out, lambda p: os.killpg(p.pid, signum))


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path('/proc').iterdir():
        try:
            stat = (entry / 'stat').read_text()
        except OSError:  # not a process, or it has just ended
            continue
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path('/proc/self/stat').exists(), reason='needs /proc')
def test_a_killed_worker_fails_its_scenes_and_the_command_ends(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The pool ends its other workers with SIGTERM, which idle workers ignore:
    # the command waited for them forever.
    scenes, out, argv = big_scenes_argv(tmp_path, model, 6, 768, '2')

    def kill_a_worker(process: 'subprocess.Popen[str]') -> None:
        # The workers are the children of the fork server, a child of the command.
        workers = [w for child in _children(process.pid) for w in _children(child)]
        assert workers
        os.kill(workers[0], signal.SIGKILL)

    code, err = after_first_scene(argv, out, kill_a_worker)
    assert code == 1, err
    assert 'its worker process died' in err
    assert 'Traceback' not in err
    again = predict([*scenes, '--model', model, '-o', f'{out}/', '--quiet',
                     '--workers', '2', '--resume'], capsys)  # fmt: skip
    assert again.code == 0, again.err
    assert len(list(out.glob('*_summary.json'))) == len(scenes)


def test_workers_hold_no_semaphore_that_could_outlive_them(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tqdm's default lock is a multiprocessing semaphore that the resource
    # tracker records; a worker ended before its exit handlers leaves it behind,
    # and the tracker warns on stderr after geokd's last line (seen after Ctrl-C).
    from tqdm.std import tqdm

    from geokd.predict import workers

    monkeypatch.delattr(tqdm, '_lock', raising=False)
    previous = {n: signal.getsignal(n) for n in workers.STOPPING}
    queue = multiprocessing.SimpleQueue()
    queue.put('cpu')
    try:
        workers._start_worker(model, 'sar', None, queue, 1, [], os.getpid(), None)
        lock = tqdm.get_lock()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        monkeypatch.setattr(workers, '_WORKER', None)
    assert isinstance(lock, type(threading.RLock())), type(lock)


def test_ctrl_c_stops_every_worker_and_resume_finishes(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ctrl-C reaches the whole process group: the command and its workers.
    scenes, out, argv = big_scenes_argv(tmp_path, model, 6, 768, '2')
    code, err = signal_after_first_scene(argv, out, signal.SIGINT)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == (
        'geokd predict: error: interrupted; run the same command with --resume '
        'to continue'
    )
    assert 'Traceback' not in err
    finished = len(list(out.glob('*_summary.json')))
    assert finished < len(scenes)  # interrupted before the end
    again = predict([*scenes, '--model', model, '-o', f'{out}/', '--quiet',
                     '--workers', '2', '--resume'], capsys)  # fmt: skip
    assert again.code == 0, again.err
    serial = predict([*scenes, '--model', model, '-o', f'{tmp_path}/serial/',
                      '--quiet'], capsys)  # fmt: skip
    assert serial.code == 0, serial.err
    for scene in scenes:
        paths, reference = (
            OutputPaths(out / scene.stem),
            OutputPaths(tmp_path / 'serial' / scene.stem),
        )
        for name in ('classes', 'confidence'):
            assert (
                getattr(paths, name).read_bytes()
                == getattr(reference, name).read_bytes()
            )


@pytest.mark.parametrize('workers', ['1', '2'])
def test_sigterm_ends_predict_in_one_line_and_resume_finishes(
    workers: str, tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SIGTERM (timeout, a scheduler) reaches the whole process group.
    scenes, out, argv = big_scenes_argv(tmp_path, model, 4, 512, workers)
    code, err = signal_after_first_scene(argv, out, signal.SIGTERM)
    assert code == 143, err
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1] == (
        'geokd predict: error: terminated (SIGTERM); run the same command with '
        '--resume to continue'
    )
    assert len(list(out.glob('*_summary.json'))) < len(scenes)
    again = predict([*scenes, '--model', model, '-o', f'{out}/', '--quiet',
                     '--resume'], capsys)  # fmt: skip
    assert again.code == 0, again.err
    assert len(list(out.glob('*_summary.json'))) == len(scenes)


def _read_until_stopped(stop: Any, ready: Connection) -> None:
    """A worker's loop: read the stop flag while signals keep landing."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    ready.send(True)
    while True:
        try:
            while not stop.value:
                pass
            return
        except KeyboardInterrupt:
            continue


def test_signals_landing_while_a_worker_reads_the_stop_flag_never_block_it() -> None:
    # Before: a multiprocessing Event, whose lock a worker interrupted inside
    # is_set() kept for good; the command then hung setting it after SIGTERM.
    context = multiprocessing.get_context('fork')
    stop = stop_flag(context)
    ready, ready_in = context.Pipe(duplex=False)
    child = context.Process(target=_read_until_stopped, args=(stop, ready_in))
    child.start()
    try:
        assert ready.poll(60)
        for i in range(2000):
            os.kill(child.pid, signal.SIGTERM)
            time.sleep(i % 7 * 1e-4)  # lands at ever other points of the loop
        setter = threading.Thread(
            target=setattr, args=(stop, 'value', True), daemon=True
        )
        setter.start()
        setter.join(30)
        assert not setter.is_alive(), 'setting the stop flag waits for a lock'
        # It ends, seeing the flag (or killed earlier by a signal landing outside
        # its try: either way no lock was left taken).
        child.join(30)
        assert child.exitcode is not None
    finally:
        child.kill()
        child.join()


def test_a_scene_is_stopped_once_however_many_signals_come() -> None:
    # Ctrl-C reaches a worker twice (terminal and command): the second interrupt
    # cut the scene's clean-up short, and the worker died.
    from geokd.predict import workers

    previous = {n: signal.getsignal(n) for n in workers.STOPPING}
    try:
        for number in workers.STOPPING:
            signal.signal(number, workers._stop_scene)
        # Sent to this thread, which handles it before pthread_kill returns.
        me = threading.get_ident()
        with pytest.raises(KeyboardInterrupt):
            signal.pthread_kill(me, signal.SIGINT)
        # The clean-up goes on: neither signal stops it again.
        signal.pthread_kill(me, signal.SIGINT)
        signal.pthread_kill(me, signal.SIGTERM)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def test_signals_arriving_together_print_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C and SIGTERM both pending when the first stops the scene: replacing
    # the handler by SIG_IGN printed "Signal 15 ignored due to race condition"
    # with a traceback (seen in a clean-clone suite).
    from geokd.predict import workers

    unraisable: list[object] = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    previous = {n: signal.getsignal(n) for n in workers.STOPPING}
    try:
        for number in workers.STOPPING:
            signal.signal(number, workers._stop_scene)
        signal.pthread_sigmask(signal.SIG_BLOCK, workers.STOPPING)
        # Sent to this thread: a signal sent to the process would be taken by
        # another thread of the suite's, which does not block it.
        me = threading.get_ident()
        signal.pthread_kill(me, signal.SIGINT)
        signal.pthread_kill(me, signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):  # Terminated is one too
            signal.pthread_sigmask(signal.SIG_UNBLOCK, workers.STOPPING)
        signal.getsignal(signal.SIGINT)  # the other signal's handler runs by here
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, workers.STOPPING)
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert not unraisable
