from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from geokd.datasets import So2SatMSSAR

FIXTURE = Path(__file__).parents[1] / 'data' / 'so2sat'


def test_splits_into_sar_and_ms() -> None:
    ds = So2SatMSSAR(FIXTURE, split='train')
    assert len(ds) == 17
    assert len(ds.classes) == 17
    sample = ds[5]
    assert sample['image_sar'].shape == (8, 8, 8)
    assert sample['image_ms'].shape == (10, 8, 8)
    assert int(sample['label']) == 5
    # The fixture writes the class index into Sentinel-1 channel 0.
    assert torch.all(sample['image_sar'][0] == 5)
    with h5py.File(FIXTURE / 'training.h5') as f:
        expected = torch.from_numpy(np.moveaxis(f['sen2'][5], 2, 0).astype(np.float32))
    torch.testing.assert_close(sample['image_ms'], expected)
    assert len(So2SatMSSAR(FIXTURE, split='val')) == 8
    assert len(So2SatMSSAR(FIXTURE, split='test')) == 8


def test_band_selection_per_sensor() -> None:
    ds = So2SatMSSAR(
        FIXTURE, split='test', bands={'sar': ['S1_B1'], 'ms': ['S2_B04', 'S2_B03']}
    )
    full = So2SatMSSAR(FIXTURE, split='test')
    assert torch.equal(ds[1]['image_sar'], full[1]['image_sar'][[0]])
    assert torch.equal(ds[1]['image_ms'], full[1]['image_ms'][[2, 1]])
    with pytest.raises(ValueError, match='sar bands'):
        So2SatMSSAR(FIXTURE, bands={'sar': ['S2_B04']})


def test_version3_holds_out_a_stratified_validation_split() -> None:
    kwargs = {'version': '3_random', 'val_fraction': 0.5, 'split_seed': 1}
    train = So2SatMSSAR(FIXTURE, split='train', **kwargs)  # type: ignore[arg-type]
    val = So2SatMSSAR(FIXTURE, split='val', **kwargs)  # type: ignore[arg-type]
    assert len(train) == len(val) == 17
    assert sorted(train.targets) == sorted(val.targets) == list(range(17))
    assert not set(train.indices) & set(val.indices)
    other = So2SatMSSAR(FIXTURE, split='val', version='3_random', val_fraction=0.5)
    assert other.indices != val.indices
    assert len(So2SatMSSAR(FIXTURE, split='test', version='3_random')) == 8


def test_nan_is_an_error_naming_file_and_sample(tmp_path: Path) -> None:
    with (
        h5py.File(FIXTURE / 'validation.h5') as src,
        h5py.File(tmp_path / 'validation.h5', 'w') as dst,
    ):
        for key in src:
            data = src[key][()]
            if key == 'sen2':
                data[3, 0, 0, 0] = np.nan
            dst.create_dataset(key, data=data)
    ds = So2SatMSSAR(tmp_path, split='val')
    assert torch.isfinite(ds[2]['image_ms']).all()
    with pytest.raises(ValueError, match=r'validation.h5 \(sample 3\): 1 NaN'):
        ds[3]
    filled = So2SatMSSAR(tmp_path, split='val', invalid='fill')
    assert filled[3]['image_ms'][0, 0, 0] == 0
