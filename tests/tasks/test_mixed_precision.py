"""Every task trains under Lightning's mixed precision (autocast), fp16 and bf16.

On the CPU, ``Trainer(precision='16-mixed')`` falls back to bf16; Lightning's own
``MixedPrecision`` plugin runs fp16 autocast with a gradient scaler on the CPU too, so
the fp16 path a GPU takes (``--trainer.precision 16-mixed``) is exercised here.

Patches are 32 px: at 16 px the tiny trunk's last stride-2 convolution sees a 1x1
map, where PyTorch's CPU bf16 convolution returns non-finite weight gradients (a
kernel bug outside geokd: ``conv2d`` of a (4, 192, 1, 1) bf16 input with a 3x3,
stride 2, padding 1 kernel, alone, gives them in most tries).
"""

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.plugins import MixedPrecision

from geokd.datamodules import SyntheticMSSARDataModule
from geokd.tasks import (
    DisCoMKDTask,
    DistillationTask,
    MultiModalTeacherTask,
    PerClassifierTask,
    SingleModalTask,
)

from ..checkpoints import save_checkpoint
from ..trainers import quiet_trainer

DTYPES = {'16-mixed': torch.float16, 'bf16-mixed': torch.bfloat16}


class AutocastProbe(Callback):
    """Record the dtype of the first Linear layer's output and the training losses."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.dtypes: list[torch.dtype] = []
        self.losses: list[torch.Tensor] = []
        linear = next(m for m in pl_module.modules() if isinstance(m, torch.nn.Linear))
        linear.register_forward_hook(lambda m, i, out: self.dtypes.append(out.dtype))

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.losses.append(outputs['loss'].detach())


def _task(name: str, tmp_path: Path) -> PerClassifierTask:
    match name:
        case 'discomkd':
            return DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
        case 'single_modal':
            return SingleModalTask('sar', 2, 10, backbone='test_resnet')
        case 'teacher':
            return MultiModalTeacherTask({'ms': 13, 'sar': 2}, 10, 'test_resnet')
        case _:  # 'student-<distillation method>'
            teacher = MultiModalTeacherTask({'ms': 13, 'sar': 2}, 10, 'test_resnet')
            path = save_checkpoint(tmp_path / 'teacher.ckpt', teacher)
            method = name.split('-')[1]
            return DistillationTask(
                'sar', 2, 10, path, method=method, backbone='test_resnet'
            )


def _scaler(precision: str) -> torch.amp.GradScaler | None:
    # The default first scale (2**16) overflows in the first steps, which the scaler
    # skips while it calibrates: start lower so that these two steps update weights.
    if precision == '16-mixed':
        return torch.amp.GradScaler('cpu', init_scale=2.0**8)
    return None


@pytest.mark.parametrize(
    ('name', 'precision', 'paired'),
    [
        ('discomkd', '16-mixed', False),
        ('discomkd', 'bf16-mixed', False),
        ('single_modal', '16-mixed', True),
        ('teacher', '16-mixed', True),
        ('student-kd', '16-mixed', True),
        ('student-dkd', '16-mixed', True),
        ('student-mlkd', '16-mixed', True),
    ],
)
def test_training_under_autocast(
    name: str, precision: str, paired: bool, tmp_path: Path
) -> None:
    task = _task(name, tmp_path)
    before = [p.detach().clone() for p in task.parameters()]
    probe = AutocastProbe()
    trainer = quiet_trainer(
        accelerator='cpu',
        plugins=[MixedPrecision(precision, 'cpu', scaler=_scaler(precision))],
        limit_val_batches=1,
        limit_test_batches=1,
        enable_checkpointing=False,
        callbacks=[probe],
    )
    data = SyntheticMSSARDataModule(
        batch_size=4, samples_per_class=10, size=32, paired=paired
    )
    trainer.fit(task, data)
    [metrics] = trainer.test(task, data, verbose=False)
    # The layers ran in the low precision, the losses and weights stayed float32.
    assert set(probe.dtypes) == {DTYPES[precision]}
    assert all(loss.dtype == torch.float32 for loss in probe.losses)
    assert all(torch.isfinite(loss) for loss in probe.losses)
    assert all(p.dtype == torch.float32 for p in task.parameters())
    assert any(
        not torch.equal(a, b) for a, b in zip(before, task.parameters(), strict=True)
    )
    assert all(0 <= v <= 1 for k, v in metrics.items() if 'loss' not in k)
