"""Training precision 'auto': bfloat16 autocast where the CPU has native bfloat16."""

from pathlib import Path

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.plugins import MixedPrecision

from geokd import precision
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.tasks import DisCoMKDTask, SingleModalTask

from ..trainers import quiet_trainer


def _fit(task: SingleModalTask | DisCoMKDTask, **trainer_args: object) -> Trainer:
    trainer = quiet_trainer(
        accelerator='cpu',
        limit_train_batches=1,
        limit_val_batches=1,
        enable_checkpointing=False,
        **trainer_args,
    )
    data = SyntheticMSSARDataModule(batch_size=4, samples_per_class=10, size=32)
    trainer.fit(task, data)
    return trainer


@pytest.mark.parametrize(
    ('flags', 'expected'),
    [
        ('fpu avx2 avx512f avx512_bf16 sse', 'bf16-mixed'),
        ('fpu amx_bf16 amx_tile', 'bf16-mixed'),
        # avx512f alone emulates bfloat16: slower than float32.
        ('fpu avx2 avx512f avx512bw', '32'),
        ('', '32'),
    ],
)
def test_auto_follows_cpu_flags(
    flags: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the suite's float32 default patches the check itself
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text(f'processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n')
    read = precision.cpu_flags.__wrapped__
    monkeypatch.setattr(precision, 'cpu_flags', lambda: read(cpuinfo))
    assert precision.resolve_train_precision('auto', 'cpu') == expected
    assert precision.resolve_train_precision('auto', 'cuda') == '32'
    assert precision.resolve_train_precision('32', 'cpu') == '32'
    assert precision.resolve_train_precision('bf16-mixed', 'cpu') == 'bf16-mixed'


def test_cpu_flags_absent_file(tmp_path: Path) -> None:
    assert precision.cpu_flags.__wrapped__(tmp_path / 'missing') == frozenset()
    assert 'unknown CPU' in precision.describe_cpu(tmp_path / 'missing')


def test_unknown_precision() -> None:
    with pytest.raises(ValueError, match="'16'"):
        precision.resolve_train_precision('16', 'cpu')


def test_auto_trains_in_bf16_on_native_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    task = DisCoMKDTask(
        {'ms': 13, 'sar': 2}, 10, backbone='test_resnet', precision='auto'
    )
    assert _fit(task).precision == 'bf16-mixed'


def test_default_is_fp32_even_with_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    # bf16 made NaN weights on 16 px patches: float32 unless asked (docs/scaling.md).
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    assert _fit(task).precision == '32-true'


def test_auto_falls_back_to_fp32_without_native_bf16() -> None:
    # The suite's autouse fixture makes the CPU check answer False.
    task = SingleModalTask('sar', 2, 10, backbone='test_resnet', precision='auto')
    assert _fit(task).precision == '32-true'


def test_task_fp32_overrides_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    task = SingleModalTask('sar', 2, 10, backbone='test_resnet', precision='32')
    assert _fit(task).precision == '32-true'


def test_explicit_trainer_precision_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    plugin = MixedPrecision('16-mixed', 'cpu')
    task = SingleModalTask('sar', 2, 10, backbone='test_resnet', precision='auto')
    assert _fit(task, plugins=[plugin]).strategy.precision_plugin is plugin


def test_setup_without_a_trainer_keeps_working() -> None:
    task = SingleModalTask('sar', 2, 10, backbone='test_resnet')
    task.setup('fit')  # no trainer attached: nothing to configure
