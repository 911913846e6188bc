"""Helpers of the hostile tests of ``geokd predict``: runs, checks and real kills.

:func:`predict` runs the command in this process. :func:`run_child` runs it in a
real child process, forked from a server that imported geokd once (multiprocessing's
forkserver, preloading this module), so a test can pause the child at a chosen
moment (:class:`Hook`) and kill it there with a real signal, in a fraction of a
second instead of the seconds a fresh interpreter needs to import torch.
"""

import ctypes
import hashlib
import importlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch

import geokd.predict.pipeline  # noqa: F401 (the fork server imports torch once)
from geokd.main import main
from geokd.predict import OutputPaths
from tests.predict.conftest import tiled_profile

#: The raster outputs of a prefix, as ``OutputPaths`` attributes.
RASTERS = ('classes', 'confidence', 'probabilities')


def write_raster(path: Path, data: np.ndarray) -> Path:
    """Write SAR-like ``(2, height, width)`` data as a tiled GeoTIFF (VV, VH)."""
    with rasterio.open(path, 'w', **tiled_profile(data)) as dst:
        dst.descriptions = ('VV', 'VH')  # first: the header stays at the start
        dst.write(data)
    return path


@dataclass
class Result:
    """How a ``geokd predict`` run ended."""

    code: int
    out: str
    err: str


#: ``geokd predict`` with the arguments given (the ``run`` fixture).
Run = Callable[..., Result]


def _exit_code(err: SystemExit) -> tuple[int, str]:
    """Exit status and message of a SystemExit (``sys.exit('msg')`` prints it)."""
    if err.code is None:
        return 0, ''
    if isinstance(err.code, int):
        return err.code, ''
    return 1, f'{err.code}\n'


def run_main(argv: Iterable[object]) -> int:
    """Run ``geokd predict ARGV`` here, returning its exit status."""
    try:
        main(['predict', *map(str, argv)])
    except SystemExit as err:
        code, extra = _exit_code(err)
        sys.stderr.write(extra)
        return code
    return 0


def predict(argv: Iterable[object], capsys: Any) -> Result:
    """Run ``geokd predict ARGV`` in this process.

    Args:
        argv: The arguments (converted with ``str``).
        capsys: pytest's capsys fixture.

    Returns:
        The exit status and what was printed.
    """
    capsys.readouterr()
    code = run_main(argv)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def assert_error(result: Result, code: int, *fragments: str) -> str:
    """Check that a run failed with one line naming what it should.

    Args:
        result: The run.
        code: The expected exit status.
        fragments: Texts the error line must contain (file names, options).

    Returns:
        The error line.
    """
    text = result.out + result.err
    assert 'Traceback' not in text, text
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if 'error' in line.lower()]
    assert len(errors) == 1, text
    assert all(line.startswith('geokd predict: ') for line in lines), text
    [line] = errors
    assert line.startswith('geokd predict: error: '), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert result.code == code, (result.code, text)
    return line


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every file, folder and link under ``root``, with its content's hash.

    Args:
        root: The folder.

    Returns:
        Relative path -> ('dir',), ('link', target) or ('file', sha256).
    """
    out: dict[str, tuple[Any, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ('link', os.readlink(path))
            elif path.is_dir():
                out[rel] = ('dir',)
            else:
                out[rel] = ('file', hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Paths created, removed or changed between two snapshots."""
    return {k for k in {*before, *after} if before.get(k) != after.get(k)}


def assert_changes_only_under(
    before: dict[str, Any], after: dict[str, Any], *allowed: str
) -> None:
    """Check that nothing changed but under the ``allowed`` relative folders."""
    bad = {
        p
        for p in changed(before, after)
        if not any(p == a or p.startswith(f'{a}/') for a in allowed)
    }
    assert not bad, sorted(bad)


def read_outputs(prefix: Path) -> dict[str, Any]:
    """The content of a prefix's outputs, to compare two runs exactly."""
    paths = OutputPaths(prefix)
    out: dict[str, Any] = {}
    for name in RASTERS:
        path = getattr(paths, name)
        if path.exists():
            with rasterio.open(path) as src:
                out[name] = (src.read(), src.profile['dtype'], src.transform, src.crs)
    summary = json.loads(paths.summary.read_text())
    out['summary'] = {k: summary[k] for k in ('classes', 'nodata_cells', 'grid')}
    out['style'] = paths.style.read_text()
    if paths.polygons.exists():
        import geopandas as gpd

        frame = gpd.read_file(paths.polygons)
        out['polygons'] = (frame.drop(columns='geometry').values.tolist(), frame.area)
    return out


def assert_same_outputs(a: Path, b: Path) -> None:
    """Check that two prefixes hold identical outputs (pixel for pixel)."""
    x, y = read_outputs(a), read_outputs(b)
    assert x.keys() == y.keys()
    for name in RASTERS:
        if name in x:
            np.testing.assert_array_equal(x[name][0], y[name][0])
            assert x[name][1:] == y[name][1:]
    assert x['summary'] == y['summary']
    assert x['style'] == y['style']
    if 'polygons' in x:
        assert x['polygons'][0] == y['polygons'][0]
        np.testing.assert_allclose(x['polygons'][1], y['polygons'][1])


# Real child processes ------------------------------------------------------------


@dataclass(frozen=True)
class Hook:
    """Pause a child before the ``call``-th call of ``target`` (``module:attr.attr``)
    whose arguments match the regular expression ``match`` (any call when None)."""

    target: str
    call: int = 1
    match: str | None = None


def _install(hook: Hook, ready: Any, release: Any) -> None:
    """Wrap the hook's target so that the chosen call waits for ``release``."""
    module, attr = hook.target.split(':')
    owner: Any = importlib.import_module(module)
    *parents, name = attr.split('.')
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)
    calls = [0]

    def paused(*args: Any, **kwargs: Any) -> Any:
        if hook.match is None or any(re.search(hook.match, str(a)) for a in args):
            calls[0] += 1
            if calls[0] == hook.call:
                ready.set()
                while not release.wait(0.02):
                    pass
        return original(*args, **kwargs)

    setattr(owner, name, paused)


def _child(
    argv: Sequence[str],
    hook: Hook | None,
    ready: Any,
    release: Any,
    log: str,
    file_size_limit: int | None,
) -> None:
    """Body of a child: run ``geokd predict`` with its output in ``log``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(1)  # as the other runs of the tests (results depend on it)
    if file_size_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a kill
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, hard))
    if hook is not None:
        _install(hook, ready, release)
    code = run_main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@dataclass
class Child:
    """A ``geokd predict`` run in a child process."""

    process: Any
    ready: Any
    release: Any
    log: Path

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until the child pauses at its hook."""
        if not self.ready.wait(timeout):
            self.process.kill()
            msg = f'the child never reached its hook:\n{self.log.read_text()}'
            raise AssertionError(msg)

    def finish(self, timeout: float = 120) -> Result:
        """Let the child go on and wait for its end."""
        self.release.set()
        self.process.join(timeout)
        assert self.process.exitcode is not None, 'the child did not end'
        text = self.log.read_text()
        return Result(self.process.exitcode, '', text)

    def kill(self, sig: int) -> Result:
        """Send a signal (at its hook) and wait for the child's end."""
        os.kill(self.process.pid, sig)
        self.process.join(120)
        assert self.process.exitcode is not None, 'the child did not end'
        return Result(self.process.exitcode, '', self.log.read_text())


def _context() -> Any:
    """The forkserver context, preloading geokd through this module."""
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload([__name__])
    return context


def start_child(
    argv: Iterable[object],
    log: Path,
    hook: Hook | None = None,
    file_size_limit: int | None = None,
) -> Child:
    """Start ``geokd predict ARGV`` in a real child process.

    Args:
        argv: The arguments.
        log: File receiving the child's standard output and error.
        hook: Where the child pauses (it then waits for :meth:`Child.finish`).
        file_size_limit: Largest file the child may write (RLIMIT_FSIZE): longer
            writes fail as on a full disk.

    Returns:
        The running child.
    """
    context = _context()
    ready, release = context.Event(), context.Event()
    args = ([str(a) for a in argv], hook, ready, release, str(log), file_size_limit)
    process = context.Process(target=_child, args=args, daemon=True)
    process.start()
    return Child(process, ready, release, log)


# A small disk of its own ----------------------------------------------------------


def _mount_tmpfs(target: Path, size: int) -> None:
    """Mount a tmpfs of ``size`` bytes at ``target`` in a new user+mount namespace.

    Raises:
        OSError: If the platform does not allow it.
    """
    uid, gid = os.getuid(), os.getgid()
    os.unshare(os.CLONE_NEWUSER | os.CLONE_NEWNS)
    Path('/proc/self/setgroups').write_text('deny')
    Path('/proc/self/uid_map').write_text(f'0 {uid} 1')
    Path('/proc/self/gid_map').write_text(f'0 {gid} 1')
    libc = ctypes.CDLL(None, use_errno=True)
    options = f'size={size},mode=0755'.encode()
    if libc.mount(b'tmpfs', str(target).encode(), b'tmpfs', 0, options) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _disk_full_body(
    scene: str, disk: str, copy_to: str, ballast: int, log: str
) -> None:
    """Child body: on a 1 MiB disk left with little space, predict, free, resume."""
    torch.set_num_threads(1)  # as the other runs of the tests (results depend on it)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    report: dict[str, Any] = {}
    try:
        _mount_tmpfs(Path(disk), 2**20)
    except (OSError, AttributeError) as err:
        report['unsupported'] = str(err)
    else:
        out = Path(disk) / 'out'
        out.mkdir()
        Path(disk, 'ballast').write_bytes(b'\0' * ballast)
        argv = [scene, '--model', Path(copy_to).parent / 'model', '-o', f'{out}/',
                '--window', '256', '--probabilities', '--polygons', '--quiet']  # fmt: skip
        report['first'] = _run_in_child([str(a) for a in argv])
        report['after_failure'] = sorted(os.listdir(out))
        Path(disk, 'ballast').unlink()
        report['resumed'] = _run_in_child([*map(str, argv), '--resume'])
        shutil.copytree(out, copy_to, symlinks=True)
    Path(copy_to).parent.joinpath('report.json').write_text(json.dumps(report))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_in_child(argv: list[str]) -> dict[str, Any]:
    """Run ``geokd predict`` here, returning its status and what it printed."""
    log = Path(os.environ.get('TMPDIR', '/tmp'), f'geokd-{os.getpid()}.log')
    saved = os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    try:
        code = run_main(argv)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
    text = log.read_text()
    log.unlink()
    return {'code': code, 'err': text}


def disk_full_run(scene: Path, work: Path, ballast: int) -> tuple[dict[str, Any], Path]:
    """Predict on a real 1 MiB tmpfs nearly filled, free it, resume (in a child).

    Args:
        scene: The scene (outside the small disk).
        work: A folder holding ``model/`` (the export); the small disk is mounted on
            ``work/disk``, its outputs copied to ``work/copied`` after resuming.
        ballast: Bytes written on the small disk before predicting.

    Returns:
        The child's report (``first``, ``after_failure``, ``resumed``, or
        ``unsupported``) and the folder of the copied outputs.
    """
    (work / 'disk').mkdir()
    context = _context()
    args = (
        str(scene),
        str(work / 'disk'),
        str(work / 'copied'),
        ballast,
        str(work / 'child.log'),
    )
    process = context.Process(target=_disk_full_body, args=args, daemon=True)
    process.start()
    process.join(300)
    report = work / 'report.json'
    assert report.exists(), (work / 'child.log').read_text()
    return json.loads(report.read_text()), work / 'copied'
