"""DisCoM-KD segmentation task and its competitors (tiny encoders, OMBRIA fixture)."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import seed_everything

from geokd.callbacks import ClassifierCheckpoints
from geokd.datamodules import OMBRIASegmentationDataModule
from geokd.errors import UsageError
from geokd.tasks import (
    DisCoMKDSegmentationTask,
    MultiModalSegmentationTeacherTask,
    PixelKDSegmentationTask,
    SingleModalSegmentationTask,
    SingleModalTask,
)

from ..checkpoints import save_checkpoint
from ..trainers import quiet_trainer

TINY = {'encoder': 'tu-test_resnet', 'decoder_channels': [8, 8, 8, 8, 8]}
FIXTURE = Path(__file__).parents[1] / 'data' / 'ombria'


def _paired(n: int = 4, size: int = 32) -> dict[str, torch.Tensor]:
    mask = torch.randint(0, 2, (n, size, size))
    mask[0, :4] = -1  # some unlabelled pixels
    return {
        'image_ms': torch.randn(n, 3, size, size),
        'image_sar': torch.randn(n, 1, size, size),
        'mask': mask,
    }


def test_discomkd_step_paired_and_unpaired() -> None:
    task = DisCoMKDSegmentationTask({'ms': 3, 'sar': 1}, **TINY)
    loss = task.training_step(_paired(), 0)
    assert torch.isfinite(loss)
    loss.backward()
    batch = _paired()
    unpaired = {
        'image_ms': batch['image_ms'],
        'mask_ms': batch['mask'],
        'image_sar': batch['image_sar'][:3],
        'mask_sar': batch['mask'][:3],
    }
    assert torch.isfinite(task.training_step(unpaired, 0))


def test_discomkd_loss_terms_and_ablation_weights() -> None:
    task = DisCoMKDSegmentationTask({'ms': 3, 'sar': 1}, adv_weight=0.0, **TINY)
    batch = _paired()
    images = {m: batch[f'image_{m}'] for m in ('ms', 'sar')}
    outputs = task.model(images)
    terms = task._loss_terms(outputs, {'ms': batch['mask'], 'sar': batch['mask']})
    assert set(terms) == {'cl', 'aux', 'mod', 'adv', 'perp'}
    assert all(torch.isfinite(v) for v in terms.values())
    assert task.loss_weights.adv == 0.0


def test_metrics_count_labelled_pixels_only() -> None:
    task = SingleModalSegmentationTask('sar', 1, **TINY)
    mask = torch.tensor([[[1, 0], [-1, -1]]])
    # Right at both labelled pixels, wrong (flooded) where unlabelled.
    logits = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [1.0, 1.0]]]])
    task.log_metrics('val', 'sar', logits, mask)
    assert task.positive_metrics['val_sar'].compute()['val_iou_sar'] == 1.0
    assert task.metrics['val_sar'].compute()['val_acc_sar'] == 1.0
    wrong = logits.flip(1)
    task.log_metrics('test', 'sar', wrong, mask)
    assert task.positive_metrics['test_sar'].compute()['test_f1_sar'] == 0.0


def test_single_modal_uses_only_its_sensor_and_teacher_needs_pairs() -> None:
    task = SingleModalSegmentationTask('sar', 1, **TINY)
    batch = _paired()
    del batch['image_ms']
    assert task.logits(batch).shape == (4, 2, 32, 32)
    teacher = MultiModalSegmentationTeacherTask({'ms': 3, 'sar': 1}, **TINY)
    assert teacher.modalities == ['ms+sar']
    assert torch.isfinite(teacher.training_step(_paired(), 0))
    unpaired = {'image_ms': batch['image_sar'], 'mask_ms': batch['mask']}
    with pytest.raises(ValueError, match='paired'):
        teacher.training_step({**unpaired, 'image_sar': batch['image_sar']}, 0)


def test_teacher_predicts_per_pixel_probabilities_of_its_fused_segmenter() -> None:
    teacher = MultiModalSegmentationTeacherTask({'ms': 3, 'sar': 1}, **TINY).eval()
    with torch.no_grad():
        [(name, probs)] = teacher.predict_step(_paired(), 0).items()
    assert name == 'ms+sar'
    assert probs.shape == (4, 2, 32, 32)
    assert torch.allclose(probs.sum(dim=1), torch.ones(4, 32, 32))


def test_positive_class_must_be_a_class() -> None:
    with pytest.raises(UsageError, match='positive_class'):
        SingleModalSegmentationTask('sar', 1, positive_class=2, **TINY)


def test_pixel_kd_from_a_trained_teacher(tmp_path: Path) -> None:
    seed_everything(0)
    dm = OMBRIASegmentationDataModule(root=str(FIXTURE), patch_size=32, batch_size=8)
    trainer = quiet_trainer(tmp_path, callbacks=[ClassifierCheckpoints()])
    trainer.fit(SingleModalSegmentationTask('ms', 3, **TINY), dm)
    [best] = (tmp_path / 'checkpoints').glob('best-ms-*.ckpt')
    # A plain Trainer's checkpoint records no class: name it.
    student = PixelKDSegmentationTask(
        'sar',
        1,
        str(best),
        teacher_class='geokd.tasks.SingleModalSegmentationTask',
        **TINY,
    )
    assert not student.teacher.training
    teacher_weights = [p.clone() for p in student.teacher.parameters()]
    student_trainer = quiet_trainer(tmp_path / 'student')
    student_trainer.fit(student, dm)
    for before, after in zip(
        teacher_weights, student.teacher.parameters(), strict=True
    ):
        assert torch.equal(before, after)
    metrics = student_trainer.test(student, dm, verbose=False)[0]
    assert {'test_f1_sar', 'test_iou_sar', 'test_acc_sar'} <= set(metrics)


def test_pixel_kd_refuses_a_classifier_teacher(tmp_path: Path) -> None:
    classifier = SingleModalTask('ms', 3, 2, backbone='test_resnet')
    path = save_checkpoint(tmp_path / 'cls.ckpt', classifier)
    student = PixelKDSegmentationTask(
        'sar', 1, path, teacher_class='geokd.tasks.SingleModalTask', **TINY
    )
    with pytest.raises(ValueError, match='not a segmenter'):
        student.teacher  # noqa: B018


def test_test_table_of_segmenters_shows_iou() -> None:
    from geokd.callbacks.evaluation import format_results

    table = format_results(
        {
            'sar': {
                'checkpoint': None,
                'f1': 0.5,
                'iou': 0.25,
                'f1_macro': 0.6,
                'acc': 0.9,
            }
        }
    )
    assert 'IoU' in table
    assert '0.2500' in table
    assert 'weighted F1' not in table


def test_single_sensor_segmenters_are_deployable(tmp_path: Path) -> None:
    discomkd = DisCoMKDSegmentationTask({'ms': 3, 'sar': 1}, **TINY)
    assert {
        m: (d.spec.kind, d.spec.architecture)
        for m, d in discomkd.deployable_classifiers().items()
    } == {
        'ms': ('segmenter', 'discomkd_segmentation_branch'),
        'sar': ('segmenter', 'discomkd_segmentation_branch'),
    }
    baseline = SingleModalSegmentationTask('sar', 1, **TINY)
    [(name, unet)] = baseline.deployable_classifiers().items()
    assert (name, unet.spec.architecture, unet.module) == (
        'sar',
        'unet',
        baseline.model,
    )
    teacher = MultiModalSegmentationTeacherTask({'ms': 3, 'sar': 1}, **TINY)
    assert teacher.deployable_classifiers() == {}


def test_default_decoder_follows_a_shallower_encoder() -> None:
    task = DisCoMKDSegmentationTask(
        {'ms': 3, 'sar': 1}, encoder='tu-test_resnet', encoder_depth=3
    )
    teacher = MultiModalSegmentationTeacherTask(
        {'ms': 3, 'sar': 1}, encoder='tu-test_resnet', encoder_depth=3
    )
    batch = _paired(n=2, size=16)
    assert torch.isfinite(task.training_step(batch, 0))
    assert teacher.logits(batch).shape == (2, 2, 16, 16)


def test_validation_diagnostics_per_location() -> None:
    task = DisCoMKDSegmentationTask({'ms': 3, 'sar': 1}, **TINY).eval()
    with torch.no_grad():
        task.validation_step(_paired(), 0)
    assert 0.0 <= task.adv_acc.compute() <= 1.0
    assert 0.0 <= task.cos_inf_irr.compute() <= 1.0
    assert 0.0 <= task.cos_inf_inv.compute() <= 1.0
