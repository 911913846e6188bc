"""Many scenes in parallel: ``geokd predict --workers N [--devices 0,1]``.

Scenes are spread over worker processes by the standard library's
:class:`~concurrent.futures.ProcessPoolExecutor`, forked from multiprocessing's fork
server, which imports geokd once and never runs torch: no worker inherits torch's
thread pools or CUDA state, and none pays the imports again (measured: 7 % less wall
time and a third less memory per worker than spawned workers). Each worker loads the model once, classifies
one scene at a time with the same code as a serial run (memory per worker is that
of one scene), and returns its summary, its warnings and its peak memory; the parent
reports each scene as it finishes. A scene that fails (bad input, full disk) does not
stop the others, nor does a worker that dies (killed, out of memory); a bug in geokd
stops the command with its traceback, as in a serial run.

The parent locks every output prefix before the pool starts and keeps the locks;
the workers adopt them (:func:`~geokd.predict.output.locks.adopt_locks`). Each worker
runs ``cores // workers`` torch threads; a scene's outputs are the same bytes as in
a serial run (tested).
"""

import ctypes
import os
import resource
import signal
import threading
import warnings
from collections.abc import Collection, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from multiprocessing import forkserver, get_context
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OptionError, PredictError, one_line
from ..signals import Terminated
from .options import PredictOptions

if TYPE_CHECKING:
    from ..export.classifier import SingleSensorClassifier
    from .scene.sources import SceneInput

#: Most worker processes: beyond this a typo, not a machine.
MAX_WORKERS = 256

#: The signals that stop the command (Ctrl-C; SIGTERM from ``timeout`` or a
#: scheduler); both reach the whole process group.
STOPPING = (signal.SIGINT, signal.SIGTERM)


@dataclass
class SceneResult:
    """What a worker reports for one scene.

    Attributes:
        summary: The scene's summary; None when it failed.
        error: The one-line error of a failed scene.
        warnings: Warning messages raised while classifying it.
        worker: Process id of the worker that classified it (None: this process).
        peak_rss_kib: Peak resident memory of that worker so far, in KiB.
    """

    summary: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    worker: int | None = None
    peak_rss_kib: int = 0


def worker_devices(
    workers: int | None, devices: str | None, device: str
) -> tuple[int, list[str]]:
    """The number of workers and the device of each.

    Args:
        workers: ``--workers``; None is one per ``--devices`` entry (else 1).
        devices: ``--devices``: comma-separated CUDA device indexes, or None.
        device: ``--device``, used by every worker when ``devices`` is None.

    Returns:
        The number of workers and one device name per worker (CUDA devices are
        dealt out in turn).

    Raises:
        OptionError: If ``workers`` is out of range, ``devices`` is not a list of
            distinct indexes, or both ``--devices`` and a ``--device`` other than
            'auto' or 'cuda' are given.
    """
    indexes: list[int] = []
    if devices is not None:
        parts = devices.split(',')
        if not all(p.strip().isdigit() for p in parts) or len(set(parts)) < len(parts):
            msg = f'--devices {devices}: must be distinct CUDA device indexes, e.g. 0,1'
            raise OptionError(msg)
        if device not in ('auto', 'cuda'):
            msg = f'--devices {devices} with --device {device}: give one of them'
            raise OptionError(msg)
        indexes = [int(p) for p in parts]
    count = workers if workers is not None else max(len(indexes), 1)
    if isinstance(count, bool) or not 1 <= count <= MAX_WORKERS:
        msg = f'--workers {count}: must be an integer in [1, {MAX_WORKERS}]'
        raise OptionError(msg)
    if not indexes:
        return count, [device] * count
    return count, [f'cuda:{indexes[i % len(indexes)]}' for i in range(count)]


def classify_scenes(
    model: Path,
    modality: str | None,
    patch_size: int | None,
    jobs: Sequence[tuple['Path | SceneInput', Path]],
    options: PredictOptions,
    devices: Sequence[str],
) -> Generator[tuple['Path | SceneInput', SceneResult], None, None]:
    """Classify scenes over worker processes, yielding each result as it comes.

    Args:
        model: The model (``model.json`` or its directory), loaded by each worker.
        modality: The expected modality (checked by the loader), or None.
        patch_size: ``--patch-size`` given for a model that stores none, or None.
        jobs: Each scene and its output prefix.
        options: Prediction options, the same for every scene.
        devices: One device name per worker. This process holds the lock of every
            prefix; the workers adopt them.

    Yields:
        Each scene and its result, in the order they finish.
    """
    context = _fork_server()
    queue: Queue[str] = context.Queue()
    for device in devices:
        queue.put(device)
    threads = max(1, len(os.sched_getaffinity(0)) // len(devices))
    # Workers print nothing themselves: their lines would interleave.
    options = replace(options, quiet=True)
    # Ctrl-C is held back while the workers start: one interrupted half-way through
    # its start would be left behind, failing with a traceback.
    stop = stop_flag(context)
    with _interrupts_held() as interrupted:
        pool = ProcessPoolExecutor(
            len(devices),
            mp_context=context,
            initializer=_start_worker,
            initargs=(
                model,
                modality,
                patch_size,
                queue,
                threads,
                [prefix for _, prefix in jobs],
                os.getpid(),
                stop,
            ),
        )
        futures: dict[Future[SceneResult], Path | SceneInput] = {
            pool.submit(_classify, scene, prefix, options): scene
            for scene, prefix in jobs
        }
    try:
        if signal.SIGTERM in interrupted:
            raise Terminated
        if interrupted:
            raise KeyboardInterrupt
        for future in as_completed(futures):
            yield futures[future], _result(future)
    except BaseException:
        # Stops the scenes being classified (they stay resumable) and those
        # queued; the workers end below: none is left starting up after this
        # process has gone.
        stop.value = True
        _signal_workers(pool, signal.SIGINT)
        raise
    finally:
        _end_workers(pool, futures)


def _signal_workers(pool: ProcessPoolExecutor, signum: int) -> None:
    """Send a signal to every worker process of ``pool`` still there."""
    for process in list(getattr(pool, '_processes', {}).values()):
        with suppress(ProcessLookupError):  # it has just ended
            os.kill(process.pid, signum)


def _end_workers(pool: ProcessPoolExecutor, futures: Collection[Future[Any]]) -> None:
    """Wait for every scene to end (queued ones are cancelled), then for the workers.

    A pool whose worker died (killed, out of memory) fails every scene left and
    ends the other workers with SIGTERM, which idle workers ignore (it reaches the
    whole process group, and the command stops them itself); the pool would wait
    for them forever, holding the lock that ``shutdown`` takes. Once no scene runs
    they hold nothing, and are killed.

    Args:
        pool: The pool.
        futures: Its scenes.
    """
    # A cancelled future counts as done for wait() only once the pool has seen it,
    # which a broken pool never does.
    not_started = {future for future in futures if future.cancel()}
    wait(set(futures) - not_started)
    if getattr(pool, '_broken', False):
        _signal_workers(pool, signal.SIGKILL)
    pool.shutdown(wait=True)


def stop_flag(context: BaseContext) -> ctypes.c_bool:
    """A flag the command sets to stop its workers, shared with them.

    It has no lock: a multiprocessing Event's lock, taken by a worker just as
    Ctrl-C or SIGTERM lands there, stays taken for good, and the command then waits
    forever to set it (seen: the command hung after SIGTERM).

    Args:
        context: The workers' multiprocessing context.

    Returns:
        The flag, False until set.
    """
    return context.RawValue(ctypes.c_bool, False)


@contextmanager
def _interrupts_held() -> Iterator[list[int]]:
    """Hold Ctrl-C back while the block runs, recording it instead.

    Yields:
        The signals received during the block (empty: none).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set in the main thread
        return
    previous = {
        number: signal.signal(number, lambda number, _: received.append(number))
        for number in STOPPING
    }
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _fork_server() -> BaseContext:
    """The fork server's context, the server started ignoring Ctrl-C.

    Ctrl-C reaches the whole process group; a server interrupted while it imports
    geokd would print a traceback. Started with SIGINT ignored, it keeps ignoring
    it (Python leaves an inherited SIG_IGN as it is), and so do the workers it
    forks until they classify a scene.

    Returns:
        The context.
    """
    context = get_context('forkserver')
    context.set_forkserver_preload(['geokd.predict.pipeline'])
    if threading.current_thread() is not threading.main_thread():
        return context  # signal handlers can only be set in the main thread
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOPPING}
    try:
        forkserver.ensure_running()  # spawns the server, without waiting for it
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return context


def _result(future: Future[SceneResult]) -> SceneResult:
    """A finished scene's result; a dead worker or a bug becomes a failed scene."""
    try:
        return future.result()
    except BrokenProcessPool:
        return SceneResult(
            error='its worker process died (killed, or out of memory: use a smaller '
            '--window or --batch-size, or fewer --workers)'
        )


@dataclass
class _Worker:
    """What a worker process keeps, set once by :func:`_start_worker`.

    Attributes:
        classifier: The classifier.
        device: Its device.
        stop: The command's stop flag, set on Ctrl-C: queued scenes are not started.
    """

    classifier: 'SingleSensorClassifier'
    device: str
    stop: ctypes.c_bool


_WORKER: _Worker | None = None


def _start_worker(
    model: Path,
    modality: str | None,
    patch_size: int | None,
    queue: 'Queue[str]',
    threads: int,
    prefixes: list[Path],
    owner: int,
    stop: ctypes.c_bool,
) -> None:
    """Load the model on this worker's device, with its share of the CPU threads."""
    global _WORKER

    import torch
    from tqdm.std import tqdm

    from ..export.classifier import load_classifier
    from .output.locks import adopt_locks

    # Ctrl-C reaches the whole process group: a worker stops the scene it is
    # classifying (see _classify), and an idle one leaves it to the command.
    for number in STOPPING:
        signal.signal(number, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing semaphore, registered with the
    # resource tracker: a worker that did not run its exit handlers would leave
    # it behind, and the tracker warns about it on stderr after the command's
    # last line. Workers print no bars; a thread lock is enough.
    tqdm.set_lock(threading.RLock())
    torch.set_num_threads(threads)
    adopt_locks(prefixes, owner)
    classifier = load_classifier(model, modality, patch_size)
    _WORKER = _Worker(classifier, queue.get(), stop)


def classify_scene(
    classifier: 'SingleSensorClassifier',
    scene: 'Path | SceneInput',
    prefix: Path,
    options: PredictOptions,
) -> SceneResult:
    """Classify one scene, turning its expected failure into its result's error.

    The same for a serial run and a worker, so that both report a scene alike.

    Args:
        classifier: The classifier.
        scene: A scene path (file or directory of band files) or scene input.
        prefix: Its output prefix.
        options: Prediction options.

    Returns:
        Its summary, or its one-line error.

    Raises:
        LockedError: If another run holds the prefix: the whole command stops.
    """
    from .output.locks import LockedError
    from .pipeline import predict_scene

    try:
        return SceneResult(predict_scene(classifier, scene, prefix, options))
    except LockedError:
        raise
    except (PredictError, OSError) as err:
        return SceneResult(error=one_line(err))
    except (MemoryError, RuntimeError) as err:
        if not out_of_memory(err):
            raise
        msg = f'{scene}: out of memory (use a smaller --window or --batch-size)'
        return SceneResult(error=msg)


def out_of_memory(err: BaseException) -> bool:
    """Whether an error is a failed allocation (Python's, or torch's on any device).

    torch reports a failed CPU allocation as a plain RuntimeError of its
    ``DefaultCPUAllocator``, and a failed GPU one as ``torch.OutOfMemoryError``.

    Args:
        err: The error.

    Returns:
        True when memory ran out.
    """
    if isinstance(err, MemoryError) or type(err).__name__ == 'OutOfMemoryError':
        return True
    text = str(err)
    return "can't allocate memory" in text or 'out of memory' in text.lower()


def _stop_scene(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM in a worker classifying a scene: stop it, once.

    Later signals are ignored while the scene stops: Ctrl-C reaches the worker
    twice (from the terminal and from the command), and a second interrupt cut
    the scene's clean-up short (seen: the join of its reading thread, after which
    the worker died and the pool broke).

    Raises:
        Terminated: For SIGTERM.
        KeyboardInterrupt: For Ctrl-C.
    """
    for number in STOPPING:
        signal.signal(number, _ignore)
    if signum == signal.SIGTERM:
        raise Terminated
    raise KeyboardInterrupt


def _ignore(signum: int, frame: object) -> None:
    """Ignore a signal in Python, not with SIG_IGN.

    A signal already received when its Python handler is replaced by SIG_IGN is
    reported as an "ignored due to race condition" traceback on stderr (seen after
    SIGTERM with --workers); a Python handler that does nothing has no such race.
    """


def _classify(
    scene: 'Path | SceneInput', prefix: Path, options: PredictOptions
) -> SceneResult:
    """Classify one scene in a worker, recording its warnings and peak memory."""
    from rasterio.errors import NotGeoreferencedWarning

    assert _WORKER is not None, 'not a worker process'
    options = replace(options, device=_WORKER.device)
    for number in STOPPING:
        signal.signal(number, _stop_scene)
    try:
        if _WORKER.stop.value:
            raise KeyboardInterrupt
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = classify_scene(_WORKER.classifier, scene, prefix, options)
    finally:
        for number in STOPPING:
            signal.signal(number, _ignore)
    # geokd's own warning says the same as rasterio's, naming the file.
    result.warnings = [
        str(w.message)
        for w in caught
        if not issubclass(w.category, NotGeoreferencedWarning)
    ]
    result.worker = os.getpid()
    result.peak_rss_kib = peak_rss_kib()
    return result


def peak_rss_kib() -> int:
    """Peak resident memory of this process, in KiB.

    Read from ``/proc/self/status`` (``VmHWM``) where there is one: ``ru_maxrss``
    survives ``exec``, so a process started by ``exec`` would report its parent's peak.

    Returns:
        The peak.
    """
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
