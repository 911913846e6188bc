import os
from pathlib import Path

import pytest

from geokd.predict import PredictError
from geokd.predict.output.prefixes import check_distinct, output_prefixes, unique_scenes


def test_one_scene_takes_a_file_prefix_or_a_folder(tmp_path: Path) -> None:
    scene = Path('a/s.tif')
    assert output_prefixes('out/x', [scene]) == {scene: Path('out/x')}
    assert output_prefixes('out/', [scene]) == {scene: Path('out/s')}
    assert output_prefixes(str(tmp_path), [scene]) == {scene: tmp_path / 's'}
    with pytest.raises(PredictError, match="--output ''"):
        output_prefixes('', [scene])


def test_same_names_get_subfolders(tmp_path: Path) -> None:
    scenes = [Path('2020/s.tif'), Path('2021/s.tif'), Path('2021/t.tif')]
    assert output_prefixes('out', scenes) == {
        scenes[0]: Path('out/2020/s'),
        scenes[1]: Path('out/2021/s'),
        scenes[2]: Path('out/t'),
    }
    nested = [Path('s.tif'), Path('deep/er/S.TIF')]  # a case-insensitive clash too
    assert output_prefixes('out', nested) == {
        nested[0]: Path('out/s'),
        nested[1]: Path('out/deep/er/S'),
    }
    same_folder = [Path('d/s.tif'), Path('d/s.vrt')]
    assert set(output_prefixes('out', same_folder).values()) == {
        Path('out/s.tif'),
        Path('out/s.vrt'),
    }


def test_clashes_left_are_refused() -> None:
    with pytest.raises(PredictError, match=r'b\.tif: its outputs would replace those'):
        check_distinct({Path('a.tif'): Path('out/s'), Path('b.tif'): Path('out/S')})
    with pytest.raises(PredictError, match='would replace'):
        output_prefixes('out', [Path('d/S.tif'), Path('d/s.tif')])


def test_repeats_of_one_file_are_dropped(tmp_path: Path) -> None:
    (tmp_path / 'a.tif').write_text('x')
    os.link(tmp_path / 'a.tif', tmp_path / 'hard.tif')
    scenes = [tmp_path / 'a.tif', tmp_path / 'x' / '..' / 'a.tif', tmp_path / 'hard.tif',
              Path(os.path.relpath(tmp_path / 'a.tif')), tmp_path / 'missing.tif']  # fmt: skip
    assert unique_scenes(scenes) == [tmp_path / 'a.tif', tmp_path / 'missing.tif']
