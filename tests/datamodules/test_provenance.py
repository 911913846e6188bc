import ast
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geokd.datamodules import (
    EuroSATMSSARDataModule,
    PairedFolderDataModule,
    SyntheticMSSARDataModule,
    provenance,
)
from geokd.datamodules.provenance import training_provenance

DATA = Path(__file__).parents[1] / 'data'


def test_synthetic_data_is_declared_synthetic_at_10_m() -> None:
    dm = SyntheticMSSARDataModule(samples_per_class=10, size=16)
    assert training_provenance(dm) == {
        'datamodule': 'geokd.datamodules.synthetic.SyntheticMSSARDataModule',
        'dataset': 'geokd.datasets.synthetic.SyntheticMSSAR',
        'synthetic': True,
        'gsd': {'ms': 10.0, 'sar': 10.0},
    }


def test_eurosat_is_real_at_10_m() -> None:
    dm = EuroSATMSSARDataModule(root=str(DATA / 'eurosat_ms_sar'))
    dm.setup('fit')
    state = dm.state_dict()['provenance']
    assert state['synthetic'] is False
    assert state['gsd'] == {'ms': 10.0, 'sar': 10.0}
    assert state['dataset'] == 'geokd.datasets.eurosat_ms_sar.EuroSATMSSAR'


def _folder(root: Path, shape: tuple[int, int]) -> None:
    for modality in ('rgb', 'thermal'):
        for label in ('a', 'b'):
            for i in range(5):
                path = root / modality / label / f'{i}.png'
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.zeros(shape, 'uint8')).save(path)


@pytest.mark.parametrize(
    ('gsd', 'size', 'expected'),
    [
        (None, None, {'rgb': None, 'thermal': None}),
        (2.0, None, {'rgb': 2.0, 'thermal': 2.0}),
        # 64 x 64 files resized to 16 x 16: pixels four times larger.
        (2.0, 16, {'rgb': 8.0, 'thermal': 8.0}),
        ({'rgb': 0.5}, 32, {'rgb': 1.0, 'thermal': None}),
    ],
)
def test_paired_folder_records_the_effective_gsd(
    tmp_path: Path,
    gsd: float | dict[str, float] | None,
    size: int | None,
    expected: dict[str, float | None],
) -> None:
    _folder(tmp_path, (64, 64))
    dm = PairedFolderDataModule(
        str(tmp_path), {'rgb': 'rgb', 'thermal': 'thermal'}, size=size, gsd=gsd
    )
    assert training_provenance(dm)['gsd'] == expected  # before set-up
    dm.setup('fit')
    provenance = training_provenance(dm)
    assert provenance['gsd'] == expected
    assert provenance['synthetic'] is False


def test_packed_splits_keep_the_provenance(tmp_path: Path) -> None:
    _folder(tmp_path / 'data', (32, 32))
    dm = PairedFolderDataModule(
        str(tmp_path / 'data'), {'rgb': 'rgb', 'thermal': 'thermal'}, size=16,
        gsd=10.0, cache_dir=str(tmp_path / 'cache'),
    )  # fmt: skip
    dm.setup('fit')
    assert training_provenance(dm)['gsd'] == {'rgb': 20.0, 'thermal': 20.0}


def test_provenance_imports_no_datamodule() -> None:
    # multimodal.py imports provenance.py: the reverse import would be a cycle.
    tree = ast.parse(Path(provenance.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and 'multimodal' in m for m in imported)
