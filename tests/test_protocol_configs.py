"""The OMBRIA benchmark files: they load, and the paper-like protocol runs on the fixture."""

from pathlib import Path

import pytest

from geokd.benchmark_file import load_benchmark
from geokd.cli import build_cli
from geokd.main import main

ROOT = Path(__file__).parents[1]
DATA = ROOT / 'tests' / 'data' / 'ombria'
PARTS = sorted((ROOT / 'configs' / 'benchmark').glob('ombria_paper_part*.yaml'))


def test_paper_protocol_parts_cover_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    benches = [load_benchmark(p) for p in PARTS]
    names = [m.name for b in benches for m in b.methods]
    assert sorted(names) == sorted([
        'DisCoM-KD', 'SAR-only', 'S2-only', 'KD from the S2 teacher',
        'Multi-modal teacher', 'DisCoM-KD without L_adv', 'DisCoM-KD without L_mod',
        'DisCoM-KD without L_aux', 'DisCoM-KD without L_perp',
    ])  # fmt: skip
    # Parts do not share run folders (a run of one would be retrained by another).
    assert len({b.output_dir for b in benches}) == len(benches)
    for b in benches:
        assert b.seeds == [0, 1, 2, 3, 4]
        assert '--model.init_args.lr=0.0001' in b.args
    precision = load_benchmark(ROOT / 'configs/benchmark/ombria_cpu_precision.yaml')
    assert [m.name for m in precision.methods] == ['DisCoM-KD, fp32', 'DisCoM-KD, bf16']


@pytest.mark.parametrize('held_out', [0, 4])
def test_paper_protocol_on_held_out_events_is_part1_but_for_the_split(
    held_out: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    bench = load_benchmark(
        ROOT / f'configs/benchmark/ombria_paper_heldout{held_out}.yaml'
    )
    part1 = load_benchmark(ROOT / 'configs/benchmark/ombria_paper_part1.yaml')
    assert bench.base_configs == part1.base_configs
    assert bench.args == [*part1.args, f'--data.init_args.leave_out_block={held_out}']
    assert [(m.name, m.configs) for m in bench.methods] == [
        (m.name, m.configs) for m in part1.methods
    ]
    assert bench.output_dir not in {load_benchmark(p).output_dir for p in PARTS}


@pytest.mark.parametrize('base', ['ombria_paper', 'ombria_paper_paired'])
def test_paper_protocol_base_runs_on_the_fixture(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    method = 'discomkd' if base == 'ombria_paper' else 'multimodal_teacher'
    main([
        'fit', '--config', f'configs/baselines/{base}.yaml',
        '--config', f'configs/baselines/ombria/{method}.yaml',
        f'--data.init_args.root={DATA}', '--data.init_args.download=false',
        '--data.init_args.cache_dir', 'null', '--data.init_args.batch_size', '4',
        '--trainer.fast_dev_run', 'true', '--trainer.logger', 'false',
        '--trainer.default_root_dir', str(tmp_path),
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'test_resnet',
    ])  # fmt: skip


def test_stability_benchmark_compares_the_candidates_on_held_out_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    bench = load_benchmark(ROOT / 'configs/benchmark/ombria_stability.yaml')
    assert [m.name for m in bench.methods] == [
        'DisCoM-KD', 'DisCoM-KD, DANN GRL ramp', 'DisCoM-KD, EMA weights', 'SAR-only',
    ]  # fmt: skip
    assert '--data.init_args.leave_out_block=0' in bench.args


def test_stability_part2_reuses_part1s_reference_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    part1 = load_benchmark(ROOT / 'configs/benchmark/ombria_stability.yaml')
    part2 = load_benchmark(ROOT / 'configs/benchmark/ombria_stability_part2.yaml')
    # Same folder, arguments and reference configs: geokd benchmark reuses those runs.
    assert part2.output_dir == part1.output_dir
    assert part2.args == part1.args
    assert part2.base_configs == part1.base_configs
    reference = {m.name: m.configs for m in part1.methods}
    for m in part2.methods:
        if m.name in reference:
            assert m.configs == reference[m.name]
    assert len(part2.methods) == 7


@pytest.mark.parametrize(
    ('losses', 'reference'),
    [
        ('ombria_stability_losses_range0.yaml', 'ombria_stability.yaml'),
        ('ombria_stability_losses_range4.yaml', 'ombria_stability_range4.yaml'),
    ],
)
def test_stability_loss_ablations_reuse_the_reference_runs_of_their_range(
    losses: str, reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    ablations = load_benchmark(ROOT / 'configs/benchmark' / losses)
    earlier = load_benchmark(ROOT / 'configs/benchmark' / reference)
    # Same folder, arguments and configs: DisCoM-KD and SAR-only are not retrained.
    assert ablations.output_dir == earlier.output_dir
    assert ablations.args == earlier.args
    assert ablations.base_configs == earlier.base_configs
    runs = {m.name: m.configs for m in earlier.methods}
    assert {m.name: m.configs for m in ablations.methods if m.name in runs} == {
        name: runs[name] for name in ('DisCoM-KD', 'SAR-only')
    }
    ablated = {m.configs[0].rsplit('/', 1)[-1] for m in ablations.methods}
    for loss in ('adv', 'mod', 'perp', 'aux'):
        assert f'discomkd_no_{loss}.yaml' in ablated


@pytest.mark.parametrize('held_out', ['0', '4', '_test'])
def test_stability_part5_validates_on_two_new_ranges_on_the_fixture(
    held_out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    bench = load_benchmark(
        ROOT / f'configs/benchmark/ombria_stability_val_ranges{held_out}.yaml'
    )
    leave_out = [a for a in bench.args if a.startswith('--data.init_args.leave_out')]
    # The published test split ('_test') holds no training range out as test.
    expected = (
        [] if held_out == '_test' else [f'--data.init_args.leave_out_block={held_out}']
    )
    assert leave_out == expected
    [method] = [m for m in bench.methods if m.name == 'DisCoM-KD']
    args = [
        *[a for c in [*bench.base_configs, *method.configs] for a in ('--config', c)],
        *bench.args,
        f'--data.init_args.root={DATA}', '--data.init_args.download=false',
        '--data.init_args.cache_dir', 'null', '--data.init_args.batch_size', '4',
        '--trainer.logger', 'false', '--trainer.default_root_dir', str(tmp_path),
    ]  # fmt: skip
    datamodule = build_cli(args, run=False).datamodule
    assert datamodule.kwargs['val_block'] == [2, 6]
    main(['fit', *args, '--trainer.fast_dev_run', 'true'])


@pytest.mark.parametrize(
    'method',
    [
        'discomkd_adv_weak',
        'discomkd_lr_low',
        'discomkd_unpaired',
        'discomkd_val_events',
        'single_modal_sar_val_events',
    ],
)
def test_stability_part2_candidates_run_on_the_fixture(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    main([
        'fit', '--config', 'configs/baselines/ombria.yaml',
        '--config', f'configs/baselines/ombria/{method}.yaml',
        f'--data.init_args.root={DATA}', '--data.init_args.download=false',
        '--data.init_args.cache_dir', 'null', '--data.init_args.batch_size', '4',
        '--data.init_args.leave_out_block', '0',
        '--trainer.fast_dev_run', 'true', '--trainer.logger', 'false',
        '--trainer.default_root_dir', str(tmp_path),
        '--trainer.enable_progress_bar', 'false',
        '--model.init_args.backbone', 'test_resnet',
    ])  # fmt: skip
