from pathlib import Path

import pytest
import yaml

from geokd.datamodules import PairedFolderDataModule
from geokd.main import main

ROOT = Path(__file__).parents[1]


def test_stats_writes_the_training_normalization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / 'stats.yaml'
    main([
        'stats', '--config', 'configs/tristar.yaml', '--output', str(out),
        '--data.init_args.root', 'tests/data/paired_folder/tristar',
        '--data.init_args.norm_method', 'percentile',
        '--data.init_args.num_workers', '0',
    ])  # fmt: skip
    printed = capsys.readouterr().out
    snippet = yaml.safe_load(out.read_text())
    assert yaml.safe_load(printed) == snippet
    normalization = snippet['data']['init_args']['normalization']
    assert set(normalization) == {'depth', 'thermal'}
    assert normalization['thermal']['method'] == 'percentile'
    # The snippet is what the DataModule takes, and matches an estimate on all of
    # the training split.
    kwargs = {
        'root': 'tests/data/paired_folder/tristar',
        'folders': {'depth': 'depth', 'thermal': 'thermal'},
        'manifest': 'manifest.csv',
        'size': 64,
        'norm_method': 'percentile',
    }
    given = PairedFolderDataModule(normalization=normalization, **kwargs)  # type: ignore[arg-type]
    estimated = PairedFolderDataModule(stats_samples=0, **kwargs)  # type: ignore[arg-type]
    estimated.estimate_normalization()
    assert given.normalization == estimated.normalization


def test_stats_needs_a_data_section(tmp_path: Path) -> None:
    config = tmp_path / 'c.yaml'
    config.write_text('trainer: {max_epochs: 1}\n')
    with pytest.raises(SystemExit):
        main(['stats', '--config', str(config)])
