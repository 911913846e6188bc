"""Single-modal baseline, multi-modal teacher and distilled student tasks."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import seed_everything

from geokd.callbacks import ClassifierCheckpoints
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.tasks import (
    DisCoMKDTask,
    DistillationTask,
    MultiModalTeacherTask,
    PerClassifierTask,
    SingleModalTask,
    load_teacher,
)

from ..checkpoints import save_checkpoint
from ..trainers import quiet_trainer

BACKBONE = 'test_resnet'


def _batch(n: int = 6, size: int = 16) -> dict[str, torch.Tensor]:
    return {
        'image_ms': torch.randn(n, 13, size, size),
        'image_sar': torch.randn(n, 2, size, size),
        'label': torch.arange(n) % 10,
    }


def _teacher() -> MultiModalTeacherTask:
    return MultiModalTeacherTask({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE)


def _save(task: PerClassifierTask, path: Path) -> str:
    return save_checkpoint(path, task)


def test_single_modal_uses_only_its_sensor() -> None:
    task = SingleModalTask('sar', 2, 10, backbone=BACKBONE)
    assert task.modalities == ['sar']
    batch = _batch()
    del batch['image_ms']
    assert torch.isfinite(task._shared_step(batch, 'val'))
    probs = task.predict_step(batch, 0)['sar']
    torch.testing.assert_close(probs.sum(1), torch.ones(6))
    with pytest.raises(KeyError, match='image_sar'):
        task.logits({'image_ms': batch['label']})
    with pytest.raises(ValueError, match='class_names'):
        SingleModalTask('sar', 2, 10, backbone=BACKBONE, class_names=['a'])


def test_single_modal_defaults_and_deployable() -> None:
    task = SingleModalTask('ms', 13, 10, backbone=BACKBONE)
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults['lr'] == 1e-4
    [(name, classifier)] = task.deployable_classifiers().items()
    assert name == 'ms'
    assert classifier.module is task.model
    assert classifier.spec.architecture == 'linear'
    assert classifier.spec.in_channels == 13
    assert task.method_name == 'single-modal'


def test_multimodal_teacher_sums_features() -> None:
    task = _teacher()
    assert task.modalities == ['ms+sar']
    batch = _batch()
    task.eval()
    trunks = task.model.trunks
    expected = task.model.head(
        trunks['ms'](batch['image_ms']) + trunks['sar'](batch['image_sar'])
    )
    torch.testing.assert_close(task.logits(batch), expected)
    assert torch.isfinite(task._shared_step(batch, 'test'))
    with pytest.raises(KeyError, match='sar'):
        task.logits({'image_ms': batch['image_ms']})
    with pytest.raises(ValueError, match='two or more'):
        MultiModalTeacherTask({'ms': 13}, 10, backbone=BACKBONE)


@pytest.mark.parametrize(
    ('method', 'standardize'),
    [('kd', False), ('dkd', False), ('mlkd', False), ('kd', True), ('dkd', True)],
)
def test_student_trains_and_teacher_stays_frozen(
    tmp_path: Path, method: str, standardize: bool
) -> None:
    teacher = _teacher()
    ckpt = _save(teacher, tmp_path / 'teacher.ckpt')
    task = DistillationTask(
        'sar',
        2,
        10,
        ckpt,
        method=method,  # type: ignore[arg-type]
        logit_standardization=standardize,
        backbone=BACKBONE,
    )
    task.train()
    assert not task.teacher.training
    loss = task._shared_step(_batch(), 'train')
    loss.backward()
    assert all(p.grad is None for p in task.teacher.parameters())
    assert task.model[1].weight.grad is not None
    params = {
        id(p) for g in task.configure_optimizers().param_groups for p in g['params']
    }
    assert not params & {id(p) for p in task.teacher.parameters()}
    # The loaded teacher is the saved one.
    teacher.eval()
    batch = _batch()
    torch.testing.assert_close(task.teacher.logits(batch), teacher.logits(batch))


def test_dkd_warmup_follows_epoch(tmp_path: Path) -> None:
    ckpt = _save(_teacher(), tmp_path / 'teacher.ckpt')
    task = DistillationTask(
        'sar', 2, 10, ckpt, method='dkd', warmup_epochs=4, backbone=BACKBONE
    )
    student, teacher = torch.randn(4, 10), torch.randn(4, 10)
    labels = torch.arange(4)
    # Outside a trainer current_epoch is 0: the first epoch's factor, 1/4.
    full = DistillationTask(
        'sar', 2, 10, ckpt, method='dkd', warmup_epochs=1, backbone=BACKBONE
    )
    torch.testing.assert_close(
        task.distillation_loss(student, teacher, labels),
        full.distillation_loss(student, teacher, labels) / 4,
    )


def test_cross_modal_teacher(tmp_path: Path) -> None:
    ckpt = _save(SingleModalTask('ms', 13, 10, backbone=BACKBONE), tmp_path / 't.ckpt')
    task = DistillationTask(
        'sar',
        2,
        10,
        ckpt,
        teacher_class='geokd.tasks.SingleModalTask',
        backbone=BACKBONE,
    )
    assert torch.isfinite(task._shared_step(_batch(), 'train'))


def test_bad_teachers_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='no such checkpoint'):
        load_teacher(str(tmp_path / 'missing.ckpt'))
    garbage = tmp_path / 'garbage.ckpt'
    garbage.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='not a readable checkpoint'):
        load_teacher(str(garbage))
    ckpt = _save(SingleModalTask('ms', 13, 10, backbone=BACKBONE), tmp_path / 't.ckpt')
    with pytest.raises(ValueError, match='not a MultiModalTeacherTask'):
        load_teacher(ckpt, 'geokd.tasks.MultiModalTeacherTask')
    with pytest.raises(ValueError, match='cannot be imported'):
        load_teacher(ckpt, 'geokd.tasks.NoSuchTask')
    other = _save(
        MultiModalTeacherTask({'ms': 13, 'sar': 2}, 5, backbone=BACKBONE),
        tmp_path / 'five.ckpt',
    )
    with pytest.raises(ValueError, match='5 classes'):
        DistillationTask('sar', 2, 10, other, backbone=BACKBONE).setup('fit')
    with pytest.raises(ValueError, match='no logits'):
        load_teacher(
            _save(
                DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE),
                tmp_path / 'd.ckpt',
            )
        )


@pytest.mark.slow
def test_lightning_teacher_checkpoint_loads_weights_only(tmp_path: Path) -> None:
    seed_everything(0)
    teacher = _teacher()
    dm = SyntheticMSSARDataModule(batch_size=10, samples_per_class=10, size=16)
    trainer = quiet_trainer(tmp_path, callbacks=[ClassifierCheckpoints()])
    trainer.fit(teacher, dm)
    [best] = (tmp_path / 'checkpoints').glob('best-ms+sar-*.ckpt')
    student = DistillationTask('sar', 2, 10, str(best), backbone=BACKBONE)
    assert not student.teacher.training
    student_trainer = quiet_trainer(tmp_path / 'student')
    student_trainer.fit(student, dm)
    metrics = student_trainer.test(student, dm, verbose=False)[0]
    assert {'test_f1_sar', 'test_acc_sar', 'test_f1_macro_sar'} <= set(metrics)


def test_teacher_refuses_unpaired_batches() -> None:
    task = MultiModalTeacherTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet')
    unpaired = {
        'image_ms': torch.randn(2, 13, 16, 16),
        'label_ms': torch.tensor([0, 1]),
        'image_sar': torch.randn(2, 2, 16, 16),
        'label_sar': torch.tensor([2, 3]),
    }
    with pytest.raises(ValueError, match='needs paired batches'):
        task._shared_step(unpaired, 'train')
