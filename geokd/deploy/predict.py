"""Classify whole GeoTIFF scenes with a single-sensor classifier, window by window."""

import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from torch import Tensor
from tqdm.auto import tqdm

import geokd

from . import writers
from .export import SingleSensorClassifier
from .tiling import GridWindow, PatchGrid, grid_windows, window_size

#: GDAL's block cache defaults to 5% of RAM; a small one keeps memory flat.
GDAL_OPTIONS = {'GDAL_CACHEMAX': 64 * 2**20}


class PredictError(ValueError):
    """A scene cannot be classified; the message names the file and the problem."""


@dataclass
class PredictOptions:
    """Options of :func:`predict_scene`.

    Attributes:
        patch_size: Patch size in pixels; None takes the model's.
        stride: Distance between patches in pixels, dividing the patch size; None
            takes the patch size (no overlap). Overlapping patches' probabilities
            are averaged per output cell.
        batch_size: Patches per forward pass.
        device: 'cpu', 'cuda', 'cuda:N' or 'auto'.
        amp: Mixed precision (float16 autocast) on CUDA.
        bands: The scene's bands to feed the model, in the model's order: 1-based
            indexes or band names; None matches names or takes them in file order.
        min_valid: Minimum fraction of valid pixels for a patch to be classified.
        probabilities: Also write every class probability.
        polygons: Also write the class map's polygons as a GeoPackage.
        resume: Continue an interrupted run of the same scene, model and options.
        overwrite: Replace existing finished outputs.
        quiet: No progress bar or messages.
        window: Approximate window side in pixels (memory use grows with its square).
    """

    patch_size: int | None = None
    stride: int | None = None
    batch_size: int = 64
    device: str = 'cpu'
    amp: bool = True
    bands: Sequence[str | int] | None = None
    min_valid: float = 0.5
    probabilities: bool = False
    polygons: bool = False
    resume: bool = False
    overwrite: bool = False
    quiet: bool = False
    window: int = 1024


@dataclass(frozen=True)
class OutputPaths:
    """Files written for one scene, from a prefix ``dir/name``.

    Attributes:
        prefix: Output prefix.
    """

    prefix: Path

    def _file(self, suffix: str) -> Path:
        return self.prefix.with_name(self.prefix.name + suffix)

    @property
    def classes(self) -> Path:
        """Class map COG."""
        return self._file('_classes.tif')

    @property
    def style(self) -> Path:
        """QGIS style of the class map."""
        return self._file('_classes.qml')

    @property
    def confidence(self) -> Path:
        """Confidence (maximum probability) COG."""
        return self._file('_confidence.tif')

    @property
    def probabilities(self) -> Path:
        """All class probabilities COG."""
        return self._file('_probabilities.tif')

    @property
    def polygons(self) -> Path:
        """GeoPackage of class polygons."""
        return self._file('_classes.gpkg')

    @property
    def summary(self) -> Path:
        """JSON summary, written last: its presence means the run completed."""
        return self._file('_summary.json')

    @property
    def partial(self) -> Path:
        """Directory of the unfinished run (working rasters and progress)."""
        return self.prefix.with_name(f'.{self.prefix.name}.partial')


_BAND_NUMBER = re.compile(r'^B0*(\d+A?)$')


def _canonical_band(name: str) -> str:
    """Compare band names loosely: case-insensitive, 'B01' equals 'B1'."""
    name = name.strip().upper()
    match = _BAND_NUMBER.match(name)
    return f'B{match.group(1)}' if match else name


def resolve_bands(
    path: Path,
    descriptions: Sequence[str | None],
    expected: Sequence[str],
    in_channels: int,
    bands: Sequence[str | int] | None,
) -> list[int]:
    """Choose the scene's bands (1-based) that feed the model, in the model's order.

    Args:
        path: The scene (for error messages).
        descriptions: The scene's band descriptions.
        expected: The model's band names (may be empty).
        in_channels: Number of bands the model reads.
        bands: User selection: 1-based indexes or band names; None matches the
            model's band names to the descriptions, or takes the bands in file order
            when the counts agree.

    Returns:
        1-based band indexes.

    Raises:
        PredictError: If the bands cannot be matched.
    """
    count = len(descriptions)
    names = [_canonical_band(d) if d else None for d in descriptions]
    if any(descriptions):
        listing = f' ({", ".join(d or "?" for d in descriptions)})'
    else:
        listing = ' (unnamed)'
    wanted = f'{in_channels} bands' + (f' ({", ".join(expected)})' if expected else '')
    if bands:
        indexes = []
        for b in bands:
            if isinstance(b, int) or str(b).isdigit():
                index = int(b)
                if not 1 <= index <= count:
                    msg = f'{path}: has no band {index} (it has {count}{listing})'
                    raise PredictError(msg)
            elif _canonical_band(str(b)) in names:
                index = names.index(_canonical_band(str(b))) + 1
            else:
                msg = f'{path}: has no band named {b!r} (bands{listing})'
                raise PredictError(msg)
            indexes.append(index)
        if len(indexes) != in_channels:
            msg = f'--bands selects {len(indexes)} bands but the model reads {wanted}'
            raise PredictError(msg)
        return indexes
    model_names = [_canonical_band(b) for b in expected]
    if model_names and all(b in names for b in model_names):
        return [names.index(b) + 1 for b in model_names]
    if count == in_channels:
        return list(range(1, count + 1))
    msg = (
        f'{path}: has {count} band(s){listing} but the model reads {wanted}; '
        'select them with --bands'
    )
    raise PredictError(msg)


def _fingerprint(scene: Path, classifier: SingleSensorClassifier, key: dict) -> str:
    """Identify a run: same scene file, model and options."""
    stat = scene.stat()
    weights = hashlib.sha256()
    for v in classifier.model.state_dict().values():
        weights.update(v.detach().cpu().contiguous().numpy().tobytes())
    data = {
        'scene': str(scene.resolve()),
        'size': stat.st_size,
        'mtime': stat.st_mtime_ns,
        'model': asdict(classifier.metadata),
        'weights': weights.hexdigest(),
        **key,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _read_window(
    src: rasterio.DatasetReader, indexes: list[int], window: Window
) -> np.ndarray:
    """Read a window that may reach past the scene, as float32 with NaN outside."""
    out = np.full(
        (len(indexes), int(window.height), int(window.width)), np.nan, np.float32
    )
    inside = window.intersection(Window(0, 0, src.width, src.height))
    r, c = int(inside.row_off - window.row_off), int(inside.col_off - window.col_off)
    h, w = int(inside.height), int(inside.width)
    out[:, r : r + h, c : c + w] = src.read(indexes, window=inside)
    return out


class _WindowClassifier:
    """Turns one window of pixels into mean class probabilities per output cell."""

    def __init__(
        self,
        classifier: SingleSensorClassifier,
        grid: PatchGrid,
        options: PredictOptions,
        device: torch.device,
        nodata: float | None,
    ) -> None:
        self.model = classifier.model.to(device).eval()
        self.norm = classifier.metadata.preprocessing
        self.num_classes = classifier.metadata.num_classes
        self.grid = grid
        self.options = options
        self.device = device
        self.nodata = nodata
        self.autocast = device.type == 'cuda' and options.amp

    def valid_mask(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels where every band is finite and differs from the nodata value."""
        valid = np.isfinite(pixels).all(0)
        if self.nodata is not None and np.isfinite(self.nodata):
            valid &= (pixels != self.nodata).all(0)
        return valid

    @torch.inference_mode()
    def probabilities(self, pixels: np.ndarray, w: GridWindow) -> tuple[Tensor, int]:
        """Classify the window's patches and average them per cell.

        Args:
            pixels: The window's pixels ``(C, h, w)``, NaN outside the scene.
            w: The window.

        Returns:
            Mean probabilities ``(K, rows, cols)`` of the window's cells (NaN where
            no valid patch covers a cell), and the number of patches classified.
        """
        p, s, k = self.grid.patch_size, self.grid.stride, self.grid.cells_per_patch
        x = torch.from_numpy(pixels)
        valid = torch.from_numpy(self.valid_mask(pixels))
        patches = x.unfold(1, p, s).unfold(2, p, s)  # (C, nr, nc, p, p)
        masks = valid.unfold(0, p, s).unfold(1, p, s)  # (nr, nc, p, p)
        nr, nc = masks.shape[:2]
        fraction = masks.float().mean((-1, -2))
        keep = (fraction >= self.options.min_valid) & (fraction > 0)
        rows, cols = keep.nonzero(as_tuple=True)
        probs = torch.zeros(self.num_classes, nr, nc)
        for i in range(0, len(rows), self.options.batch_size):
            r, c = (
                rows[i : i + self.options.batch_size],
                cols[i : i + self.options.batch_size],
            )
            batch = patches[:, r, c].transpose(0, 1).to(self.device, non_blocking=True)
            mask = masks[r, c].to(self.device)[:, None]
            batch = torch.where(mask, self.norm(batch), 0.0)
            with torch.autocast('cuda', enabled=self.autocast):
                logits = self.model(batch)
            probs[:, r, c] = logits.float().softmax(1).T.cpu()
        # Each patch spreads its probabilities over the k x k cells it covers.
        total = torch.zeros(self.num_classes, nr + k - 1, nc + k - 1)
        count = torch.zeros(nr + k - 1, nc + k - 1)
        for dy in range(k):
            for dx in range(k):
                total[:, dy : dy + nr, dx : dx + nc] += probs
                count[dy : dy + nr, dx : dx + nc] += keep
        r0 = int(w.cells.row_off) - w.patch_rows[0]
        c0 = int(w.cells.col_off) - w.patch_cols[0]
        h, wd = int(w.cells.height), int(w.cells.width)
        total, count = (
            total[:, r0 : r0 + h, c0 : c0 + wd],
            count[r0 : r0 + h, c0 : c0 + wd],
        )
        return total / count, len(rows)


def _prefetch(
    src: rasterio.DatasetReader, indexes: list[int], windows: list[GridWindow]
) -> Iterator[tuple[GridWindow, np.ndarray]]:
    """Read windows one ahead in a thread, so I/O overlaps the forward passes."""
    if not windows:  # a resumed run interrupted after its last window
        return
    with ThreadPoolExecutor(1) as pool:
        pending = [
            (w, pool.submit(_read_window, src, indexes, w.pixels)) for w in windows[:1]
        ]
        for nxt in [*windows[1:], None]:
            w, future = pending.pop()
            if nxt is not None:
                pending.append(
                    (nxt, pool.submit(_read_window, src, indexes, nxt.pixels))
                )
            yield w, future.result()


def _open_scene(path: Path) -> rasterio.DatasetReader:
    """Open a raster, turning GDAL's errors into one line naming the file."""
    if not path.exists():
        msg = f'{path}: no such file'
        raise PredictError(msg)
    try:
        return rasterio.open(path)
    except RasterioIOError as err:
        msg = f'{path}: not a readable raster ({str(err).splitlines()[0]})'
        raise PredictError(msg) from err


def _check_writable(paths: OutputPaths, options: PredictOptions) -> None:
    directory = paths.prefix.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f'{directory}: output directory cannot be created ({err.strerror})'
        raise PredictError(msg) from err
    if not os.access(directory, os.W_OK | os.X_OK):
        msg = f'{directory}: output directory is not writable'
        raise PredictError(msg)


def predict_scene(
    classifier: SingleSensorClassifier,
    scene: str | Path,
    prefix: str | Path,
    options: PredictOptions | None = None,
) -> dict[str, Any]:
    """Classify a whole scene on the patch grid and write the outputs.

    Args:
        classifier: The single-sensor classifier.
        scene: GeoTIFF (or any raster GDAL reads) of the model's sensor.
        prefix: Output prefix: ``prefix_classes.tif``, ``prefix_confidence.tif``,
            ``prefix_summary.json`` (and optionally ``prefix_probabilities.tif``,
            ``prefix_classes.gpkg``).
        options: Prediction options.

    Returns:
        The summary (also written as JSON).

    Raises:
        PredictError: On bad input or outputs, with a one-line message.
    """
    options = options or PredictOptions()
    scene, paths = Path(scene), OutputPaths(Path(prefix))
    meta = classifier.metadata
    patch = options.patch_size or meta.patch_size
    stride = options.stride or patch
    if not 0 <= options.min_valid <= 1:
        msg = f'min_valid must be in [0, 1], got {options.min_valid}'
        raise PredictError(msg)
    if options.overwrite:
        # The summary marks finished outputs: without it, an interrupted overwrite can
        # never be mistaken for a finished run.
        paths.summary.unlink(missing_ok=True)
    elif paths.summary.exists() and not options.resume:
        msg = f'{paths.summary}: outputs already exist (use --overwrite or --resume)'
        raise PredictError(msg)
    _check_writable(paths, options)
    device = torch.device(
        ('cuda' if torch.cuda.is_available() else 'cpu')
        if options.device == 'auto'
        else options.device
    )
    if device.type == 'cuda' and not torch.cuda.is_available():
        msg = f'--device {options.device}: CUDA is not available on this machine'
        raise PredictError(msg)
    start_time = time.perf_counter()
    with rasterio.Env(**GDAL_OPTIONS), _open_scene(scene) as src:
        indexes = resolve_bands(
            scene, src.descriptions, meta.band_names, meta.in_channels, options.bands
        )
        crs = src.crs
        # Warned even with --quiet: outputs without georeferencing are a real surprise.
        if crs is None:
            warnings.warn(
                f'{scene}: no CRS; outputs will carry none and class areas are unknown',
                stacklevel=2,
            )
        if src.transform == Affine.identity():
            warnings.warn(
                f'{scene}: no geotransform; outputs are on the pixel grid',
                stacklevel=2,
            )
        try:
            grid = PatchGrid(src.height, src.width, patch, stride)
        except ValueError as err:
            raise PredictError(f'{scene}: {err}') from err
        nodata = src.nodata
        block = src.block_shapes[0][0]
        size = window_size(patch, stride, block, options.window)
        windows = list(grid_windows(grid, size))
        rows, cols = grid.shape
        out_transform = src.transform @ Affine.scale(stride)
        base = {'crs': crs, 'transform': out_transform, 'width': cols, 'height': rows}
        # Everything that changes the windows or their contents: a resumed run must match.
        key = {'patch': patch, 'stride': stride, 'bands': indexes, 'window': size,
               'min_valid': options.min_valid, 'probabilities': options.probabilities}  # fmt: skip
        fingerprint = _fingerprint(scene, classifier, key)
        if options.resume and paths.summary.exists():
            finished = json.loads(paths.summary.read_text())
            if finished.get('fingerprint') == fingerprint:
                return finished
            msg = (
                f'{paths.summary}: finished outputs of another scene, model or options '
                '(use --overwrite)'
            )
            raise PredictError(msg)
        state = _start_or_resume(paths, fingerprint, options, meta.num_classes)
        work = {
            'classes': paths.partial / 'classes.tif',
            'confidence': paths.partial / 'confidence.tif',
        }
        if options.probabilities:
            work['probabilities'] = paths.partial / 'probabilities.tif'
        if state['completed'] == 0:
            _create_working(work, base, size, meta.class_names, meta, scene)
        engine = _WindowClassifier(classifier, grid, options, device, nodata)
        todo = [w for w in windows if w.index >= state['completed']]
        total = sum(w.num_patches for w in windows)
        done = total - sum(w.num_patches for w in todo)
        bar = tqdm(
            total=total, initial=done, unit='patch', disable=options.quiet,
            desc=scene.name, dynamic_ncols=True,
        )  # fmt: skip
        classified = 0
        with bar:
            for w, pixels in _prefetch(src, indexes, todo):
                probs, n = engine.probabilities(pixels, w)
                classified += n
                _write_window(work, w, probs, crs, out_transform, state)
                state['completed'] = w.index + 1
                writers.write_json(paths.partial / 'progress.json', state)
                bar.update(w.num_patches)
    counts = state['class_cells']
    if sum(counts) == 0:
        shutil.rmtree(paths.partial, ignore_errors=True)
        if grid.height < patch or grid.width < patch:
            msg = (
                f'{scene}: smaller than one patch ({grid.height} x {grid.width} < '
                f'{patch}) and under --min-valid {options.min_valid}; nothing written'
            )
        else:
            msg = (
                f'{scene}: no patch has {options.min_valid:.0%} valid pixels '
                '(all nodata?); nothing written'
            )
        raise PredictError(msg)
    summary = {
        'input': str(scene.resolve()),
        'model': {
            'modality': meta.modality, 'backbone': meta.backbone,
            'source': meta.source, 'geokd_version': meta.geokd_version,
        },
        'options': {**key, 'batch_size': options.batch_size, 'device': str(device)},
        'crs': crs.to_string() if crs else None,
        'grid': {'rows': rows, 'cols': cols, 'cell_size_pixels': stride,
                 'transform': list(out_transform)[:6]},
        'classes': {
            name: {
                'cells': counts[i],
                'area_km2': state['class_km2'][i] if state['class_km2'] else None,
            }
            for i, name in enumerate(meta.class_names)
        },
        'nodata_cells': rows * cols - sum(counts),
        'patches': total,
        'patches_classified_this_run': classified,
        'resumed': done > 0,
        'outputs': {},
        'geokd_version': geokd.__version__,
        'fingerprint': fingerprint,
    }  # fmt: skip
    with rasterio.Env(**GDAL_OPTIONS):
        summary['outputs'] = _finish(paths, work, meta.class_names, options)
    seconds = time.perf_counter() - start_time
    summary['seconds'] = round(seconds, 3)
    summary['patches_per_second'] = round((total - done) / seconds, 2)
    writers.write_json(paths.summary, summary)
    shutil.rmtree(paths.partial, ignore_errors=True)
    return summary


def _start_or_resume(
    paths: OutputPaths, fingerprint: str, options: PredictOptions, num_classes: int
) -> dict[str, Any]:
    """Load the progress of an interrupted identical run, or start afresh."""
    progress = paths.partial / 'progress.json'
    if options.resume and progress.is_file():
        try:
            state = json.loads(progress.read_text())
        except ValueError:
            state = {}
        if state.get('fingerprint') == fingerprint:
            return state
        if not options.quiet:
            print(
                f'{paths.partial}: from another scene, model or options; starting over'
            )
    shutil.rmtree(paths.partial, ignore_errors=True)
    paths.partial.mkdir(parents=True)
    return {
        'fingerprint': fingerprint,
        'completed': 0,
        'class_cells': [0] * num_classes,
        'class_km2': [0.0] * num_classes,
    }


def _create_working(
    work: dict[str, Path],
    base: dict[str, Any],
    block: int,
    class_names: Sequence[str],
    meta: Any,
    scene: Path,
) -> None:
    """Create the empty working rasters, with colours, names and descriptions."""
    tags = {
        'CLASS_NAMES': json.dumps(list(class_names)),
        'MODALITY': meta.modality,
        'SOURCE_SCENE': scene.name,
        'GEOKD_VERSION': geokd.__version__,
    }
    profile = writers.working_profile(base, 1, 'uint8', writers.CLASS_NODATA, block)
    with rasterio.open(work['classes'], 'w', **profile) as dst:
        dst.write_colormap(1, writers.class_colors(len(class_names)))
        dst.set_band_description(1, 'class')
        dst.update_tags(**tags, **{f'CLASS_{i}': n for i, n in enumerate(class_names)})
    profile = writers.working_profile(base, 1, 'float32', np.nan, block)
    with rasterio.open(work['confidence'], 'w', **profile) as dst:
        dst.set_band_description(1, 'confidence (max class probability)')
        dst.update_tags(**tags)
    if 'probabilities' in work:
        profile = writers.working_profile(
            base, len(class_names), 'float32', np.nan, block
        )
        with rasterio.open(work['probabilities'], 'w', **profile) as dst:
            for i, name in enumerate(class_names):
                dst.set_band_description(i + 1, name)
            dst.update_tags(**tags)


def _write_window(
    work: dict[str, Path],
    w: GridWindow,
    probs: Tensor,
    crs: Any,
    transform: Affine,
    state: dict[str, Any],
) -> None:
    """Write one window of every output and add its class counts to the state.

    Each file is closed after writing, so the window is on disk before the
    progress file says it is done.
    """
    valid = ~probs.isnan().any(0)
    confidence, classes = probs.nan_to_num(0).max(0)
    classes = torch.where(valid, classes, writers.CLASS_NODATA).numpy().astype(np.uint8)
    confidence = torch.where(valid, confidence, torch.nan).numpy()
    with rasterio.open(work['classes'], 'r+') as dst:
        dst.write(classes, 1, window=w.cells)
    with rasterio.open(work['confidence'], 'r+') as dst:
        dst.write(confidence, 1, window=w.cells)
    if 'probabilities' in work:
        with rasterio.open(work['probabilities'], 'r+') as dst:
            dst.write(probs.numpy(), window=w.cells)
    k = len(state['class_cells'])
    counts = np.bincount(classes[valid.numpy()], minlength=k)
    state['class_cells'] = [
        a + int(b) for a, b in zip(state['class_cells'], counts, strict=True)
    ]
    areas = writers.cell_areas_km2(
        crs, transform, int(w.cells.row_off), classes.shape[0]
    )
    if areas is None or state['class_km2'] is None:
        state['class_km2'] = None
        return
    per_cell = np.broadcast_to(areas[:, None], classes.shape)[valid.numpy()]
    km2 = np.bincount(classes[valid.numpy()], weights=per_cell, minlength=k)
    state['class_km2'] = [
        a + float(b) for a, b in zip(state['class_km2'], km2, strict=True)
    ]


def _finish(
    paths: OutputPaths,
    work: dict[str, Path],
    class_names: Sequence[str],
    options: PredictOptions,
) -> dict[str, str]:
    """Convert the working rasters to COGs under temporary names, then rename all."""
    finals = {
        'classes': paths.classes,
        'confidence': paths.confidence,
        'probabilities': paths.probabilities,
    }
    ready = {}
    for name, source in work.items():
        tmp = paths.partial / f'{name}.cog.tif'
        writers.to_cog(source, tmp, 'NEAREST' if name == 'classes' else 'AVERAGE')
        ready[name] = tmp
    for name, tmp in ready.items():
        os.replace(tmp, finals[name])
    writers.write_qml(paths.style, class_names)
    outputs = {name: str(finals[name]) for name in ready}
    outputs['style'] = str(paths.style)
    if options.polygons:
        writers.write_polygons(
            paths.polygons, paths.classes, paths.confidence, class_names
        )
        outputs['polygons'] = str(paths.polygons)
    outputs['summary'] = str(paths.summary)
    return outputs
