from pathlib import Path
from typing import Any

import pytest
import torch

import geokd.datasets.packed as packed_module
from geokd.datasets import PackedDataset, SyntheticMSSAR, pack


def test_packed_split_matches_source(tmp_path: Path) -> None:
    source = SyntheticMSSAR(split='val', samples_per_class=10, size=8)
    directory = str(tmp_path / 'val')
    pack(source, ['ms', 'sar'], directory)
    packed = PackedDataset(directory)
    assert len(packed) == len(source)
    for i in (0, len(source) - 1):
        a, b = source[i], packed[i]
        for key in ('image_ms', 'image_sar', 'label'):
            torch.testing.assert_close(b[key], a[key].to(b[key].dtype))
    assert not list(tmp_path.glob('val.partial*'))
    # A second call finds the packed split and leaves it alone.
    mtime = (tmp_path / 'val' / 'ms.npy').stat().st_mtime_ns
    pack(source, ['ms', 'sar'], directory)
    assert (tmp_path / 'val' / 'ms.npy').stat().st_mtime_ns == mtime


def test_pack_leaves_another_jobs_build_alone(tmp_path: Path) -> None:
    # Two jobs sharing a cache: one is still writing while the other packs.
    source = SyntheticMSSAR(split='val', samples_per_class=20, size=8)
    other = tmp_path / 'val.partial'
    other.mkdir()
    (other / 'ms.npy').write_bytes(b'half written')
    pack(source, ['ms', 'sar'], str(tmp_path / 'val'))
    assert (other / 'ms.npy').read_bytes() == b'half written'
    assert len(PackedDataset(str(tmp_path / 'val'))) == len(source)


def test_pack_keeps_a_copy_finished_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other job renames its complete copy while this one writes: ours is dropped.
    source = SyntheticMSSAR(split='val', samples_per_class=20, size=8)
    directory = tmp_path / 'val'
    write = packed_module._write

    other = SyntheticMSSAR(split='val', samples_per_class=10, size=8)

    def write_then_other_finishes(*args: Any) -> None:
        write(*args)
        monkeypatch.setattr(packed_module, '_write', write)
        pack(other, ['ms'], str(directory))

    monkeypatch.setattr(packed_module, '_write', write_then_other_finishes)
    pack(source, ['ms', 'sar'], str(directory))
    assert len(PackedDataset(str(directory))) == len(other) != len(source)
    assert [p.name for p in tmp_path.iterdir()] == ['val']
