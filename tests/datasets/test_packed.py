from pathlib import Path

import torch

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
    assert not (tmp_path / 'val.partial').exists()
    # A second call finds the packed split and leaves it alone.
    mtime = (tmp_path / 'val' / 'ms.npy').stat().st_mtime_ns
    pack(source, ['ms', 'sar'], directory)
    assert (tmp_path / 'val' / 'ms.npy').stat().st_mtime_ns == mtime
