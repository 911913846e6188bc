"""Classify whole GeoTIFF scenes with a single-sensor classifier, window by window.

A segmenter (``kind: segmenter`` in its ``model.json``) goes through the same steps
with a grid of one-pixel cells and :class:`~.engine.segment.WindowSegmenter`.

:func:`predict_scene` ties the steps together: open the scene and match its bands
(:mod:`.scene`), plan the patch grid and its windows (:mod:`.tiling`), start or
resume the run (:mod:`.run_state`), classify each window (:mod:`.engine`), write it
(:mod:`.outputs`), then finish the outputs and write the summary.
"""

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS
from tqdm.auto import tqdm

import geokd

from ..errors import PredictError
from ..export.classifier import SingleSensorClassifier
from .describe import (
    announce,
    cell_summary,
    tile_unit,
    warn_if_synthetic_model,
)
from .engine.classify import WindowClassifier, prefetch, resolve_device
from .engine.dense import check_dense_stride
from .engine.dense_windows import DenseWindowClassifier, dense_margin
from .engine.segment import WindowSegmenter, segmenter_windows, tile_step
from .engine.tiling import (
    GridWindow,
    PatchGrid,
    dense_windows,
    grid_windows,
    window_size,
)
from .options import PRECISIONS, PredictOptions
from .output import writers
from .output.fingerprint import run_fingerprint
from .output.io_errors import reading, writing
from .output.locks import PrefixLock
from .output.paths import (
    OutputPaths,
    check_not_inputs,
    commit,
    prepare_output_dir,
    refuse_existing,
)
from .output.run_state import (
    RunState,
    check_existing,
    finished_run,
    fresh_state,
    old_outputs,
    start_or_resume,
)
from .output.working import WorkingRasters, class_map, count_classes
from .scene.opening import Scene, open_scene, warn_if_not_georeferenced
from .scene.remote import public
from .scene.sources import SceneInput, scene_input

#: GDAL's block cache defaults to 5% of RAM; a small one keeps memory flat.
GDAL_OPTIONS = {'GDAL_CACHEMAX': 64 * 2**20}
#: Most windows a run plans (a header claiming a huge scene must not exhaust memory).
MAX_WINDOWS = 100_000


@dataclass(frozen=True)
class RunPlan:
    """How a scene is classified: its patch grid, its windows and the output grid.

    Attributes:
        grid: The patch grid.
        window_size: Window side in cells (also the working rasters' tile size).
        windows: The windows, in processing order.
        crs: CRS of the outputs.
        transform: Transform of the output grid (one cell per stride).
        key: Everything that changes the windows or their contents: a resumed run
            must match it.
    """

    grid: PatchGrid
    window_size: int
    windows: list[GridWindow]
    crs: CRS | None
    transform: Affine
    key: dict[str, Any]

    @property
    def profile(self) -> dict[str, Any]:
        """``crs``, ``transform``, ``width`` and ``height`` of the output grid."""
        rows, cols = self.grid.shape
        return {
            'crs': self.crs,
            'transform': self.transform,
            'width': cols,
            'height': rows,
        }

    def patches(self, start: int = 0) -> int:
        """Number of patches the windows from ``start`` on classify."""
        return sum(w.num_patches for w in self.windows[start:])


def plan_run(
    scene: Scene,
    patch: int,
    stride: int,
    options: PredictOptions,
    precision: str,
    kind: str = 'classifier',
) -> RunPlan:
    """Plan the classification of a scene.

    Args:
        scene: The opened scene.
        patch: Patch size in pixels (a segmenter's tile).
        stride: Stride in pixels (1 for a segmenter: a cell per pixel).
        options: Prediction options.
        precision: The precision the forward passes run in ('auto' resolved): a
            resumed run must not change it.
        kind: The model's kind, 'classifier' or 'segmenter'.

    Returns:
        The plan.

    Raises:
        PredictError: If the stride does not divide the patch size, or the scene
            needs more than :data:`MAX_WINDOWS` windows.
    """
    grid = scene.patch_grid(patch, stride)
    rows, cols = grid.shape
    # Tiles of the working rasters: no larger than the grid (in multiples of 16).
    size = min(
        window_size(patch, stride, scene.block, options.window),
        -(-max(rows, cols) // 16) * 16,
    )
    if (count := -(-rows // size) * -(-cols // size)) > MAX_WINDOWS:
        msg = (
            f'{scene.source}: {scene.height} x {scene.width} pixels make {count} '
            f'windows, more than {MAX_WINDOWS} (use a larger --window or --stride)'
        )
        raise PredictError(msg)
    segmenter = kind == 'segmenter'
    key = {
        'patch': patch,
        # A segmenter's tiles are half a tile apart; its cells are pixels.
        'stride': tile_step(patch) if segmenter else stride,
        'bands': scene.indexes,
        'window': size,
        'min_valid': options.min_valid,
        'probabilities': options.probabilities,
        'precision': precision,
        'evaluation': 'segmenter' if segmenter else options.evaluation,
    }
    if not segmenter:
        # A classifier's edge cells take a patch or box shifted inward (a run begun
        # by a geokd that left them nodata is not resumed into one that does not).
        key['edges'] = 'inward'
    transform = scene.transform @ Affine.scale(stride)
    if segmenter:
        windows = list(segmenter_windows(grid, size))
    elif options.evaluation == 'dense':
        try:
            check_dense_stride(stride, patch)
        except ValueError as err:
            raise PredictError(f'--evaluation dense: {err}') from err
        windows = list(dense_windows(grid, size, dense_margin(patch, stride)))
    else:
        windows = list(grid_windows(grid, size))
    return RunPlan(grid, size, windows, scene.crs, transform, key)


def refuse_mixed_precision(
    paths: OutputPaths,
    run_id: str,
    options: PredictOptions,
    scene: SceneInput,
    classifier: SingleSensorClassifier,
    plan: RunPlan,
) -> None:
    """Refuse to resume a run begun in another precision.

    Its windows would be classified in two precisions, whose class maps differ in
    a few cells. ``--precision auto`` resolves by device and CPU, so the same
    command can mean another precision on another machine.

    Args:
        paths: The outputs.
        run_id: This run's fingerprint.
        options: Prediction options.
        scene: The scene.
        classifier: The classifier.
        plan: This run's plan, its resolved precision in ``key``.

    Raises:
        PredictError: If ``--resume`` finds a partial run that differs from this one
            only by its precision.
    """
    if not (options.resume and paths.progress.is_file()):
        return
    state = RunState.load(paths.progress)
    if state is None or state.fingerprint == run_id:
        return
    for other in PRECISIONS:
        if other in ('auto', plan.key['precision']):
            continue
        key = {**plan.key, 'precision': other}
        if state.fingerprint == run_fingerprint(scene, classifier, key):
            msg = (
                f'{paths.partial}: begun in precision {other}, this run would finish '
                f'it in {plan.key["precision"]}; resume with --precision {other}, or '
                'run without --resume to start over'
            )
            raise PredictError(msg)


def predict_scene(
    classifier: SingleSensorClassifier,
    scene: str | Path | SceneInput,
    prefix: str | Path,
    options: PredictOptions | None = None,
) -> dict[str, Any]:
    """Classify a whole scene on the patch grid and write the outputs.

    Args:
        classifier: The single-sensor classifier.
        scene: GeoTIFF (or any raster GDAL reads) of the model's sensor, a directory
            of single-band files named by band code, or a :class:`SceneInput`. It is
            read at the model's ground sample distance (see :mod:`.resampling`).
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
    options.check()
    options.check_for(classifier.metadata.kind, tile_unit(classifier.metadata))
    # Resolved here, once; every later step reads this scene input.
    scene = scene if isinstance(scene, SceneInput) else scene_input(scene)
    paths = OutputPaths(Path(prefix))
    meta = classifier.metadata
    check_not_inputs(paths, scene.files)
    prepare_output_dir(paths)
    device = resolve_device(options.device)
    start_time = time.perf_counter()
    patch = meta.patch_size if options.patch_size is None else options.patch_size
    with (
        PrefixLock(paths.prefix),
        rasterio.Env(**GDAL_OPTIONS),
        open_scene(
            scene, meta.band_names, meta.in_channels, options.bands, meta.gsd
        ) as source,
    ):
        check_existing(paths, options)
        # Warned even with --quiet: outputs without georeferencing are a real surprise.
        warn_if_not_georeferenced(source, stacklevel=2)
        warn_if_synthetic_model(classifier, source, stacklevel=2)
        stride = patch if options.stride is None else options.stride
        if meta.kind == 'segmenter':
            stride = 1  # one class per pixel
        precision = options.resolved_precision(device.type)
        plan = plan_run(source, patch, stride, options, precision, meta.kind)
        if not options.quiet:
            print(announce(source, plan.grid, meta.kind))
        run_id = run_fingerprint(scene, classifier, plan.key)
        if (finished := finished_run(paths, run_id, options)) is not None:
            return finished
        refuse_mixed_precision(paths, run_id, options, scene, classifier, plan)
        windows = len(plan.windows)
        state = start_or_resume(paths, run_id, options, meta.num_classes, windows)
        if state.staged:  # stopped while moving the outputs in
            commit(paths, state.staged, state.remove)
            summary: dict[str, Any] = json.loads(paths.summary.read_text())
            return summary
        work = _working_rasters(source, classifier, plan, paths, state, options)
        evaluate = {'segmenter': WindowSegmenter, 'dense': DenseWindowClassifier}.get(
            plan.key['evaluation'], WindowClassifier
        )
        engine = evaluate(classifier, plan.grid, options, device, source.nodata)
        done = plan.patches() - plan.patches(state.completed)
        classified = _classify_windows(
            source, engine, plan, work, state, paths, options
        )
        _check_classified(scene, plan, state, paths, options)
        summary = _summary(source, classifier, plan, state, options, device)
        summary |= {'patches_classified_this_run': classified, 'resumed': done > 0}
        staged = _stage(work, paths, state, meta.class_names, options)
    seconds = time.perf_counter() - start_time
    summary |= {
        'outputs': {n: str(p) for n, p in paths.written(options).items()},
        'geokd_version': geokd.__version__,
        'fingerprint': run_id,
        'seconds': round(seconds, 3),
        'patches_per_second': round((plan.patches() - done) / seconds, 2),
    }
    _commit(paths, state, staged, summary, options)
    return summary


def _working_rasters(
    source: Scene,
    classifier: SingleSensorClassifier,
    plan: RunPlan,
    paths: OutputPaths,
    state: RunState,
    options: PredictOptions,
) -> WorkingRasters:
    """The run's working rasters: created afresh, or checked when resuming.

    A resumed run whose rasters are damaged (a full disk or a crash while they were
    written) starts over, saying so.
    """
    meta = classifier.metadata
    work = WorkingRasters(paths.partial, options.probabilities, meta.num_classes)
    if state.completed:
        damage = work.damage(
            plan.profile, plan.window_size, plan.windows[: state.completed]
        )
        if damage is None:
            return work
        if not options.quiet:
            print(f'{paths.partial}: {damage}; starting over')
        fresh = fresh_state(paths, state.fingerprint, meta.num_classes)
        state.completed, state.tally = fresh.completed, fresh.tally
    work.create(
        plan.profile,
        plan.window_size,
        meta.class_names,
        meta.modality,
        source.path,
        plan.key['evaluation'],
    )
    return work


def _stage(
    work: WorkingRasters,
    paths: OutputPaths,
    state: RunState,
    class_names: Sequence[str],
    options: PredictOptions,
) -> list[str]:
    """Write the outputs in the partial directory and check the class map's counts.

    Returns:
        The names of the outputs staged, without the summary.

    Raises:
        PredictError: If the class map does not hold the cells the progress counted
            (the working rasters were changed by something else).
    """
    names = work.stage(paths, class_names, options.polygons)
    counted = count_classes(paths.staged('classes'), len(class_names))
    if counted != state.tally.cells:
        msg = (
            f'{paths.partial}: the class map does not hold the cells counted while '
            'classifying (changed by another program?); run again without --resume'
        )
        raise PredictError(msg)
    return names


def _commit(
    paths: OutputPaths,
    state: RunState,
    staged: list[str],
    summary: dict[str, Any],
    options: PredictOptions,
) -> None:
    """Stage the summary, record the staging, then move every output in."""
    with writing(paths.staged('summary')):
        writers.write_json(paths.staged('summary'), summary)
    if not options.overwrite:  # files may have appeared while the run worked
        refuse_existing(paths)
    state.staged = [*staged, 'summary']
    state.remove = old_outputs(paths, options) if options.overwrite else []
    state.save(paths.progress)
    commit(paths, state.staged, state.remove)


def _classify_windows(
    scene: Scene,
    engine: WindowClassifier,
    plan: RunPlan,
    work: WorkingRasters,
    state: RunState,
    paths: OutputPaths,
    options: PredictOptions,
) -> int:
    """Classify and write the windows not done yet, saving the progress after each.

    Returns:
        The number of patches classified.
    """
    total, todo = plan.patches(), plan.windows[state.completed :]
    bar = tqdm(
        total=total,
        initial=total - plan.patches(state.completed),
        unit='patch',
        disable=options.quiet,
        desc=scene.source.name,
        dynamic_ncols=True,
    )
    classified = 0
    with bar:
        for w, pixels in prefetch(reading(scene.path, scene.read), todo):
            probs, n = engine.probabilities(pixels, w)
            classified += n
            classes, confidence, valid = class_map(probs, work.dtype, work.nodata)
            work.write_window(w, classes, confidence, probs)
            row = int(w.cells.row_off)
            state.tally.add(classes, valid, plan.crs, plan.transform, row)
            state.completed = w.index + 1
            state.save(paths.progress)
            bar.update(w.num_patches)
    return classified


def _check_classified(
    scene: SceneInput,
    plan: RunPlan,
    state: RunState,
    paths: OutputPaths,
    options: PredictOptions,
) -> None:
    """Refuse, and remove the run, when no cell got a class."""
    if sum(state.tally.cells):
        return
    shutil.rmtree(paths.partial, ignore_errors=True)
    grid = plan.grid
    if grid.height < grid.patch_size or grid.width < grid.patch_size:
        msg = (
            f'{scene}: smaller than one patch ({grid.height} x {grid.width} < '
            f'{grid.patch_size}) and under --min-valid {options.min_valid}; '
            'nothing written'
        )
    else:
        msg = (
            f'{scene}: no patch has {options.min_valid:.0%} valid pixels '
            '(all nodata?); nothing written'
        )
    raise PredictError(msg)


def _summary(
    scene: Scene,
    classifier: SingleSensorClassifier,
    plan: RunPlan,
    state: RunState,
    options: PredictOptions,
    device: torch.device,
) -> dict[str, Any]:
    """The summary of a scene's class map (without the run's outputs and timing)."""
    meta = classifier.metadata
    rows, cols = plan.grid.shape
    return {
        'input': public(scene.source.path),
        'model': {
            'kind': meta.kind,
            'modality': meta.modality,
            'backbone': meta.backbone,
            'source': meta.source,
            'geokd_version': meta.geokd_version,
            'provenance': meta.provenance,
        },
        'bands': [asdict(m) for m in scene.matches],
        'read': scene.reading(),
        'options': {
            **plan.key,
            'batch_size': options.batch_size,
            'device': str(device),
            'precision': options.resolved_precision(device.type),
        },
        'crs': plan.crs.to_string() if plan.crs else None,
        'grid': {
            'rows': rows,
            'cols': cols,
            'cell_size_pixels': plan.grid.stride,
            'transform': list(plan.transform)[:6],
            **cell_summary(scene, plan.grid, meta.kind),
        },
        'classes': state.tally.per_class(meta.class_names),
        'nodata_cells': rows * cols - sum(state.tally.cells),
        'patches': plan.patches(),
    }
