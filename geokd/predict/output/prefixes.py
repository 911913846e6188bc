"""Output prefixes of the scenes of one ``geokd predict`` call, all distinct.

Standard library only: prefixes are decided, and clashes refused, before torch or
the model are loaded. Scenes with the same name in different folders
(``2020/scene.tif``, ``2021/scene.tif``) get prefixes in subfolders named after
what tells them apart (``OUT/2020/scene``, ``OUT/2021/scene``), never one prefix
for both. Every prefix stays inside the output directory, whatever a scene's name
(a STAC item's id is the remote server's choice).

A scene is given by its path, or as a :class:`~.sources.SceneInput` (band files,
URLs, STAC items), known by its :attr:`~.sources.SceneInput.key`.
"""

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ...errors import PredictError
from ..scene.sources import SceneInput
from .paths import OutputPaths, file_keys

#: What a scene of one call is known by: its path, or a SceneInput's key.
type SceneKey = Path | str


def scene_key(scene: Path | SceneInput) -> SceneKey:
    """The key of a scene in :func:`output_prefixes`' answer.

    Args:
        scene: A scene path or input.

    Returns:
        The path, or the input's :attr:`~.sources.SceneInput.key`.
    """
    return scene.key if isinstance(scene, SceneInput) else scene


def unique_scenes[S: Path | SceneInput](scenes: Sequence[S]) -> list[S]:
    """The scenes without repeats of one file (given twice, or by two globs).

    Args:
        scenes: The scenes, in order.

    Returns:
        The first mention of each file, in order.
    """
    out: list[S] = []
    seen: set[object] = set()
    for scene in scenes:
        keys: list[object] = (
            file_keys(scene) if isinstance(scene, Path) else [('key', scene.key)]
        )
        band_files = _band_files(scene)
        if band_files:
            keys.append(band_files)
        if not seen.intersection(keys):
            out.append(scene)
        seen.update(keys)
    return out


def _band_files(scene: Path | SceneInput) -> frozenset[object] | None:
    """The local band files a scene reads, as one key; None for other scenes.

    A folder and ``--band-file`` naming the same files are one scene: classified
    twice, under two prefixes, its outputs would differ only in name.
    """
    from ..scene.sources import scene_input

    if isinstance(scene, Path):
        if not scene.is_dir():
            return None
        try:
            scene = scene_input(scene)
        except PredictError:
            return None  # its own error is reported when it is classified
    files = [f for _, f in scene.band_files]
    if not files or not all(isinstance(f, Path) for f in files):
        return None
    return frozenset(file_keys(f)[-1] for f in files)


def _names(scene: Path | SceneInput) -> tuple[str, str, str]:
    """Stem, absolute folder and name of a scene, as its prefix is made of."""
    if isinstance(scene, SceneInput):
        return scene.name, scene.folder, scene.name
    named = Path(os.path.abspath(scene))  # '.' and '..' are named by the folder
    return named.stem, os.path.abspath(named.parent), named.name


def output_prefixes(
    output: str, scenes: Sequence[Path | SceneInput]
) -> dict[SceneKey, Path]:
    """The output prefix of each scene.

    One scene with an ``output`` that is not a directory (no trailing separator,
    not an existing directory) gets ``output`` itself; otherwise each scene gets
    ``output/<scene name>``, in a subfolder when names clash.

    Args:
        output: The ``--output`` argument.
        scenes: The scenes, without repeats (:func:`unique_scenes`).

    Returns:
        The prefix of each scene, by its key (:func:`scene_key`).

    Raises:
        PredictError: If ``output`` is empty, a prefix would leave the output
            directory, or two scenes' outputs would still share a file.
    """
    if not output:
        msg = "--output '': give an output directory or prefix"
        raise PredictError(msg)
    out = Path(output)
    directory = output.endswith(('/', os.sep)) or out.is_dir()
    if len(scenes) == 1 and not directory:
        if out.name in ('', '.', '..'):
            msg = f'--output {output}: not a file prefix (end it with / for a folder)'
            raise PredictError(msg)
        return {scene_key(scenes[0]): out}
    groups: dict[str, list[tuple[SceneKey, tuple[str, str, str]]]] = defaultdict(list)
    for scene in scenes:
        names = _names(scene)
        groups[names[0].casefold()].append((scene_key(scene), names))
    prefixes = {}
    for group in groups.values():
        if len(group) == 1:
            key, (stem, _, _) = group[0]
            prefixes[key] = out / stem
            continue
        parents = [folder for _, (_, folder, _) in group]
        common = os.path.commonpath(parents)
        by = 0 if len({p.casefold() for p in parents}) == len(group) else 2
        for (key, names), parent in zip(group, parents, strict=True):
            prefixes[key] = out / os.path.relpath(parent, common) / names[by]
    _check_inside(out, prefixes)
    check_distinct(prefixes)
    return prefixes


def _check_inside(out: Path, prefixes: dict[SceneKey, Path]) -> None:
    """Refuse a prefix whose files would leave the output directory.

    Outputs are ``PREFIX_classes.tif`` ...: a prefix named ``..`` stays inside.
    """
    root = os.path.abspath(out)
    for scene, prefix in prefixes.items():
        folder = os.path.abspath(prefix.parent)
        if os.path.commonpath([root, folder]) != root:
            msg = (
                f'{scene}: its name {prefix.name!r} would place outputs outside '
                f'{out} (rename the scene)'
            )
            raise PredictError(msg)


def check_distinct(prefixes: dict[SceneKey, Path]) -> None:
    """Refuse prefixes whose files clash (also on a case-insensitive file system).

    Args:
        prefixes: The prefix of each scene.

    Raises:
        PredictError: Naming both scenes.
    """
    owner: dict[str, SceneKey] = {}
    for scene, prefix in prefixes.items():
        for path in OutputPaths(prefix).own_files():
            key = os.path.normpath(os.path.abspath(path)).casefold()
            if key in owner:
                msg = (
                    f'{scene}: its outputs would replace those of {owner[key]} '
                    f'({path}); classify them in separate calls'
                )
                raise PredictError(msg)
            owner[key] = scene
