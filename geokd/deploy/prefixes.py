"""Output prefixes of the scenes of one ``geokd predict`` call, all distinct.

Standard library only: prefixes are decided, and clashes refused, before torch or
the model are loaded. Scenes with the same name in different folders
(``2020/scene.tif``, ``2021/scene.tif``) get prefixes in subfolders named after
what tells them apart (``OUT/2020/scene``, ``OUT/2021/scene``), never one prefix
for both.
"""

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from .options import PredictError
from .outputs import OutputPaths, same_file


def unique_scenes(scenes: Sequence[Path]) -> list[Path]:
    """The scenes without repeats of one file (given twice, or by two globs).

    Args:
        scenes: The scenes, in order.

    Returns:
        The first mention of each file, in order.
    """
    out: list[Path] = []
    for scene in scenes:
        if not any(same_file(scene, seen) for seen in out):
            out.append(scene)
    return out


def output_prefixes(output: str, scenes: Sequence[Path]) -> dict[Path, Path]:
    """The output prefix of each scene.

    One scene with an ``output`` that is not a directory (no trailing separator,
    not an existing directory) gets ``output`` itself; otherwise each scene gets
    ``output/<scene name>``, in a subfolder when names clash.

    Args:
        output: The ``--output`` argument.
        scenes: The scenes, without repeats (:func:`unique_scenes`).

    Returns:
        The prefix of each scene.

    Raises:
        PredictError: If ``output`` is empty, or two scenes' outputs would still
            share a file.
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
        return {scenes[0]: out}
    groups: dict[str, list[Path]] = defaultdict(list)
    for scene in scenes:
        groups[scene.stem.casefold()].append(scene)
    prefixes = {}
    for group in groups.values():
        if len(group) == 1:
            prefixes[group[0]] = out / group[0].stem
            continue
        parents = [os.path.abspath(s.parent) for s in group]
        common = os.path.commonpath(parents)
        names = 'stem' if len({p.casefold() for p in parents}) == len(group) else 'name'
        for scene, parent in zip(group, parents, strict=True):
            name = scene.stem if names == 'stem' else scene.name
            prefixes[scene] = out / os.path.relpath(parent, common) / name
    check_distinct(prefixes)
    return prefixes


def check_distinct(prefixes: dict[Path, Path]) -> None:
    """Refuse prefixes whose files clash (also on a case-insensitive file system).

    Args:
        prefixes: The prefix of each scene.

    Raises:
        PredictError: Naming both scenes.
    """
    owner: dict[str, Path] = {}
    for scene, prefix in prefixes.items():
        for path in OutputPaths(prefix).every_file():
            key = os.path.normpath(os.path.abspath(path)).casefold()
            if key in owner:
                msg = (
                    f'{scene}: its outputs would replace those of {owner[key]} '
                    f'({path}); classify them in separate calls'
                )
                raise PredictError(msg)
            owner[key] = scene
